"""The issue's date: from the file name, else a date line on the page, else inferred.

A date line is the newspaper's "2020年12月23日 星期三", or a web page's publication line
"发布日期: 2021-03-16 09:54" or "信息时间:2021-11-09" (other cities' bulletins are web pages).

A date after `not_after` (the day after the file was first seen) is never believed: an
undated page that mentions 2090年1月1日 must not outrank every real printing of its week.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from flows.parsing.dates import full_dates, month_days, nearest_date, safe_date
from flows.parsing.normalize import Line
from flows.parsing.reasons import ISSUE_DATE
from flows.parsing.records import IssueDateSource

# Dates as people write them in file names (after NFKC: full-width digits fold), in any
# position: 2021年3月10日 / 2021年03月10日, 2021-03-10 / 2021_03_10 / 2021.3.10 (one
# separator both times, month and day of one or two digits), and 20210310. None inside a
# longer run of letters or digits: a content hash like 3e19ef32d54e8472, a phone number
# like 13920210310 or a version like v2021.3.10 must not yield a date.
_NAME_DATES = re.compile(
    r"(?<![0-9A-Za-z])((?:19|20)\d{2})(?:"
    r"\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"  # 2021年3月10日
    r"|([-_.])(\d{1,2})\4(\d{1,2})(?![0-9A-Za-z])"  # 2021-03-10, 2021.3.10
    r"|(\d{2})(\d{2})(?![0-9A-Za-z])"  # 20210310
    r")"
)
# 第20210310期 is an issue number (期号) that reads as a date: not one.
_ISSUE_NUMBER_BEFORE = re.compile(r"第\s*$")
_ISSUE_NUMBER_AFTER = re.compile(r"^\s*[期号]")
# "2020年12月23日 星期三" on its own line (maybe with more after a space: 农历..., 第3版).
_DATE_LINE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(?:星期|周)[一二三四五六日天])?(?:\s+[^~,]{0,30})?"
)
# A web page's publication line: "发布日期: 2021-03-16 09:54", "【信息时间:2021-11-09 09:34 ..."
# (after NFKC).
_PUBLISHED_LINE = re.compile(r"(?:发布|信息)(?:日期|时间)\s*:\s*(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
DATE_LINE_WITHIN = 10  # a date line counts only among the first non-blank lines


def name_dates(file_name: str) -> list[date]:
    """Every valid date written in a file name, in the order they appear.

    >>> name_dates("驻马店日报2021年3月10日第2版.txt"), name_dates("第20210310期.txt")
    ([datetime.date(2021, 3, 10)], [])
    """
    name = unicodedata.normalize("NFKC", file_name)
    found: list[date] = []
    for m in _NAME_DATES.finditer(name):
        if m[7] is not None and (
            _ISSUE_NUMBER_BEFORE.search(name, 0, m.start()) or _ISSUE_NUMBER_AFTER.match(name[m.end() :])
        ):
            continue  # 第20210310期: an issue number
        month, day = (m[2], m[3]) if m[2] else (m[5], m[6]) if m[4] else (m[7], m[8])
        if (d := safe_date(int(m[1]), int(month), int(day))) is not None:
            found.append(d)
    return found


def from_file_name(file_name: str) -> date | None:
    """The issue date a file name gives: its date, or the latest of its dates.

    A name with two dates (`周报2021.3.1-2021.3.7_2021年3月10日.txt`) most often names the
    period it reports and the day it was issued, which comes after the period: the latest.
    """
    found = name_dates(file_name)
    return max(found) if found else None


def read_date_line(text: str) -> date | None:
    """Read a line that is only a date ("2020年12月23日 星期三"), else None."""
    m = _DATE_LINE.fullmatch(text)
    return safe_date(int(m[1]), int(m[2]), int(m[3])) if m else None


def read_published_line(text: str) -> date | None:
    """Read a web page's "发布日期: 2021-03-16 09:54" line, else None."""
    m = _PUBLISHED_LINE.search(text)
    return safe_date(int(m[1]), int(m[2]), int(m[3])) if m else None


def from_date_line(lines: Sequence[Line]) -> date | None:
    """Read a date line (or a web page's 发布日期 line) near the top of the page."""
    texts = [line.text for line in lines if not line.blank][:DATE_LINE_WITHIN]
    for text in texts:
        if (d := read_date_line(text)) is not None or (d := read_published_line(text)) is not None:
            return d
    return None


def inferred(lines: Sequence[Line], not_after: date | None = None) -> date | None:
    """Return the latest date the page mentions; month-days take the year nearest the latest full date.

    Dates after `not_after` are left out, before and after month-days get their year.
    """
    text = "\n".join(line.text for line in lines)
    full = [d for d in full_dates(text) if not_after is None or d <= not_after]
    if not full:
        return None
    latest_full = max(full)
    resolved = (nearest_date(month, day, latest_full) for month, day in month_days(text))
    return max([latest_full, *(d for d in resolved if d is not None and (not_after is None or d <= not_after))])


def issue_date(
    file_name: str, lines: Sequence[Line], not_after: date | None = None
) -> tuple[date | None, IssueDateSource | None, tuple[str, ...]]:
    """Find the issue date, say where it came from, and warn of dates not believed."""
    warnings = []
    if (found := from_file_name(file_name)) is not None:
        if not_after is None or found <= not_after:
            return found, "file_name", ()
        warnings.append(f"{ISSUE_DATE}{found} in the file name is after the file was first seen: not used")
    if (found := from_date_line(lines)) is not None:
        if not_after is None or found <= not_after:
            return found, "page", tuple(warnings)
        warnings.append(f"{ISSUE_DATE}{found} on the page is after the file was first seen: not used")
    if (found := inferred(lines, not_after)) is not None:
        return found, "inferred", tuple(warnings)
    return None, None, tuple(warnings)
