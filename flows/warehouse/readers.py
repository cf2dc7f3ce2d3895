"""Readers of the warehouse: small queries returning plain values.

One layer for everything that reports on the warehouse: `bulletins status`, the run's
Prefect artifacts and the weekly report read through these functions. Each takes an
open DuckDB connection and tolerates a warehouse that has no marts yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from flows.warehouse.db import relation_exists

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
    return [{c: _jsonable(v) for c, v in zip(UNIT_TABLE_COLUMNS, row, strict=True)} for row in rows]


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


@dataclass(frozen=True)
class ProblemFile:
    """A file that is quarantined or partial, with its reasons."""

    status: str
    path: str
    reasons: list[str]


def problem_files(con: duckdb.DuckDBPyConnection) -> list[ProblemFile]:
    """Quarantined and partial files, by status then path."""
    if not relation_exists(con, "ingest.files"):
        return []
    rows = con.execute(
        """
        select status, path, reasons
        from ingest.files where status in ('quarantined', 'partial')
        order by status, path
        """
    ).fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows]
