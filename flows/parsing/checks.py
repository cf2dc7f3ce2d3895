"""Checks on Zhumadian's bulletins (and helpers other formats share); a failed check is
recorded by name in Bulletin.failed_checks. Other formats keep their checks in their module.

The names are stable (the warehouse keys on them). In the order they are recorded:

- ``period_parsed``: the week's start and end were read, start <= end, at most 31 days apart.
- ``period_matches_format``: the period is what the format publishes (zhumadian_weekly: a
  week, Monday to Sunday): a misprinted 8-day period would make a second week overlapping
  the real one and count its cases twice.
- ``period_before_issue``: the period ends on or before the issue date and starts at most
  ``MAX_ISSUE_LAG_DAYS`` before it (a misprinted year); not run when the issue date is
  unknown.
- ``text_intact``: no character of the lines the figures are read from (the summary and
  the tables) was undecodable (U+FFFD, or a private-use character as GB18030 makes of
  garbage): a damaged byte could have been a digit (48\ufffd52 must not be read as 52).
  Bad bytes elsewhere on the page, the bulletin's title included, only add a note.
- ``figures_present``: every headline figure was read: received, due, closed, in_progress,
  overdue, disputed, closure_rate_published, linked_units, overdue_units (as_of is not
  required).
- ``numbers_well_formed``: every figure and table cell is a plain count of at most 9
  digits: a number split by a space (``4 852件``), signed (``-176件``), with a separator or
  a decimal point, or a table row with more numbers than columns fails it. Such a number
  is not read at all (None), so no wrong value is kept.
- ``components_sum_to_due``: closed + in_progress + overdue + disputed == due.
- ``closure_rate_matches``: closed / due as a percentage, rounded half-up to the printed
  number of decimals, equals the printed rate (5184 / 5723 -> 90.58%); fails when due is 0.
- ``units_sum_to_overdue``: the unit rows' unresolved add up to overdue.
- ``unit_count_matches``: the number of unit rows equals overdue_units.
- ``unresolved_le_dispatched``: unresolved <= dispatched in every unit row.
- ``units_unique``: no unit is listed twice (names compared after normalize_name).
- ``table_complete``: every unit row has both numbers, every table ends with the issuing
  body's signature (a page cut off mid-table has none after its last table), and a table
  is there when overdue_units > 0.

A check whose inputs were not read (a missing figure, a row with a missing cell) is not
run: ``figures_present`` or ``table_complete`` already fails for them.

What each failed check compared is in `flows.parsing.check_details`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin

MAX_PERIOD_DAYS = 31
# A bulletin reports a past week; a correction can come weeks later, a misprinted year
# (365 days off) cannot pass.
MAX_ISSUE_LAG_DAYS = 90
DECIMAL_CONTEXT = Context(prec=40)  # exact for any 9-digit count

HEADLINE_FIGURES = (
    "received",
    "due",
    "closed",
    "in_progress",
    "overdue",
    "disputed",
    "closure_rate_published",
    "linked_units",
    "overdue_units",
)


def period_parsed(b: Bulletin) -> bool:
    """Say whether the period was read and spans 0..31 days."""
    if b.period_start is None or b.period_end is None:
        return False
    return 0 <= (b.period_end - b.period_start).days <= MAX_PERIOD_DAYS


@dataclass(frozen=True, slots=True)
class PeriodRule:
    """The period a format publishes: its length in days and the weekday it starts on."""

    days: int  # end - start + 1
    start_weekday: int | None = None  # date.weekday(): 0 = Monday; None: any


WEEK_MONDAY_TO_SUNDAY = PeriodRule(days=7, start_weekday=0)


def period_matches_format(b: Bulletin, rule: PeriodRule | None) -> bool | None:
    """Say whether the period has the format's length and starting weekday."""
    if rule is None or b.period_start is None or b.period_end is None:
        return None
    if (b.period_end - b.period_start).days + 1 != rule.days:
        return False
    return rule.start_weekday is None or b.period_start.weekday() == rule.start_weekday


def period_before_issue(b: Bulletin, issue_date: date | None) -> bool | None:
    """Say whether the period ends by the issue date and starts at most MAX_ISSUE_LAG_DAYS before it."""
    if issue_date is None or b.period_start is None or b.period_end is None:
        return None
    return b.period_end <= issue_date and (issue_date - b.period_start).days <= MAX_ISSUE_LAG_DAYS


def figures_present(b: Bulletin) -> bool:
    """Say whether every headline figure was read."""
    return all(getattr(b, name) is not None for name in HEADLINE_FIGURES)


def components_sum_to_due(b: Bulletin) -> bool | None:
    """Say whether closed + in_progress + overdue + disputed == due."""
    parts = (b.closed, b.in_progress, b.overdue, b.disputed)
    if b.due is None or any(p is None for p in parts):
        return None
    return sum(p for p in parts if p is not None) == b.due


def rate_matches(rate: Decimal, numerator: int, denominator: int) -> bool:
    """Say whether numerator / denominator, rounded half-up like the printed rate, equals it.

    `rate` is 0..1 with the printed precision: Decimal("0.9058") was printed 90.58%.

    >>> rate_matches(Decimal("0.9058"), 5184, 5723), rate_matches(Decimal("0.94"), 15, 16)
    (True, True)
    """
    if denominator == 0:
        return False
    percent = rate.scaleb(2)  # 0.9058 -> 90.58, keeping the printed exponent
    step = Decimal(1).scaleb(min(0, percent.as_tuple().exponent))  # type: ignore[arg-type]
    computed = DECIMAL_CONTEXT.divide(Decimal(numerator) * 100, Decimal(denominator))
    return computed.quantize(step, rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT) == percent


def closure_rate_matches(b: Bulletin) -> bool | None:
    """Say whether closed / due, rounded like the printed rate, equals it."""
    rate, closed, due = b.closure_rate_published, b.closed, b.due
    if rate is None or closed is None or due is None:
        return None
    return rate_matches(rate, closed, due)


def units_sum_to_overdue(b: Bulletin) -> bool | None:
    """Say whether the rows' unresolved add up to overdue."""
    unresolved = [u.unresolved for u in b.units]
    if b.overdue is None or any(u is None for u in unresolved):
        return None
    return sum(u for u in unresolved if u is not None) == b.overdue


def unit_count_matches(b: Bulletin) -> bool | None:
    """Say whether there are as many rows as overdue_units."""
    return None if b.overdue_units is None else len(b.units) == b.overdue_units


def unresolved_le_dispatched(b: Bulletin) -> bool:
    """Say whether no row has more unresolved than dispatched cases."""
    return all(u.unresolved <= u.dispatched for u in b.units if u.unresolved is not None and u.dispatched is not None)


def units_unique(b: Bulletin) -> bool:
    """Say whether every unit is listed once."""
    names = [normalize_name(u.unit_name_raw) for u in b.units]
    return len(names) == len(set(names))


def table_complete(b: Bulletin, tables_closed: bool) -> bool:
    """Say whether every row is whole, the tables are closed and present when needed."""
    if not tables_closed:
        return False
    if any(u.dispatched is None or u.unresolved is None for u in b.units):
        return False
    return bool(b.units) or not b.overdue_units


# The checks that need nothing but the bulletin, after period_* and figures_present.
CHECKS: tuple[tuple[str, Callable[[Bulletin], bool | None]], ...] = (
    ("components_sum_to_due", components_sum_to_due),
    ("closure_rate_matches", closure_rate_matches),
    ("units_sum_to_overdue", units_sum_to_overdue),
    ("unit_count_matches", unit_count_matches),
    ("unresolved_le_dispatched", unresolved_le_dispatched),
    ("units_unique", units_unique),
)


# Every check's name, in the order failed_checks records them (the warehouse keys on them).
CHECK_NAMES: tuple[str, ...] = (
    "period_parsed",
    "period_matches_format",
    "period_before_issue",
    "text_intact",
    "figures_present",
    "numbers_well_formed",
    *(name for name, _ in CHECKS),
    "table_complete",
)


def failed_checks(
    b: Bulletin,
    *,
    tables_closed: bool,
    malformed_numbers: int = 0,
    period: PeriodRule | None = None,
    issue_date: date | None = None,
    text_intact: bool = True,
) -> tuple[str, ...]:
    """Return the names of the checks `b` fails, in the documented order.

    From the format: `tables_closed` (False when a table has no signature after it),
    `malformed_numbers` (numbers it saw but could not read as a count), `period` (the
    period it publishes), `text_intact` (no undecodable character in the bulletin);
    `issue_date` from the page.
    """
    failed = []
    if period_parsed(b) is False:
        failed.append("period_parsed")
    if period_matches_format(b, period) is False:
        failed.append("period_matches_format")
    if period_before_issue(b, issue_date) is False:
        failed.append("period_before_issue")
    if not text_intact:
        failed.append("text_intact")
    if figures_present(b) is False:
        failed.append("figures_present")
    if malformed_numbers:
        failed.append("numbers_well_formed")
    failed += [name for name, check in CHECKS if check(b) is False]
    if not table_complete(b, tables_closed):
        failed.append("table_complete")
    return tuple(failed)
