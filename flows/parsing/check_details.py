"""What a failed check compared (Bulletin.check_details), and the checks run with it.

Every failed check also says what is wrong (`run_checks`, Bulletin.check_details): the
numbers it compared and the lines they were printed on, e.g. ``units_sum_to_overdue: rows
sum to 41 (lines 101-114), the bulletin prints 38 (line 95)``. The lines come from the
format (`Where`); a figure whose line is unknown is quoted without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flows.parsing.checks import (
    DECIMAL_CONTEXT,
    HEADLINE_FIGURES,
    MAX_ISSUE_LAG_DAYS,
    PeriodRule,
    failed_checks,
)
from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin, BulletinUnitRow

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
        computed = DECIMAL_CONTEXT.divide(Decimal(b.closed or 0) * 100, Decimal(b.due))
        step = Decimal(1).scaleb(min(0, b.closure_rate_published.scaleb(2).as_tuple().exponent))  # type: ignore[arg-type]
        rounded = computed.quantize(step, rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT)
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
