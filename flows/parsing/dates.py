"""Dates as the page prints them: full (2020年12月22日) and month-day (12月22日)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

# Years outside this range are misreads; keeping them out also keeps date arithmetic
# far from date.min/date.max, so nothing downstream can overflow.
MIN_YEAR = 1900
MAX_YEAR = 2100
HALF_YEAR_DAYS = 182  # see nearest_date

FULL_DATE = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# Not preceded by 年 or a digit: those are the tail of a full date.
MONTH_DAY = re.compile(r"(?<![\d年])(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# Either form; group 1 (the year) is None for a month-day date.
ANY_DATE = re.compile(r"(?<!\d)(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def safe_date(year: int, month: int, day: int) -> date | None:
    """Return the date, or None when it does not exist or lies outside 1900..2100."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def nearest_date(month: int, day: int, ref: date) -> date | None:
    """Give a month-day the year that puts it nearest `ref` (12月28日 near 2021-01-05 -> 2020-12-28)."""
    # Fast path: in ref's own year and at most 182 days from it, the date is nearer than
    # the same month-day a year before or after (365 or 366 days from it, so at least 183
    # from ref): the only minimum of the candidates below. Most dates are within weeks.
    same_year = safe_date(ref.year, month, day)
    if same_year is not None and abs((same_year - ref).days) <= HALF_YEAR_DAYS:
        return same_year
    candidates = [d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := safe_date(y, month, day)) is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda d: abs((d - ref).days))


def full_dates(text: str) -> Iterator[date]:
    """Yield the valid full dates (2020年12月14日) in `text`."""
    for m in FULL_DATE.finditer(text):
        d = safe_date(int(m[1]), int(m[2]), int(m[3]))
        if d is not None:
            yield d


def month_days(text: str) -> Iterator[tuple[int, int]]:
    """Yield (month, day) of the month-day dates (12月22日) in `text` that carry no year."""
    for m in MONTH_DAY.finditer(text):
        yield int(m[1]), int(m[2])


def first_date(text: str, ref: date | None) -> date | None:
    """Return the first date in `text`, a missing year taken from the one nearest `ref`."""
    if "月" not in text:  # every date has one: a search would scan such a text in vain
        return None
    m = ANY_DATE.search(text)
    if m is None:
        return None
    month, day = int(m[2]), int(m[3])
    if m[1] is not None:
        return safe_date(int(m[1]), month, day)
    return nearest_date(month, day, ref) if ref is not None else None
