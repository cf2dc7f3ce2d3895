"""Where the weekly report's figures come from: each bulletin's printing and file, the checks
it failed (with what they compared) and the ones a person accepted.

Looked up through the marts' lineage key, `bulletin_id`, in `core.bulletins`,
`core.bulletin_units` and `ingest.files`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from flows.warehouse.db import relation_exists
from flows.warehouse.readers.shared import sql_check_details, sql_files_join, sql_issue_source, sql_weeks_only


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


def bulletin_sources(con: duckdb.DuckDBPyConnection, bulletin_ids: list[str]) -> dict[str, BulletinSource]:
    """Issue date and inbox file of each bulletin (lineage through core.bulletins and ingest.files)."""
    if not bulletin_ids or not relation_exists(con, "core.bulletins"):
        return {}
    # The files' rows and articles of these bulletins only: grouping every file and article
    # ever loaded cost 40 ms a call at 10 years, and grew with the archive.
    files_join, path_expr = sql_files_join(con, files="wanted_files")
    # The page's section name is printed on the page's first line: every article of the file has it.
    sections = (
        """
        select a.file_sha256 as section_file, min(a.section) as section from core.articles as a
        where a.file_sha256 in (select file_sha256 from wanted) group by a.file_sha256
        """
        if relation_exists(con, "core.articles")
        else "select null::varchar as section_file, null::varchar as section where false"
    )
    wanted_files = (
        "wanted_files as (select * from ingest.files where file_sha256 in (select file_sha256 from wanted)),"
        if relation_exists(con, "ingest.files")
        else ""
    )
    rows = con.execute(
        f"""
        with
            wanted as (select * from core.bulletins where bulletin_id in (select unnest(?::varchar[]))),
            {wanted_files}
            sections as ({sections})
        select
            b.bulletin_id,
            b.issue_date,
            {path_expr} as path,
            coalesce(b.superseded, false),
            coalesce(b.passes_checks, false),
            b.format,
            s.section,
            b.period_label,
            {sql_issue_source(con, files="wanted_files")} as issue_date_source,
        from wanted as b
        left join sections as s on s.section_file = b.file_sha256
        {files_join}
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
            select bulletin_id from core.bulletins as b where city = ? and period_start = ? {sql_weeks_only(con)}
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
    files_join, path_expr = sql_files_join(con)
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
            coalesce(units.units_over_dispatched, 0), checks.details, {sql_check_details(con)},
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
