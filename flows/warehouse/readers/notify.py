"""What a run's notifications read: the files a run could not load whole, the weeks it loaded
with their figures, the units on their list for long."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from flows.warehouse.db import relation_exists
from flows.warehouse.summary import ProblemFile


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
