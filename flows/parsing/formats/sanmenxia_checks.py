"""The checks of Sanmenxia's report (their names and meaning: sanmenxia_weekly's docstring),
and what each failed one compared, with its numbers and lines.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from flows.parsing import checks
from flows.parsing.check_details import UNITS_NAMED
from flows.parsing.formats.sanmenxia_tables import ANNOUNCES_TABLE, REQUIRED_ROLES, Report, summary_counts
from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin

CHECK_NAMES: tuple[str, ...] = (
    "period_parsed",
    "period_matches_format",
    "figures_present",
    "channels_sum_to_total",
    "rows_add_up",
    "row_rates_match",
    "totals_match_rows",
    "totals_match_summary",
    "unresolved_le_dispatched",
    "units_unique",
    "table_complete",
)


def is_calendar_month(start: date | None, end: date | None) -> bool | None:
    """Say whether start..end is one calendar month (None when either is unknown)."""
    if start is None or end is None:
        return None
    return (
        start.day == 1
        and (end.year, end.month) == (start.year, start.month)
        and end.day == calendar.monthrange(end.year, end.month)[1]
    )


def failed_checks(report: Report, draft: Bulletin) -> tuple[str, ...]:
    """Run the checks (module docstring) and return the failed ones' names, in order."""
    tables = [table for channel in report.channels for table in channel.tables]
    all_rows = [row for table in tables for row in [*table.rows, *([table.total] if table.total else [])]]
    whole = [row for row in all_rows if row.whole]
    failed: dict[str, bool] = {}
    failed["period_parsed"] = not checks.period_parsed(draft)
    failed["period_matches_format"] = (
        draft.period_kind == "month" and is_calendar_month(draft.period_start, draft.period_end) is False
    )
    failed["figures_present"] = report.opening_total is None or not report.breakdown
    failed["channels_sum_to_total"] = (
        report.opening_total is not None and bool(report.breakdown) and sum(report.breakdown) != report.opening_total
    )
    failed["rows_add_up"] = any(
        r.closed + r.unresolved != r.dispatched
        for r in whole
        if r.closed is not None and r.unresolved is not None and r.dispatched is not None
    )
    failed["row_rates_match"] = any(
        not checks.rate_matches(r.rate, r.closed, r.dispatched)
        for r in whole
        if r.rate is not None and r.closed is not None and r.dispatched  # 0 dispatched: nothing to check
    )
    failed["totals_match_rows"] = any(
        (table.total.dispatched, table.total.closed, table.total.unresolved)
        != tuple(_sum(getattr(r, role) for r in table.rows) for role in ("dispatched", "closed", "unresolved"))
        for table in tables
        if table.total is not None and table.total.whole and all(r.whole for r in table.rows)
    )
    failed["totals_match_summary"] = any(
        printed - {getattr(table.total, role)}
        for channel in report.channels
        for table in channel.tables
        if table.total is not None and table.total.whole
        for role, printed in summary_counts(channel).items()
    )
    failed["unresolved_le_dispatched"] = not checks.unresolved_le_dispatched(draft)
    failed["units_unique"] = any(
        len({normalize_name(r.name) for r in table.rows}) != len(table.rows) for table in tables
    )
    failed["table_complete"] = (
        any(table.total is None or not set(table.roles) >= REQUIRED_ROLES for table in tables)
        or not all(row.whole for row in all_rows)
        or any(not c.tables for c in report.channels if any(ANNOUNCES_TABLE in p for p in c.prose))
    )
    return tuple(name for name in CHECK_NAMES if failed[name])


def _first(found: Sequence[str]) -> str:
    """The first few findings of a check, then how many more."""
    more = f"; and {len(found) - UNITS_NAMED} more" if len(found) > UNITS_NAMED else ""
    return "; ".join(found[:UNITS_NAMED]) + more


def check_details(report: Report, draft: Bulletin, failed: Sequence[str]) -> tuple[str, ...]:
    """One line per failed check (`name: what it compared`, with the table lines), in `failed`'s order."""
    tables = [(channel, table) for channel in report.channels for table in channel.tables]
    rows = [row for _, t in tables for row in [*t.rows, *([t.total] if t.total else [])]]
    whole = [r for r in rows if r.whole and None not in (r.dispatched, r.closed, r.unresolved)]
    found: dict[str, list[str]] = {name: [] for name in failed}
    if "period_parsed" in found or "period_matches_format" in found:
        period = f"{draft.period_start}..{draft.period_end}" if draft.period_start else "no period read"
        found.setdefault("period_parsed", []).append(f"{period} from the title (line {draft.line_start})")
        found.setdefault("period_matches_format", []).append(f"{period} is not one calendar month")
    if "figures_present" in found:
        missing = ["the opening total (共处理案件)"] if report.opening_total is None else []
        found["figures_present"] = missing + ([] if report.breakdown else ["its breakdown by channel (其中...)"])
    if "channels_sum_to_total" in found:
        parts = " + ".join(map(str, report.breakdown))
        found["channels_sum_to_total"].append(
            f"channels sum to {parts} = {sum(report.breakdown)}, the report prints 共处理案件 {report.opening_total}"
        )
    for r in whole:
        assert r.dispatched is not None and r.closed is not None and r.unresolved is not None
        if r.closed + r.unresolved != r.dispatched and "rows_add_up" in found:
            found["rows_add_up"].append(
                f"{r.name}: 完成数 {r.closed} + 未完成数 {r.unresolved} = {r.closed + r.unresolved}, "
                f"派遣数 {r.dispatched} (line {r.line_no})"
            )
        if (
            "row_rates_match" in found
            and r.rate is not None
            and r.dispatched
            and not checks.rate_matches(r.rate, r.closed, r.dispatched)
        ):
            computed = Decimal(r.closed * 100) / Decimal(r.dispatched)
            found["row_rates_match"].append(
                f"{r.name}: {r.closed} / {r.dispatched} = {computed:.2f}%, printed "
                f"{r.rate.scaleb(2).normalize():f}% (line {r.line_no})"
            )
    for channel, t in tables:
        if t.total is None or not t.total.whole:
            continue
        sums = {role: _sum(getattr(r, role) for r in t.rows) for role in ("dispatched", "closed", "unresolved")}
        printed = {role: getattr(t.total, role) for role in sums}
        if "totals_match_rows" in found and all(r.whole for r in t.rows) and sums != printed:
            found["totals_match_rows"].append(
                f"{channel.name or 'table'}: rows sum to {'/'.join(map(str, sums.values()))}, 合计 prints "
                f"{'/'.join(map(str, printed.values()))} (派遣/完成/未完成, line {t.total.line_no})"
            )
        for role, numbers in summary_counts(channel).items():
            if "totals_match_summary" in found and numbers - {printed[role]}:
                found["totals_match_summary"].append(
                    f"{channel.name}: 合计 {role} {printed[role]} (line {t.total.line_no}), "
                    f"the text prints {', '.join(map(str, sorted(numbers)))}"
                )
        if "units_unique" in found:
            names = [normalize_name(r.name) for r in t.rows]
            twice = sorted({r.name for r in t.rows if names.count(normalize_name(r.name)) > 1})
            found["units_unique"] += [f"{channel.name}: {name} listed twice" for name in twice]
    if "unresolved_le_dispatched" in found:
        found["unresolved_le_dispatched"] = [
            f"{u.unit_name_raw}: unresolved {u.unresolved} > dispatched {u.dispatched} (line {u.line_no})"
            for u in draft.units
            if u.unresolved is not None and u.dispatched is not None and u.unresolved > u.dispatched
        ]
    if "table_complete" in found:
        for channel, t in tables:
            where = f"{channel.name or 'table'} (line {t.rows[0].line_no if t.rows else draft.line_start})"
            if t.total is None:
                found["table_complete"].append(f"{where}: no 合计 row (the page may be cut off)")
            if not set(t.roles) >= REQUIRED_ROLES:
                found["table_complete"].append(
                    f"{where}: the header lacks {', '.join(sorted(REQUIRED_ROLES - set(t.roles)))}"
                )
        found["table_complete"] += [
            f"{r.name}: a cell missing or unreadable (line {r.line_no})" for r in rows if not r.whole
        ]
        found["table_complete"] += [
            f"{c.name}: announces a table (完成情况如下) but has none"
            for c in report.channels
            if not c.tables and any(ANNOUNCES_TABLE in p for p in c.prose)
        ]
    return tuple(f"{name}: {_first(found[name])}" if found[name] else name for name in failed)


def _sum(values: Iterable[int | None]) -> int | None:
    """Sum counts; None when one is missing."""
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total
