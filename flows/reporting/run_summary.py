"""The run's artifacts as text: the summary in markdown, the latest week's unit table in Chinese.

Pure text building over what the readers return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from flows.reporting import labels as L
from flows.text.escape import markdown
from flows.text.redact import redact
from flows.warehouse.db import connection
from flows.warehouse.readers import (
    CityWeek,
    LeftOutBulletin,
    UnitWeekRow,
    bulletins_left_out,
    files_by_status,
    gone_from_inbox,
    group_order,
    latest_city_weeks,
    report_cities,
    resolve_week,
    unit_weeks,
)
from flows.warehouse.summary import RunSummary

# At most this many bulletins are listed in the summary; the rest are counted.
MAX_LEFT_OUT_ROWS = 50


def _cell(value: Any) -> str:
    """A value from the warehouse or the run as Markdown text: no link, HTML or cell break."""
    return "" if value is None else markdown(str(value))


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return "unknown"
    return f"{start} to {end}" if end is not None else str(start)


def build_summary_markdown(
    run_line: str,
    file_counts: Mapping[str, int],
    left_out: Sequence[LeftOutBulletin] | None,
    cities: Sequence[CityWeek],
    warnings: Sequence[str] = (),
    reports: Sequence[str] = (),
    run_problems: Sequence[str] = (),
) -> str:
    """The `bulletin-etl-summary` markdown, from what the readers return.

    `left_out` None means no `core.bulletins` yet; `cities` empty means no marts yet;
    `run_problems` are this run's entries that are partial, quarantined or skipped.
    """
    lines = ["# bulletin-etl run", "", f"This run: {_cell(run_line)}", ""]
    if warnings:
        lines += ["## Warnings", ""]
        lines += [f"- **warning**: {_cell(redact(w))}" for w in warnings]  # a webhook's URL among them
        lines += [""]
    if reports:
        lines += ["## Weekly reports written", ""]
        lines += [f"- {_cell(r)}" for r in reports]
        lines += [""]
    if run_problems:
        lines += ["## This run's entries not fully loaded", ""]
        lines += [f"- {_cell(problem)}" for problem in run_problems[:MAX_LEFT_OUT_ROWS]]
        if len(run_problems) > MAX_LEFT_OUT_ROWS:
            lines += [f"- ... and {len(run_problems) - MAX_LEFT_OUT_ROWS} more."]
        lines += [""]

    lines += ["## Files by status", ""]
    if file_counts:
        lines += ["| status | files |", "| --- | ---: |"]
        lines += [f"| {_cell(status)} | {count} |" for status, count in file_counts.items()]
        lines += [f"| total | {sum(file_counts.values())} |"]
    else:
        lines += ["No files recorded yet."]
    lines += [""]

    lines += ["## Bulletins left out of the marts", ""]
    if left_out is None:
        lines += ["No bulletins loaded yet."]
    elif not left_out:
        lines += ["None: every bulletin passed its checks and none is superseded."]
    else:
        lines += ["| city | period | issue date | file | reasons |", "| --- | --- | --- | --- | --- |"]
        for b in left_out[:MAX_LEFT_OUT_ROWS]:
            lines.append(
                f"| {_cell(b.city)} | {_period(b.period_start, b.period_end)} | {_cell(b.issue_date)} "
                f"| {_cell(b.path)} | {_cell('; '.join(b.reasons))} |"
            )
        if len(left_out) > MAX_LEFT_OUT_ROWS:
            lines += ["", f"... and {len(left_out) - MAX_LEFT_OUT_ROWS} more."]
    lines += [""]

    lines += ["## City closure rate", ""]
    if not cities:
        lines += ["No marts yet: no published week has been built."]
    for city in cities:
        week = f"{_cell(city.city)}, week {_period(city.week_start, city.week_end)}"
        if city.closure_rate is None:
            lines += [f"{week}: no closure rate (its bulletin prints no cases due)."]
            continue
        if city.closure_rate_change_pp is None:
            change = "no change to show: the week before was not published"
        else:
            change = f"{city.closure_rate_change_pp:+.2f} pp on the week before"
        lines += [f"{week}: closure rate {city.closure_rate * 100:.2f}% ({change})."]
    return "\n".join(lines) + "\n"


# The table artifact `unit-week-performance`: mart column -> header, in the report's wording.
UNIT_TABLE_HEADERS: dict[str, str] = {
    "city": "城市",
    "week_start": "周起始日",
    "unit_group": "分组",
    "rank_in_group": "组内排名",
    "unit_name": "单位",
    "on_list": "本周上榜",
    "dispatched": "交办件",
    "unresolved": "未办结件",
    "unresolved_change": "未办结件较上周",
    "unresolved_rate": "未办结率",
    "unresolved_rate_change_pp": "未办结率较上周",
    "list_change": "上榜变化",
    "weeks_on_list_streak": "连续上榜周数",
}


def unit_table_rows(city: str, week_start: dt.date, units: Sequence[UnitWeekRow]) -> list[dict[str, str]]:
    """The week's units as the table artifact shows them: Chinese headers, 56.45%, +2, 新上榜."""
    h = UNIT_TABLE_HEADERS
    return [
        {
            h["city"]: city,
            h["week_start"]: week_start.isoformat(),
            h["unit_group"]: u.unit_group,
            h["rank_in_group"]: L.count(u.rank_in_group),
            h["unit_name"]: u.unit_name,
            h["on_list"]: L.yes_no(u.on_list),
            h["dispatched"]: L.count(u.dispatched),
            h["unresolved"]: L.count(u.unresolved),
            h["unresolved_change"]: L.signed(u.unresolved_change),
            h["unresolved_rate"]: L.percent(u.unresolved_rate),
            h["unresolved_rate_change_pp"]: L.signed_points(u.unresolved_rate_change_pp),
            h["list_change"]: L.list_change(u.list_change),
            h["weeks_on_list_streak"]: str(u.weeks_on_list_streak),
        }
        for u in units
    ]


def read_unit_table(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """Each city's latest published week, its units by group (as printed) and rank; empty when none."""
    table: list[dict[str, str]] = []
    for city in report_cities(con):
        week = resolve_week(con, city, None)
        if week is None:
            continue
        units = unit_weeks(con, city, week)
        bulletin = con.execute(
            "select bulletin_id from marts.city_week_performance where city = ? and week_start = ?", [city, week]
        ).fetchall()
        groups = group_order(con, bulletin[0][0]) if bulletin else []
        groups += sorted({u.unit_group for u in units} - set(groups))
        units.sort(key=lambda u: groups.index(u.unit_group))  # stable: by rank within each group
        table += unit_table_rows(city, week, units)
    return table


def read_run_report(db_path: Path, summary: RunSummary, inbox: Path | None = None) -> tuple[list[dict[str, str]], str]:
    """The unit table and the summary markdown, read from the warehouse (read-only).

    With the inbox, entries whose file left it are out of the totals, as in `bulletins status`.
    """
    extra = {"warnings": summary.warnings, "reports": summary.reports, "run_problems": summary.problems}
    if not Path(db_path).exists():
        return [], build_summary_markdown(summary.line(), {}, None, [], **extra)
    with connection(db_path, read_only=True) as con:
        table = read_unit_table(con)
        gone = (gone_from_inbox(con, inbox) if inbox is not None else None) or []
        markdown = build_summary_markdown(
            summary.line(),
            files_by_status(con, leaving_out={p.path for p in gone}),
            bulletins_left_out(con),
            latest_city_weeks(con),
            **extra,
        )
    return table, markdown
