"""Readers of the warehouse: small queries returning plain values.

One layer for everything that reports on the warehouse: `bulletins status`, the run's
Prefect artifacts and the weekly report read through these functions. Each takes an
open DuckDB connection and tolerates a warehouse that has no marts yet.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.settings import InboxLocation, S3Location
from flows.warehouse.db import relation_exists
from flows.warehouse.summary import ProblemFile

# Statuses in the order people read them; any other status follows, alphabetically.
STATUS_ORDER = ("loaded", "partial", "quarantined", "duplicate", "skipped", "forgotten")


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


def _files_relation(con: duckdb.DuckDBPyConnection) -> str | None:
    """Where each inbox path's status is: `core.files` (current content, warehouse rules
    applied); `ingest.files` in a warehouse whose models were never built; else None."""
    for relation in ("core.files", "ingest.files"):
        if relation_exists(con, relation):
            return relation
    return None


def files_by_status(con: duckdb.DuckDBPyConnection, leaving_out: Collection[str] = ()) -> dict[str, int]:
    """Inbox paths recorded, counted per status (in `STATUS_ORDER`), but the paths `leaving_out`
    (those gone from the inbox: see `gone_from_inbox`)."""
    relation = _files_relation(con)
    if relation is None:
        return {}
    counts = dict(
        con.execute(
            f"select status, count(*) from {relation} where path not in (select unnest(?::varchar[])) group by status",
            [sorted(leaving_out)],
        ).fetchall()
    )
    order = [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts if s not in STATUS_ORDER)
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


def _check_details(con: duckdb.DuckDBPyConnection) -> str:
    """core.bulletins.check_details, or NULL in a warehouse built before the column."""
    has_details = con.execute(
        "select 1 from duckdb_columns() where schema_name = 'core' and table_name = 'bulletins' "
        "and column_name = 'check_details'"
    ).fetchall()
    return "b.check_details" if has_details else "null::varchar[]"


def bulletins_left_out(con: duckdb.DuckDBPyConnection) -> list[LeftOutBulletin] | None:
    """Bulletins that failed a check or were superseded (None: no `core.bulletins` yet)."""
    if not relation_exists(con, "core.bulletins"):
        return None
    files_join, path_expr = _files_join(con)
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
            {_issue_source(con)} as issue_date_source,
            {_check_details(con)} as check_details,
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
        reasons = [f"failed check: {lines.get(check, check)}" for check in failed_checks]
        if superseded:
            reasons.append("superseded: a later issue printed this period again")
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
        source = _issue_source(con) if has_bulletins else "null"
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


INFERRED_ISSUE_DATE = "刊发日期（推断）"  # how an inferred issue date is marked wherever it is shown


def inferred_mark(source: str | None) -> str:
    """What follows an issue date that was inferred, in Chinese text ('' for a date read).

    >>> "2021-03-09 刊" + inferred_mark("inferred"), inferred_mark("page")
    ('2021-03-09 刊，刊发日期（推断）', '')
    """
    return f"，{INFERRED_ISSUE_DATE}" if source == "inferred" else ""


def issue_date_text(issue_date: dt.date | None, source: str | None) -> str:
    """An issue date as `status` shows it, marked when it was inferred (not from the name or a date line).

    >>> issue_date_text(dt.date(2021, 3, 9), "inferred"), issue_date_text(dt.date(2021, 3, 10), "file_name")
    ('2021-03-09, inferred 刊发日期（推断）', '2021-03-10')
    """
    text = str(issue_date) if issue_date is not None else "?"
    return f"{text}, inferred {INFERRED_ISSUE_DATE}" if source == "inferred" and issue_date is not None else text


def _weeks_only(con: duckdb.DuckDBPyConnection, bulletins: str = "b") -> str:
    """SQL keeping the weekly bulletins of `bulletins` (a month's or quarter's scorecard is
    not a week); nothing in a warehouse built before core.bulletins had period_kind."""
    has_kind = con.execute(
        "select 1 from duckdb_columns() where schema_name = 'core' and table_name = 'bulletins' "
        "and column_name = 'period_kind'"
    ).fetchall()
    return f"and {bulletins}.period_kind = 'week'" if has_kind else ""


def _issue_source(con: duckdb.DuckDBPyConnection, bulletins: str = "b") -> str:
    """SQL for where the issue date of the bulletin `bulletins` came from (its file's
    `issue_date_source` in ingest.files; null when there is no ingest.files)."""
    if not relation_exists(con, "ingest.files"):
        return "null"
    return (
        "(select min(f.issue_date_source) from ingest.files as f "
        f"where f.file_sha256 = {bulletins}.file_sha256 and f.status <> 'duplicate')"
    )


PROBLEM_STATUSES = ("partial", "quarantined", "skipped")


def problem_files(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str] | None = None, leaving_out: Collection[str] = ()
) -> list[ProblemFile]:
    """Partial, quarantined and skipped entries (of the given batches only, if any), by status then path,
    but the paths `leaving_out` (gone from the inbox)."""
    relation = _files_relation(con)
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
    relation = _files_relation(con)
    if relation is None:
        return []
    rows = con.execute(f"select status, path, reasons from {relation} where status = ? order by path", [status])
    return [ProblemFile(s, path, list(reasons)) for s, path, reasons in rows.fetchall()]


def gone_from_inbox(con: duckdb.DuckDBPyConnection, inbox: InboxLocation) -> list[ProblemFile] | None:
    """Recorded entries whose path is no longer in the inbox (removed or renamed), by path;
    None when `inbox` is not a folder (then nothing can be said about its entries).

    Their rows stay in the warehouse until forgotten (`bulletins forget`); they leave the
    totals of `bulletins status`. The inbox is looked at now, without following links.
    An S3 inbox is listed once (None when it cannot be: nothing can be said either).
    """
    if isinstance(inbox, S3Location):
        return _gone_from_s3(con, inbox)
    relation = _files_relation(con)
    if not inbox.is_dir():
        return None
    if relation is None:
        return []
    rows = con.execute(f"select status, path, reasons from {relation} order by path").fetchall()
    archives: dict[str, frozenset[str]] = {}  # each archive's members, read once
    return [
        ProblemFile(status, path, list(reasons))
        for status, path, reasons in rows
        if not in_inbox(inbox, path, archives)
    ]


def _gone_from_s3(con: duckdb.DuckDBPyConnection, inbox: S3Location) -> list[ProblemFile] | None:
    """`gone_from_inbox` for an inbox in S3: a recorded path is there while its key is (a
    hidden "folder", while a key is under it; a member, while its archive holds it)."""
    from flows.warehouse import storage
    from flows.warehouse.archives import member_names, split_member_path

    try:
        keys = set(storage.keys(inbox))
    except (storage.S3Error, storage.S3SettingsError):
        return None
    folders = {key.rsplit("/", n)[0] for key in keys for n in range(1, key.count("/") + 1)}
    relation = _files_relation(con)
    if relation is None:
        return []
    members: dict[str, frozenset[str]] = {}

    def there(path: str) -> bool:
        if any(name in keys or name in folders for name in _fs_names(path)):
            return True
        for archive, member in split_member_path(path):
            if archive not in members:
                names = [n for n in _fs_names(archive) if n in keys]
                members[archive] = member_names(inbox / names[0], storage.open_entry) if names else frozenset()
            if member in members[archive]:
                return True
        return False

    rows = con.execute(f"select status, path, reasons from {relation} order by path").fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows if not there(path)]


def _fs_names(path: str) -> list[str]:
    """The names a recorded path may have on disk: its escaped bytes, else itself."""
    from flows.warehouse.inbox_walk import fs_name

    try:
        return [os.fsdecode(fs_name(path)), path]
    except (UnicodeEncodeError, ValueError):
        return [path]


def in_inbox(inbox: Path, path: str, archives: dict[str, frozenset[str]] | None = None) -> bool:
    """Whether a recorded path (escaped as `inbox_walk.display_path` records it) names an entry of the inbox now.

    A member of a zip archive (`a.zip!page.txt`) is there while its archive holds it
    (`archives` caches the names each archive holds).
    """
    from flows.warehouse.archives import member_names, split_member_path
    from flows.warehouse.storage import open_entry

    splits = split_member_path(path)
    if splits and not os.path.lexists(inbox / path):
        cache = archives if archives is not None else {}
        for archive, member in splits:
            if archive not in cache:
                on_disk = [inbox / name for name in _fs_names(archive) if os.path.isfile(inbox / name)]
                cache[archive] = member_names(on_disk[0], open_entry) if on_disk else frozenset()
            if member in cache[archive]:
                return True
        return False
    return any(os.path.lexists(inbox / name) for name in _fs_names(path))


# The ingest_seq of the entries recorded in the lake batches given as the one parameter.
_SEQS_OF_BATCHES = "select ingest_seq from ingest.files where batch_id in (select unnest(?::varchar[]))"


@dataclass(frozen=True)
class BatchesOutcome:
    """What the entries recorded in some lake batches became, after the warehouse's rules."""

    statuses: dict[str, int]  # status -> entries
    weeks: list[dt.date]  # period_start of their bulletins that pass every check
    problems: list[ProblemFile]


def batches_outcome(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> BatchesOutcome:
    """Statuses, weeks and problems of the entries recorded in `batch_ids` (a run's batches).

    Read after the load: a file whose bulletin breaks a warehouse rule counts as partial.
    An entry whose path was recorded again in a later batch counts as that later entry.
    """
    if not batch_ids or _files_relation(con) != "core.files":
        return BatchesOutcome({}, [], [])
    statuses = dict(
        con.execute(
            f"select status, count(*) from core.files where ingest_seq in ({_SEQS_OF_BATCHES}) group by status",
            [batch_ids],
        ).fetchall()
    )
    weeks = [
        row[0]
        for row in con.execute(
            f"""
            select distinct b.period_start
            from core.bulletins as b
            inner join core.files as f on f.file_sha256 = b.file_sha256
            where f.ingest_seq in ({_SEQS_OF_BATCHES}) and b.passes_checks and b.period_start is not null
                {_weeks_only(con)}
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


# --------------------------------------------------------------------------- the weekly report
#
# The figures come from the marts only. Where a figure comes from (the bulletin's file,
# the unit's name as printed, earlier printings of the week) is looked up through the
# marts' lineage key, `bulletin_id`, in `core.bulletins`, `core.bulletin_units` and
# `ingest.files`.


class WeekNotPublished(LookupError):
    """The week asked for has no row in `marts.city_week_performance`."""


@dataclass(frozen=True)
class CityWeekRow:
    """One row of `marts.city_week_performance` (rates 0..1, changes in points)."""

    city: str
    week_start: dt.date
    week_end: dt.date
    received: int | None
    due: int | None
    closed: int | None
    in_progress: int | None
    overdue: int | None
    disputed: int | None
    closure_rate: float | None
    closure_rate_published: float | None
    prev_week_published: bool
    closure_rate_change_pp: float | None
    overdue_change: int | None
    disputed_change: int | None
    units_on_list: int
    units_entered: int | None
    units_left: int | None
    top3_overdue_share: float | None
    linked_units: int | None
    overdue_units: int | None
    bulletin_id: str
    issue_date: dt.date | None
    # published, failed_checks or not_published (None: marts built before the column existed)
    prev_week_status: str | None = None


@dataclass(frozen=True)
class UnitWeekRow:
    """One row of `marts.unit_week_performance` for one week."""

    unit_name: str
    unit_group: str
    unit_list: str  # the list it is followed on: its channel (Sanmenxia), the city (Zhumadian: one list)
    on_list: bool
    dispatched: int | None
    unresolved: int
    unresolved_rate: float | None
    unresolved_change: int | None
    unresolved_rate_change_pp: float | None
    weeks_on_list_streak: int
    weeks_on_list_total: int
    list_change: str | None
    rank_in_group: int | None
    prev_unit_group: str | None
    rank_change: int | None
    resolves_nothing: bool
    overdue_share: float | None


@dataclass(frozen=True)
class BulletinSource:
    """Where a bulletin was read: its issue date and the inbox file (lineage)."""

    bulletin_id: str
    issue_date: dt.date | None
    path: str | None
    superseded: bool
    passes_checks: bool
    format: str | None = None  # the format that read it (core.bulletins.format)
    section: str | None = None  # the page's section name (时政要闻), when its articles were read
    period_label: str | None = None  # the publisher's own label of the period (2021第7期)
    issue_date_source: str | None = None  # file_name, page or inferred (ingest.files)


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


CITY_WEEK_COLUMNS = tuple(f.name for f in CityWeekRow.__dataclass_fields__.values())
UNIT_WEEK_COLUMNS = tuple(f.name for f in UnitWeekRow.__dataclass_fields__.values())
_CITY_FLOATS = {"closure_rate", "closure_rate_published", "closure_rate_change_pp", "top3_overdue_share"}
_UNIT_FLOATS = {"unresolved_rate", "unresolved_rate_change_pp", "overdue_share"}


class CityNotChosen(LookupError):
    """The warehouse holds several cities, or not the one asked for."""


def report_cities(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The cities with a published week, by name (empty: no marts or no week yet)."""
    if not relation_exists(con, "marts.city_week_performance"):
        return []
    return [r[0] for r in con.execute("select distinct city from marts.city_week_performance order by 1").fetchall()]


def resolve_cities(con: duckdb.DuckDBPyConnection, city: str | None) -> list[str]:
    """The cities to report on: `city` (which must have a published week), else every city."""
    cities = report_cities(con)
    if city is None:
        return cities
    if city not in cities:
        known = ", ".join(cities) or "none"
        raise CityNotChosen(f"city {city!r} has no published week (cities: {known})")
    return [city]


def published_weeks(con: duckdb.DuckDBPyConnection, city: str) -> list[dt.date]:
    """The city's published weeks' first days, oldest first (empty: no marts or no week yet)."""
    if not relation_exists(con, "marts.city_week_performance"):
        return []
    return [
        r[0]
        for r in con.execute(
            "select week_start from marts.city_week_performance where city = ? order by 1", [city]
        ).fetchall()
    ]


def resolve_week(con: duckdb.DuckDBPyConnection, city: str, day: dt.date | None) -> dt.date | None:
    """The city's published week starting on, or containing, `day`; its latest one when `day` is None.

    None when the city has nothing published; `WeekNotPublished` when `day` falls in no
    published week of the city.
    """
    weeks = published_weeks(con, city)
    if not weeks:
        if day is None:
            return None
        raise WeekNotPublished(f"week {day} was not published: {city} has no published week yet")
    if day is None:
        return weeks[-1]
    rows = con.execute(
        "select week_start from marts.city_week_performance where city = ? and ? between week_start and week_end",
        [city, day],
    ).fetchall()
    if not rows:
        failed = []
        if relation_exists(con, "core.failed_weeks"):
            failed = con.execute(
                "select week_start, failed_checks from core.failed_weeks "
                "where city = ? and ? between week_start and coalesce(week_end, week_start)",
                [city, day],
            ).fetchall()
        if failed:
            start, checks = failed[0]
            raise WeekNotPublished(
                f"week {start} of {city} was printed, but its bulletin failed checks ({', '.join(checks)}): "
                "`bulletins status` says why; `bulletins accept` publishes it on record"
            )
        raise WeekNotPublished(
            f"week {day} was not published in {city} (published weeks: {len(weeks)}, {weeks[0]} to {weeks[-1]})"
        )
    return rows[0][0]


def city_weeks(con: duckdb.DuckDBPyConnection, city: str, up_to: dt.date, count: int) -> list[CityWeekRow]:
    """The city's last `count` published weeks up to and including `up_to`, oldest first."""
    present = {
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'city_week_performance'"
        ).fetchall()
    }
    names = [c for c in CITY_WEEK_COLUMNS if c in present]  # a mart built before a column: its default
    columns = ", ".join(names)
    rows = con.execute(
        f"""
        select {columns} from (
            select {columns} from marts.city_week_performance
            where city = ? and week_start <= ? order by week_start desc limit ?
        ) order by week_start
        """,
        [city, up_to, count],
    ).fetchall()
    out = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        for name in _CITY_FLOATS:
            values[name] = _as_float(values[name])
        out.append(CityWeekRow(**values))
    return out


def unit_weeks(con: duckdb.DuckDBPyConnection, city: str, week_start: dt.date) -> list[UnitWeekRow]:
    """The city's week in `marts.unit_week_performance`: by group, on the list first, by rank."""
    columns = ", ".join(UNIT_WEEK_COLUMNS)
    rows = con.execute(
        f"""
        select {columns} from marts.unit_week_performance
        where city = ? and week_start = ?
        order by unit_group, on_list desc, rank_in_group, unresolved desc, unit_name
        """,
        [city, week_start],
    ).fetchall()
    out = []
    for row in rows:
        values = dict(zip(UNIT_WEEK_COLUMNS, row, strict=True))
        for name in _UNIT_FLOATS:
            values[name] = _as_float(values[name])
        out.append(UnitWeekRow(**values))
    return out


UnitKey = tuple[str, str]  # (unit_list, unit_name): a unit is followed within its list


def unit_unresolved(
    con: duckdb.DuckDBPyConnection, city: str, units: list[UnitKey], weeks: list[dt.date]
) -> dict[UnitKey, dict[dt.date, int]]:
    """Each unit's unresolved cases in each of the city's published `weeks`.

    A unit with no row in a published week was off its list: 0 (known), not missing.
    """
    found: dict[tuple[str, str, dt.date], int] = {}
    if units and weeks:
        rows = con.execute(
            """
            select unit_list, unit_name, week_start, unresolved from marts.unit_week_performance
            where city = ?
                and week_start in (select unnest(?::date[]))
                and unit_name in (select unnest(?::varchar[]))
            """,
            [city, weeks, sorted({name for _, name in units})],
        ).fetchall()
        found = {(unit_list, name, week): int(unresolved) for unit_list, name, week, unresolved in rows}
    return {(lst, n): {week: found.get((lst, n, week), 0) for week in weeks} for lst, n in units}


def bulletin_sources(con: duckdb.DuckDBPyConnection, bulletin_ids: list[str]) -> dict[str, BulletinSource]:
    """Issue date and inbox file of each bulletin (lineage through core.bulletins and ingest.files)."""
    if not bulletin_ids or not relation_exists(con, "core.bulletins"):
        return {}
    files_join, path_expr = _files_join(con)
    # The page's section name is printed on the page's first line: every article of the file has it.
    section_expr = (
        "(select min(a.section) from core.articles as a where a.file_sha256 = b.file_sha256)"
        if relation_exists(con, "core.articles")
        else "null"
    )
    rows = con.execute(
        f"""
        select
            b.bulletin_id,
            b.issue_date,
            {path_expr} as path,
            coalesce(b.superseded, false),
            coalesce(b.passes_checks, false),
            b.format,
            {section_expr} as section,
            b.period_label,
            {_issue_source(con)} as issue_date_source,
        from core.bulletins as b
        {files_join}
        where b.bulletin_id in (select unnest(?::varchar[]))
        """,
        [bulletin_ids],
    ).fetchall()
    return {r[0]: BulletinSource(*r) for r in rows}


def week_printings(con: duckdb.DuckDBPyConnection, city: str, week_start: dt.date) -> list[BulletinSource]:
    """Every bulletin the city printed for the week, earliest first (more than one: reprinted or corrected)."""
    if not relation_exists(con, "core.bulletins"):
        return []
    ids = [
        r[0]
        for r in con.execute(
            f"""
            select bulletin_id from core.bulletins as b where city = ? and period_start = ? {_weeks_only(con)}
            order by issue_date nulls first, ingest_seq, bulletin_id
            """,
            [city, week_start],
        ).fetchall()
    ]
    sources = bulletin_sources(con, ids)
    return [sources[i] for i in ids if i in sources]


def printed_unit_names(con: duckdb.DuckDBPyConnection, bulletin_id: str) -> dict[str, list[str]]:
    """Canonical unit name -> the names printed for it in the bulletin, in row order."""
    if not relation_exists(con, "core.bulletin_units"):
        return {}
    rows = con.execute(
        """
        select unit_name, list(distinct unit_name_raw order by unit_name_raw)
        from core.bulletin_units where bulletin_id = ? group by unit_name
        """,
        [bulletin_id],
    ).fetchall()
    return {name: list(raw) for name, raw in rows}


def _files_join(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """A join to each file's inbox path (the path it was taken under, not a later duplicate's)."""
    if not relation_exists(con, "ingest.files"):
        return "", "null"
    join = """
        left join (
            select
                file_sha256,
                coalesce(min(path) filter (where status <> 'duplicate'), min(path)) as path,
            from ingest.files
            group by file_sha256
        ) as files using (file_sha256)
    """
    return join, "files.path"


@dataclass(frozen=True)
class CheckedBulletin:
    """What a bulletin's checks compared: its figures and its unit rows' sums (the numbers a
    failed check is reported with), from core.bulletins and core.bulletin_units."""

    bulletin_id: str
    issue_date: dt.date | None
    path: str | None
    failed_checks: list[str]  # every failed check, accepted ones included
    due: int | None
    closed: int | None
    in_progress: int | None
    overdue: int | None
    disputed: int | None
    closure_rate_published: float | None
    overdue_units: int | None
    units_listed: int  # unit rows printed
    units_unresolved: int | None  # their unresolved, summed (None: a row without the number)
    units_over_dispatched: int  # rows with more unresolved than dispatched
    warehouse_details: dict[str, str] = field(default_factory=dict)  # check -> detail (core.bulletin_checks)
    # check -> what it compared, as the parser recorded it (core.bulletins.check_details)
    parser_details: dict[str, str] = field(default_factory=dict)


def checked_bulletins(con: duckdb.DuckDBPyConnection, bulletin_ids: list[str]) -> dict[str, CheckedBulletin]:
    """Each bulletin's figures and unit sums, by bulletin_id (empty: no core.bulletins yet)."""
    if not bulletin_ids or not relation_exists(con, "core.bulletins"):
        return {}
    files_join, path_expr = _files_join(con)
    rows = con.execute(
        f"""
        with units as (
            select
                bulletin_id,
                count(*) as units_listed,
                case when count(unresolved) = count(*) then sum(unresolved) end as units_unresolved,
                count(*) filter (where unresolved > dispatched) as units_over_dispatched,
            from core.bulletin_units
            where bulletin_id in (select unnest(?::varchar[]))
            group by bulletin_id
        ),
        checks as (
            select bulletin_id, map(list(check_name), list(detail)) as details,
            from core.bulletin_checks
            where bulletin_id in (select unnest(?::varchar[]))
            group by bulletin_id
        )
        select
            b.bulletin_id, b.issue_date, {path_expr} as path, coalesce(b.failed_checks, []),
            b.due, b.closed, b.in_progress, b.overdue, b.disputed, b.closure_rate_published::double,
            b.overdue_units, coalesce(units.units_listed, 0),
            case when units.bulletin_id is null then 0 else units.units_unresolved end,
            coalesce(units.units_over_dispatched, 0), checks.details, {_check_details(con)},
        from core.bulletins as b
        {files_join}
        left join units on units.bulletin_id = b.bulletin_id
        left join checks on checks.bulletin_id = b.bulletin_id
        where b.bulletin_id in (select unnest(?::varchar[]))
        """,
        [bulletin_ids, bulletin_ids, bulletin_ids],
    ).fetchall()
    out = {}
    for row in rows:
        *values, details, check_lines = row
        parsed = dict(line.partition(": ")[::2] for line in check_lines or [] if ": " in line)
        out[row[0]] = CheckedBulletin(*values, warehouse_details=dict(details or {}), parser_details=parsed)  # type: ignore[misc]
    return out


@dataclass(frozen=True)
class FailedWeek:
    """A week the city printed but did not publish: its bulletin failed a check (core.failed_weeks)."""

    week_start: dt.date
    week_end: dt.date | None
    failed_checks: list[str]  # those no one accepted
    printings_count: int
    bulletin: CheckedBulletin


def failed_weeks(con: duckdb.DuckDBPyConnection, city: str, weeks: list[dt.date]) -> dict[dt.date, FailedWeek]:
    """The city's weeks among `weeks` whose every printing failed a check, by week_start."""
    if not weeks or not relation_exists(con, "core.failed_weeks"):
        return {}
    rows = con.execute(
        """
        select week_start, week_end, failed_checks, printings_count, bulletin_id from core.failed_weeks
        where city = ? and week_start in (select unnest(?::date[]))
        """,
        [city, weeks],
    ).fetchall()
    bulletins = checked_bulletins(con, [r[4] for r in rows])
    return {
        start: FailedWeek(start, end, list(checks), count, bulletins[bulletin_id])
        for start, end, checks, count, bulletin_id in rows
        if bulletin_id in bulletins
    }


@dataclass(frozen=True)
class Acceptance:
    """A failed check a person accepted on record, so that the bulletin is published."""

    bulletin_id: str
    check_name: str
    note: str
    accepted_by: str
    accepted_at: dt.datetime
    bulletin: CheckedBulletin


def acceptances(con: duckdb.DuckDBPyConnection, bulletin_ids: list[str]) -> dict[str, list[Acceptance]]:
    """The checks accepted on record for each of the bulletins, by bulletin_id (in failed_checks' order)."""
    if not bulletin_ids or not relation_exists(con, "core.bulletin_acceptances"):
        return {}
    rows = con.execute(
        """
        select a.bulletin_id, a.check_name, a.note, a.accepted_by, a.accepted_at
        from core.bulletin_acceptances as a
        inner join core.bulletins as b using (bulletin_id)
        where a.bulletin_id in (select unnest(?::varchar[]))
        order by a.bulletin_id, list_position(b.failed_checks, a.check_name)
        """,
        [bulletin_ids],
    ).fetchall()
    bulletins = checked_bulletins(con, sorted({r[0] for r in rows}))
    out: dict[str, list[Acceptance]] = {}
    for bulletin_id, check, note, by, at in rows:
        out.setdefault(bulletin_id, []).append(Acceptance(bulletin_id, check, note, by, at, bulletins[bulletin_id]))
    return out


def group_order(con: duckdb.DuckDBPyConnection, bulletin_id: str) -> list[str]:
    """The bulletin's unit groups in the order it prints them."""
    if not relation_exists(con, "core.bulletin_units"):
        return []
    rows = con.execute(
        "select unit_group from core.bulletin_units where bulletin_id = ? group by unit_group order by min(row_no)",
        [bulletin_id],
    ).fetchall()
    return [r[0] for r in rows]


UNKNOWN_FORMAT_REASON = "unknown bulletin format"  # flows.warehouse.ingest.UNKNOWN_FORMAT


def unknown_format_files(con: duckdb.DuckDBPyConnection, batch_ids: list[str] | None = None) -> list[ProblemFile]:
    """Files holding text that looks like a bulletin no format reads, by path; reasons: those notes.

    `batch_ids`: only the entries recorded in those lake batches (a run's).
    """
    relation = _files_relation(con)
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
        [UNKNOWN_FORMAT_REASON, UNKNOWN_FORMAT_REASON] + ([] if batch_ids is None else [batch_ids]),
    ).fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows]


# --------------------------------------------------------------------------- the marts, whole

# The marts people take away (exports, the lake's copy), each in its key order.
MART_ORDER: dict[str, str] = {
    "city_week_performance": "city, week_start",
    "unit_week_performance": "city, week_start, unit_group, on_list desc, rank_in_group nulls last, unit_name, unit_list",
}


def _mart_query(table: str, city: str | None, week: dt.date | None) -> tuple[str, list[Any]]:
    if table not in MART_ORDER:
        raise ValueError(f"not a mart: {table}")
    where: list[str] = []
    params: list[Any] = []
    if city is not None:
        where.append("city = ?")
        params.append(city)
    if week is not None:
        where.append("? between week_start and week_end")
        params.append(week)
    clause = f"where {' and '.join(where)}" if where else ""
    return f"select * from marts.{table} {clause} order by {MART_ORDER[table]}", params


def mart_rows(
    con: duckdb.DuckDBPyConnection, table: str, city: str | None = None, week: dt.date | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A mart's columns and rows (of one city, of the published week containing `week`), in key order."""
    sql, params = _mart_query(table, city, week)
    cursor = con.execute(sql, params)
    columns = [d[0] for d in cursor.description or []]
    return columns, cursor.fetchall()


def mart_arrow(con: duckdb.DuckDBPyConnection, table: str, city: str | None = None, week: dt.date | None = None) -> Any:
    """The same rows as a pyarrow Table (the column types DuckDB gives them)."""
    sql, params = _mart_query(table, city, week)
    return con.sql(sql, params=params).to_arrow_table()


# --------------------------------------------------------------------------- notifications


def problem_files_in_batches(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> list[ProblemFile]:
    """Quarantined and partial files taken in by these lake batches (one run's), by status then path."""
    if not batch_ids or not relation_exists(con, "ingest.files"):
        return []
    rows = con.execute(
        """
        select status, path, reasons from ingest.files
        where status in ('quarantined', 'partial') and batch_id in (select unnest(?::varchar[]))
        order by status, path
        """,
        [batch_ids],
    ).fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows]


@dataclass(frozen=True)
class LongStreak:
    """A unit on its list for `streak` published weeks in a row, ending with `week_start`."""

    city: str
    week_start: dt.date
    unit_group: str
    unit_name: str
    streak: int
    unresolved: int


def long_streaks(con: duckdb.DuckDBPyConnection, weeks: list[dt.date], min_streak: int) -> list[LongStreak]:
    """Units with a streak of at least `min_streak` in each city's latest published week among `weeks`."""
    if not weeks or not relation_exists(con, "marts.unit_week_performance"):
        return []
    rows = con.execute(
        """
        with latest as (
            select city, max(week_start) as week_start from marts.city_week_performance
            where week_start in (select unnest(?::date[]))
            group by city
        )
        select u.city, u.week_start, u.unit_group, u.unit_name, u.weeks_on_list_streak, u.unresolved
        from marts.unit_week_performance as u
        inner join latest using (city, week_start)
        where u.on_list and u.weeks_on_list_streak >= ?
        order by u.city, u.weeks_on_list_streak desc, u.unresolved desc, u.unit_group, u.unit_name
        """,
        [weeks, min_streak],
    ).fetchall()
    return [LongStreak(*row) for row in rows]
