"""The run summary in markdown (the `bulletin-etl-summary` artifact): pure text building."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flows.warehouse.db import connection
from flows.warehouse.readers import (
    CityWeek,
    LeftOutBulletin,
    bulletins_left_out,
    files_by_status,
    latest_city_weeks,
    latest_week_table,
)
from flows.warehouse.summary import RunSummary

# At most this many bulletins are listed in the summary; the rest are counted.
MAX_LEFT_OUT_ROWS = 50


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return "unknown"
    return f"{start} to {end}" if end is not None else str(start)


def build_summary_markdown(
    run_line: str,
    file_counts: Mapping[str, int],
    left_out: Sequence[LeftOutBulletin] | None,
    cities: Sequence[CityWeek],
) -> str:
    """The `bulletin-etl-summary` markdown, from what the readers return.

    `left_out` None means no `core.bulletins` yet; `cities` empty means no marts yet.
    """
    lines = ["# bulletin-etl run", "", f"This run: {run_line}", ""]

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
        week = f"{city.city}, week {_period(city.week_start, city.week_end)}"
        if city.closure_rate is None:
            lines += [f"{week}: no closure rate (its bulletin prints no cases due)."]
            continue
        if city.closure_rate_change_pp is None:
            change = "no change to show: the week before was not published"
        else:
            change = f"{city.closure_rate_change_pp:+.2f} pp on the week before"
        lines += [f"{week}: closure rate {city.closure_rate * 100:.2f}% ({change})."]
    return "\n".join(lines) + "\n"


def read_run_report(db_path: Path, summary: RunSummary) -> tuple[list[dict[str, Any]], str]:
    """The unit table and the summary markdown, read from the warehouse (read-only)."""
    if not Path(db_path).exists():
        return [], build_summary_markdown(summary.line(), {}, None, [])
    with connection(db_path, read_only=True) as con:
        table = latest_week_table(con)
        markdown = build_summary_markdown(
            summary.line(), files_by_status(con), bulletins_left_out(con), latest_city_weeks(con)
        )
    return table, markdown
