"""What `bulletins status` and a run's summary read: files by status and why, bulletins left
out of the marts, each city's latest week and how old it is.

Each function takes an open DuckDB connection and tolerates a warehouse that has no marts yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import duckdb

from flows.warehouse.db import relation_exists
from flows.warehouse.readers.shared import (
    files_relation,
    issue_date_text,
    sql_check_details,
    sql_files_join,
    sql_issue_source,
    sql_weeks_only,
)
from flows.warehouse.reasons import FAILED_CHECK, SUPERSEDED, UNKNOWN_FORMAT
from flows.warehouse.statuses import FILE_STATUSES
from flows.warehouse.summary import ProblemFile


@dataclass(frozen=True)
class LeftOutBulletin:
    """A bulletin that does not feed the marts, and why."""

    period_start: dt.date | None
    period_end: dt.date | None
    issue_date: dt.date | None
    path: str | None
    reasons: list[str] = field(default_factory=list)
    city: str | None = None
    issue_date_source: str | None = None  # file_name, page or inferred (ingest.files)


@dataclass(frozen=True)
class CityWeek:
    """A city's figures for its latest published week."""

    city: str
    week_start: dt.date
    week_end: dt.date | None
    closure_rate: float | None  # 0..1
    closure_rate_change_pp: float | None  # percentage points; None: week before not published


def files_by_status(con: duckdb.DuckDBPyConnection, leaving_out: Collection[str] = ()) -> dict[str, int]:
    """Inbox paths recorded, counted per status (in `FILE_STATUSES`' order), but the paths `leaving_out`
    (those gone from the inbox: see `gone_from_inbox`)."""
    relation = files_relation(con)
    if relation is None:
        return {}
    counts = dict(
        con.execute(
            f"select status, count(*) from {relation} where path not in (select unnest(?::varchar[])) group by status",
            [sorted(leaving_out)],
        ).fetchall()
    )
    # any status not in FILE_STATUSES follows, alphabetically
    order = [s for s in FILE_STATUSES if s in counts] + sorted(s for s in counts if s not in FILE_STATUSES)
    return {s: counts[s] for s in order}


# The failed checks of a core.bulletins row `b` that no one accepted on record (a warehouse
# built before corrections has no accepted_checks: every failed check counts).
_UNACCEPTED = "coalesce(b.failed_checks, [])"


def _unaccepted(con: duckdb.DuckDBPyConnection) -> str:
    has_accepted = con.execute(
        "select 1 from duckdb_columns() where schema_name = 'core' and table_name = 'bulletins' "
        "and column_name = 'accepted_checks'"
    ).fetchall()
    if not has_accepted:
        return _UNACCEPTED
    return "list_filter(coalesce(b.failed_checks, []), lambda name: not list_contains(b.accepted_checks, name))"


def bulletins_left_out(con: duckdb.DuckDBPyConnection) -> list[LeftOutBulletin] | None:
    """Bulletins that failed a check or were superseded (None: no `core.bulletins` yet)."""
    if not relation_exists(con, "core.bulletins"):
        return None
    files_join, path_expr = sql_files_join(con)
    rows = con.execute(
        f"""
        select
            b.period_start,
            b.period_end,
            b.issue_date,
            {path_expr} as path,
            {_unaccepted(con)} as failed_checks,
            coalesce(b.superseded, false) as superseded,
            b.city,
            {sql_issue_source(con)} as issue_date_source,
            {sql_check_details(con)} as check_details,
        from core.bulletins as b
        {files_join}
        where len({_unaccepted(con)}) > 0 or coalesce(b.superseded, false)
        order by b.period_start nulls first, b.issue_date nulls first, path, b.bulletin_id
        """
    ).fetchall()
    left_out = []
    for period_start, period_end, issue_date, path, failed_checks, superseded, city, source, details in rows:
        # each check with what it compared, where the parser recorded it (`name: detail`)
        lines = {line.partition(": ")[0]: line for line in details or [] if ": " in line}
        reasons = [f"{FAILED_CHECK}{lines.get(check, check)}" for check in failed_checks]
        if superseded:
            reasons.append(SUPERSEDED)
        left_out.append(LeftOutBulletin(period_start, period_end, issue_date, path, reasons, city, source))
    return left_out


def latest_city_weeks(con: duckdb.DuckDBPyConnection) -> list[CityWeek]:
    """Each city's latest row of `marts.city_week_performance`, by city (empty: no marts or no week yet)."""
    if not relation_exists(con, "marts.city_week_performance"):
        return []
    rows = con.execute(
        """
        select city, week_start, week_end, closure_rate, closure_rate_change_pp
        from marts.city_week_performance
        qualify row_number() over (partition by city order by week_start desc) = 1
        order by city
        """
    ).fetchall()
    return [
        CityWeek(
            city=city,
            week_start=week_start,
            week_end=week_end,
            closure_rate=None if rate is None else float(rate),
            closure_rate_change_pp=None if change is None else float(change),
        )
        for city, week_start, week_end, rate, change in rows
    ]


@dataclass(frozen=True)
class Freshness:
    """How old a city's latest published week is, judged on `today`."""

    city: str | None  # None: nothing published yet
    week_start: dt.date | None
    week_end: dt.date | None
    issue_date: dt.date | None
    today: dt.date
    stale_after_days: int
    issue_date_source: str | None = None  # file_name, page or inferred (ingest.files)

    @property
    def days_since_end(self) -> int | None:
        return None if self.week_end is None else (self.today - self.week_end).days

    @property
    def stale(self) -> bool:
        """No new week for longer than `stale_after_days` after the latest week's end."""
        days = self.days_since_end
        return days is not None and days > self.stale_after_days

    def line(self) -> str:
        """What `bulletins status` says about the city's latest week.

        >>> d = dt.date
        >>> Freshness("驻马店", d(2021, 1, 18), d(2021, 1, 24), d(2021, 1, 27), d(2021, 2, 1), 14).line()
        'latest published week, 驻马店: 2021-01-18 ~ 2021-01-24 (issue 2021-01-27), 8 days after its end'
        >>> Freshness("驻马店", d(2021, 1, 18), d(2021, 1, 24), d(2021, 1, 27), d(2021, 2, 1), 14, "inferred").line()[52:]
        '(issue 2021-01-27, inferred 刊发日期（推断）), 8 days after its end'
        """
        if self.week_start is None:
            return "latest published week: none"
        issue = f" (issue {issue_date_text(self.issue_date, self.issue_date_source)})" if self.issue_date else ""
        return (
            f"latest published week, {self.city}: {self.week_start} ~ {self.week_end}{issue}, "
            f"{self.days_since_end} days after its end"
        )


def read_freshness(con: duckdb.DuckDBPyConnection, today: dt.date, stale_after_days: int) -> list[Freshness]:
    """Each city's latest published week and whether its feed is stale on `today` (one entry, city None: none yet)."""
    rows: list[tuple[Any, ...]] = []
    if relation_exists(con, "marts.city_week_performance"):
        has_bulletins = relation_exists(con, "core.bulletins")
        source = sql_issue_source(con) if has_bulletins else "null"
        rows = con.execute(
            f"""
            select w.city, w.week_start, w.week_end, w.issue_date, {source}
            from marts.city_week_performance as w
            {"left join core.bulletins as b using (bulletin_id)" if has_bulletins else ""}
            qualify row_number() over (partition by w.city order by w.week_start desc) = 1
            order by w.city
            """
        ).fetchall()
    if not rows:
        return [Freshness(None, None, None, None, today, stale_after_days)]
    return [Freshness(city, start, end, issue, today, stale_after_days, src) for city, start, end, issue, src in rows]


PROBLEM_STATUSES = ("partial", "quarantined", "skipped")


def problem_files(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str] | None = None, leaving_out: Collection[str] = ()
) -> list[ProblemFile]:
    """Partial, quarantined and skipped entries (of the given batches only, if any), by status then path,
    but the paths `leaving_out` (gone from the inbox)."""
    relation = files_relation(con)
    if relation is None:
        return []
    batch_filter = "" if batch_ids is None else f"and ingest_seq in ({_SEQS_OF_BATCHES})"
    rows = con.execute(
        f"""
        select status, path, reasons
        from {relation} where status in ('partial', 'quarantined', 'skipped') {batch_filter}
            and path not in (select unnest(?::varchar[]))
        order by status, path
        """,
        ([] if batch_ids is None else [batch_ids]) + [sorted(leaving_out)],
    ).fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows]


def files_with_status(con: duckdb.DuckDBPyConnection, status: str) -> list[ProblemFile]:
    """The entries of one status, by path, with their reasons."""
    relation = files_relation(con)
    if relation is None:
        return []
    rows = con.execute(f"select status, path, reasons from {relation} where status = ? order by path", [status])
    return [ProblemFile(s, path, list(reasons)) for s, path, reasons in rows.fetchall()]


# The ingest_seq of the entries recorded in the lake batches given as the one parameter
# (core.files keeps no batch id: it is the same however the inbox was split into runs).
_SEQS_OF_BATCHES = "select ingest_seq from ingest.files where batch_id in (select unnest(?::varchar[]))"


@dataclass(frozen=True)
class BatchesOutcome:
    """What the entries recorded in some lake batches became, after the warehouse's rules."""

    statuses: dict[str, int]  # status -> entries
    weeks: list[dt.date]  # period_start of their bulletins that pass every check
    problems: list[ProblemFile]


def batches_outcome(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> BatchesOutcome:
    """Statuses, weeks and problems of the entries recorded in `batch_ids` (a run's batches).

    Read after the load, from core.batches and core.files: a file whose bulletin breaks a
    warehouse rule counts as partial, one a data test held out as quarantined. An entry whose
    path was recorded again in a later batch counts as that later entry.
    """
    if not batch_ids or files_relation(con) != "core.files" or not relation_exists(con, "core.batches"):
        return BatchesOutcome({}, [], [])
    statuses = batch_statuses(con, batch_ids)
    weeks = [
        row[0]
        for row in con.execute(
            f"""
            select distinct b.period_start
            from core.bulletins as b
            inner join core.files as f on f.file_sha256 = b.file_sha256
            where f.ingest_seq in ({_SEQS_OF_BATCHES}) and b.passes_checks and b.period_start is not null
                {sql_weeks_only(con)}
                -- a duplicate shares its original's sha256, not its bulletins: it loaded no week
                and f.status in ('loaded', 'partial')
            order by 1
            """,
            [batch_ids],
        ).fetchall()
    ]
    # a page with a bulletin no format reads is loaded, but never silently: the run names it
    unknown = [p for p in unknown_format_files(con, batch_ids) if p.status == "loaded"]
    return BatchesOutcome(statuses, weeks, problem_files(con, batch_ids) + unknown)


def batch_statuses(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> dict[str, int]:
    """What the entries of these lake batches are now, counted per status (core.batches; none at 0)."""
    sums = ", ".join(f"sum({status}_count)" for status in FILE_STATUSES)  # core.batches has one count each
    [counts] = con.execute(
        f"select {sums} from core.batches where batch_id in (select unnest(?::varchar[]))", [batch_ids]
    ).fetchall()
    return {status: int(n) for status, n in zip(FILE_STATUSES, counts, strict=True) if n}


def unknown_format_files(con: duckdb.DuckDBPyConnection, batch_ids: list[str] | None = None) -> list[ProblemFile]:
    """Files holding text that looks like a bulletin no format reads, by path; reasons: those notes.

    `batch_ids`: only the entries recorded in those lake batches (a run's).
    """
    relation = files_relation(con)
    if relation is None:
        return []
    batch_filter = "" if batch_ids is None else f"and ingest_seq in ({_SEQS_OF_BATCHES})"
    rows = con.execute(
        f"""
        select
            status,
            path,
            list_filter(reasons, lambda reason: starts_with(reason, ?)) as unknown,
        from {relation}
        where status in ('loaded', 'partial') and len(list_filter(reasons, lambda reason: starts_with(reason, ?))) > 0
            {batch_filter}
        order by path
        """,
        [UNKNOWN_FORMAT, UNKNOWN_FORMAT] + ([] if batch_ids is None else [batch_ids]),
    ).fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows]
