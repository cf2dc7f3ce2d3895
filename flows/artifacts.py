"""The report of each run, published as Prefect artifacts.

- table `unit-week-performance`: the latest week's rows of `marts.unit_week_performance`;
- markdown `bulletin-etl-summary`: files by status, bulletins left out of the marts
  and why, the city's latest closure rate and its change in points.

Readers (`latest_week_table`, `files_by_status`, ...) take a DuckDB connection and
return plain values; `build_summary_markdown` is pure; `publish_run_artifacts` is
the thin part that opens the warehouse read-only and calls Prefect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.summary import RunSummary
from flows.warehouse import connection, relation_exists

UNIT_TABLE_KEY = "unit-week-performance"
SUMMARY_KEY = "bulletin-etl-summary"

UNIT_TABLE_COLUMNS = (
    "week_start",
    "unit_group",
    "rank_in_group",
    "unit_name",
    "on_list",
    "dispatched",
    "unresolved",
    "unresolved_change",
    "unresolved_rate",
    "unresolved_rate_change_pp",
    "list_change",
    "weeks_on_list_streak",
)

# Statuses in the order people read them; any other status follows, alphabetically.
STATUS_ORDER = ("loaded", "partial", "quarantined", "duplicate")

# At most this many bulletins are listed in the summary; the rest are counted.
MAX_LEFT_OUT_ROWS = 50


@dataclass(frozen=True)
class LeftOutBulletin:
    """A bulletin that does not feed the marts, and why."""

    period_start: dt.date | None
    period_end: dt.date | None
    issue_date: dt.date | None
    path: str | None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CityWeek:
    """The city's figures for the latest published week."""

    week_start: dt.date
    week_end: dt.date | None
    closure_rate: float | None  # 0..1
    closure_rate_change_pp: float | None  # percentage points; None: week before not published


def _jsonable(value: Any) -> Any:
    """A value a table artifact can hold (JSON): dates as ISO text, numbers rounded."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def latest_week_table(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Rows of the latest week of `marts.unit_week_performance`, by group then rank.

    Units off the list (no rank) come after the ranked ones. Empty when there are
    no marts yet.
    """
    if not relation_exists(con, "marts.unit_week_performance"):
        return []
    columns = ", ".join(UNIT_TABLE_COLUMNS)
    rows = con.execute(
        f"""
        select {columns}
        from marts.unit_week_performance
        where week_start = (select max(week_start) from marts.unit_week_performance)
        order by unit_group, rank_in_group nulls last, unit_name
        """
    ).fetchall()
    return [{c: _jsonable(v) for c, v in zip(UNIT_TABLE_COLUMNS, row)} for row in rows]


def files_by_status(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Files recorded in `ingest.files`, counted per status (in `STATUS_ORDER`)."""
    if not relation_exists(con, "ingest.files"):
        return {}
    counts = dict(con.execute("select status, count(*) from ingest.files group by status").fetchall())
    order = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts if s not in STATUS_ORDER)
    return {s: counts[s] for s in order}


def bulletins_left_out(con: duckdb.DuckDBPyConnection) -> list[LeftOutBulletin] | None:
    """Bulletins that failed a check or were superseded (None: no `core.bulletins` yet)."""
    if not relation_exists(con, "core.bulletins"):
        return None
    files_join = ""
    path_expr = "null"
    if relation_exists(con, "ingest.files"):
        files_join = """
            left join (
                select
                    file_sha256,
                    coalesce(min(path) filter (where status <> 'duplicate'), min(path)) as path,
                from ingest.files
                group by file_sha256
            ) as files using (file_sha256)
        """
        path_expr = "files.path"
    rows = con.execute(
        f"""
        select
            b.period_start,
            b.period_end,
            b.issue_date,
            {path_expr} as path,
            coalesce(b.failed_checks, []) as failed_checks,
            coalesce(b.superseded, false) as superseded,
        from core.bulletins as b
        {files_join}
        where len(coalesce(b.failed_checks, [])) > 0 or coalesce(b.superseded, false)
        order by b.period_start nulls first, b.issue_date nulls first, path, b.bulletin_id
        """
    ).fetchall()
    left_out = []
    for period_start, period_end, issue_date, path, failed_checks, superseded in rows:
        reasons = [f"failed check: {check}" for check in failed_checks]
        if superseded:
            reasons.append("superseded: a later issue printed this period again")
        left_out.append(LeftOutBulletin(period_start, period_end, issue_date, path, reasons))
    return left_out


def latest_city_week(con: duckdb.DuckDBPyConnection) -> CityWeek | None:
    """The latest row of `marts.city_week_performance` (None: no marts or no week yet)."""
    if not relation_exists(con, "marts.city_week_performance"):
        return None
    rows = con.execute(
        """
        select week_start, week_end, closure_rate, closure_rate_change_pp
        from marts.city_week_performance
        order by week_start desc
        limit 1
        """
    ).fetchall()
    if not rows:
        return None
    week_start, week_end, rate, change = rows[0]
    return CityWeek(
        week_start=week_start,
        week_end=week_end,
        closure_rate=None if rate is None else float(rate),
        closure_rate_change_pp=None if change is None else float(change),
    )


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
    city: CityWeek | None,
) -> str:
    """The `bulletin-etl-summary` markdown, from what the readers return.

    `left_out` None means no `core.bulletins` yet; `city` None means no marts yet.
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
        lines += ["| period | issue date | file | reasons |", "| --- | --- | --- | --- |"]
        for b in left_out[:MAX_LEFT_OUT_ROWS]:
            lines.append(
                f"| {_period(b.period_start, b.period_end)} | {_cell(b.issue_date)} "
                f"| {_cell(b.path)} | {_cell('; '.join(b.reasons))} |"
            )
        if len(left_out) > MAX_LEFT_OUT_ROWS:
            lines += ["", f"... and {len(left_out) - MAX_LEFT_OUT_ROWS} more."]
    lines += [""]

    lines += ["## City closure rate", ""]
    if city is None:
        lines += ["No marts yet: no published week has been built."]
    else:
        rate = "unknown" if city.closure_rate is None else f"{city.closure_rate * 100:.2f}%"
        if city.closure_rate_change_pp is None:
            change = "no change to show: the week before was not published"
        else:
            change = f"{city.closure_rate_change_pp:+.2f} pp on the week before"
        lines += [f"Week {_period(city.week_start, city.week_end)}: closure rate {rate} ({change})."]
    return "\n".join(lines) + "\n"


def read_run_report(db_path: Path, summary: RunSummary) -> tuple[list[dict[str, Any]], str]:
    """The unit table and the summary markdown, read from the warehouse (read-only)."""
    if not Path(db_path).exists():
        return [], build_summary_markdown(summary.line(), {}, None, None)
    with connection(db_path, read_only=True) as con:
        table = latest_week_table(con)
        markdown = build_summary_markdown(
            summary.line(), files_by_status(con), bulletins_left_out(con), latest_city_week(con)
        )
    return table, markdown


def publish_run_artifacts(db_path: Path, summary: RunSummary) -> None:
    """Publish the run's table and markdown artifacts (call inside the flow run)."""
    table, markdown = read_run_report(db_path, summary)
    week = table[0]["week_start"] if table else "none yet"
    create_table_artifact(
        table=table,
        key=UNIT_TABLE_KEY,
        description=f"Unit performance, latest week ({week}), by group and rank.",
    )
    create_markdown_artifact(
        markdown=markdown,
        key=SUMMARY_KEY,
        description="Files by status, bulletins left out of the marts, the city's closure rate.",
    )
