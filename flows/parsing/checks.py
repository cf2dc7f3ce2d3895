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

Every failed check also says what is wrong (`run_checks`, Bulletin.check_details): the
numbers it compared and the lines they were printed on, e.g. ``units_sum_to_overdue: rows
sum to 41 (lines 101-114), the bulletin prints 38 (line 95)``. The lines come from the
format (`Where`); a figure whose line is unknown is quoted without one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin, BulletinUnitRow

MAX_PERIOD_DAYS = 31
# A bulletin reports a past week; a correction can come weeks later, a misprinted year
# (365 days off) cannot pass.
MAX_ISSUE_LAG_DAYS = 90
_DECIMAL = Context(prec=40)

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
    computed = _DECIMAL.divide(Decimal(numerator) * 100, Decimal(denominator))
    return computed.quantize(step, rounding=ROUND_HALF_UP, context=_DECIMAL) == percent


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


# --------------------------------------------------------------------------- what a failed check saw

UNITS_NAMED = 3  # rows named in a detail; the rest counted


@dataclass(frozen=True, slots=True)
class Where:
    """Where a format read what the checks compare: the lines quoted in their details."""

    figures: Mapping[str, int] = field(default_factory=dict)  # figure name, or "period" -> 1-based line
    damaged_lines: tuple[int, ...] = ()  # lines with an undecodable character
    malformed_lines: tuple[int, ...] = ()  # lines printing a number that is not a plain count
    last_table_line: int | None = None  # the last table line (where a signature should follow)


def _at(where: Where, name: str) -> str:
    """` (line N)` where the figure was printed, or ''."""
    line = where.figures.get(name)
    return f" (line {line})" if line is not None else ""


def _lines(numbers: Sequence[int]) -> str:
    """`line 7`, `lines 7, 9, 12` (at most UNITS_NAMED), else the range they lie in: `lines 101-114`.

    >>> _lines([101]), _lines([101, 109]), _lines([101, 102, 103, 108, 109])
    ('line 101', 'lines 101, 109', 'lines 101-109')
    """
    ordered = sorted(set(numbers))
    if len(ordered) == 1:
        return f"line {ordered[0]}"
    if len(ordered) <= UNITS_NAMED:
        return "lines " + ", ".join(map(str, ordered))
    return f"lines {ordered[0]}-{ordered[-1]}"


def _rows_at(units: Sequence[BulletinUnitRow]) -> str:
    return f" ({_lines([u.line_no for u in units])})" if units else ""


def _percent(value: Decimal) -> str:
    return f"{value.scaleb(2).normalize():f}%"


def _period(b: Bulletin) -> str:
    return f"{b.period_start}..{b.period_end}"


def _detail(
    name: str,
    b: Bulletin,
    *,
    where: Where,
    tables_closed: bool,
    malformed_numbers: int,
    period: PeriodRule | None,
    issue_date: date | None,
) -> str:
    """What a failed check compared, in one line (without its name)."""
    if name == "period_parsed":
        if b.period_start is None or b.period_end is None:
            return f"no period read{_at(where, 'period')}"
        return f"the period {_period(b)} spans {(b.period_end - b.period_start).days + 1} days{_at(where, 'period')}"
    if name == "period_matches_format" and period is not None and b.period_start and b.period_end:
        weekday = "" if period.start_weekday is None else f", starting on weekday {period.start_weekday + 1}"
        return (
            f"the period {_period(b)} is {(b.period_end - b.period_start).days + 1} days from weekday "
            f"{b.period_start.isoweekday()}, the format publishes {period.days} days{weekday}{_at(where, 'period')}"
        )
    if name == "period_before_issue" and b.period_start and b.period_end and issue_date:
        return (
            f"the period {_period(b)} is not within {MAX_ISSUE_LAG_DAYS} days before the issue date "
            f"{issue_date}{_at(where, 'period')}"
        )
    if name == "text_intact":
        return (
            f"an undecodable character on {_lines(where.damaged_lines)}"
            if where.damaged_lines
            else "an undecodable character"
        )
    if name == "figures_present":
        missing = [f for f in HEADLINE_FIGURES if getattr(b, f) is None]
        return f"not read: {', '.join(missing)}"
    if name == "numbers_well_formed":
        at = f" on {_lines(where.malformed_lines)}" if where.malformed_lines else ""
        return f"{malformed_numbers} number(s) printed that are not plain counts{at}"
    if name == "components_sum_to_due":
        parts = (b.closed, b.in_progress, b.overdue, b.disputed)
        total = sum(p or 0 for p in parts)
        shown = " + ".join(str(p) for p in parts)
        return (
            f"closed + in_progress + overdue + disputed = {shown} = {total}, "
            f"the bulletin prints due {b.due}{_at(where, 'due')}"
        )
    if name == "closure_rate_matches" and b.closure_rate_published is not None:
        printed = f"the bulletin prints {_percent(b.closure_rate_published)}{_at(where, 'closure_rate_published')}"
        if not b.due:
            return f"due is {b.due}: no rate to compare, {printed}"
        computed = _DECIMAL.divide(Decimal(b.closed or 0) * 100, Decimal(b.due))
        step = Decimal(1).scaleb(min(0, b.closure_rate_published.scaleb(2).as_tuple().exponent))  # type: ignore[arg-type]
        rounded = computed.quantize(step, rounding=ROUND_HALF_UP, context=_DECIMAL)
        return f"closed / due = {b.closed} / {b.due} = {rounded}%, {printed}"
    if name == "units_sum_to_overdue":
        total = sum(u.unresolved or 0 for u in b.units)
        return f"rows sum to {total}{_rows_at(b.units)}, the bulletin prints {b.overdue}{_at(where, 'overdue')}"
    if name == "unit_count_matches":
        return (
            f"{len(b.units)} unit rows{_rows_at(b.units)}, the bulletin prints "
            f"{b.overdue_units} units{_at(where, 'overdue_units')}"
        )
    if name == "unresolved_le_dispatched":
        over = [
            u for u in b.units if u.unresolved is not None and u.dispatched is not None and u.unresolved > u.dispatched
        ]
        named = "; ".join(
            f"{u.unit_name_raw}: unresolved {u.unresolved} > dispatched {u.dispatched} (line {u.line_no})"
            for u in over[:UNITS_NAMED]
        )
        return named + (f"; and {len(over) - UNITS_NAMED} more" if len(over) > UNITS_NAMED else "")
    if name == "units_unique":
        by_name: dict[str, list[BulletinUnitRow]] = {}
        for u in b.units:
            by_name.setdefault(normalize_name(u.unit_name_raw), []).append(u)
        twice = [rows for rows in by_name.values() if len(rows) > 1]
        return "; ".join(
            f"{rows[0].unit_name_raw} listed {len(rows)} times ({_lines([u.line_no for u in rows])})"
            for rows in twice[:UNITS_NAMED]
        )
    if name == "table_complete":
        gaps = [u for u in b.units if u.dispatched is None or u.unresolved is None]
        problems = []
        if gaps:
            problems.append(f"{len(gaps)} row(s) lack a number ({_lines([u.line_no for u in gaps])})")
        if not tables_closed:
            after = f" after line {where.last_table_line}" if where.last_table_line is not None else ""
            problems.append(f"a table has no signature{after} (the page may be cut off)")
        if not b.units and b.overdue_units:
            problems.append(f"no unit table, the bulletin prints {b.overdue_units} units{_at(where, 'overdue_units')}")
        return "; ".join(problems)
    return ""


def describe_failures(
    b: Bulletin,
    failed: Sequence[str],
    *,
    where: Where | None = None,
    tables_closed: bool = True,
    malformed_numbers: int = 0,
    period: PeriodRule | None = None,
    issue_date: date | None = None,
) -> tuple[str, ...]:
    """One line per failed check, `name: what it compared`, in `failed`'s order."""
    seen = where or Where()
    details = []
    for name in failed:
        detail = _detail(
            name,
            b,
            where=seen,
            tables_closed=tables_closed,
            malformed_numbers=malformed_numbers,
            period=period,
            issue_date=issue_date,
        )
        details.append(f"{name}: {detail}" if detail else name)
    return tuple(details)


def run_checks(
    b: Bulletin,
    *,
    tables_closed: bool,
    malformed_numbers: int = 0,
    period: PeriodRule | None = None,
    issue_date: date | None = None,
    text_intact: bool = True,
    where: Where | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`failed_checks`, and what each failed check compared (`describe_failures`)."""
    failed = failed_checks(
        b,
        tables_closed=tables_closed,
        malformed_numbers=malformed_numbers,
        period=period,
        issue_date=issue_date,
        text_intact=text_intact,
    )
    details = describe_failures(
        b,
        failed,
        where=where,
        tables_closed=tables_closed,
        malformed_numbers=malformed_numbers,
        period=period,
        issue_date=issue_date,
    )
    return failed, details
