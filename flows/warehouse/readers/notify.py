"""What a run's notifications read: the files a run could not load whole, the weeks it loaded
with their figures, the units on their list for long."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from flows.warehouse.db import relation_exists
from flows.warehouse.readers.status import problem_files
from flows.warehouse.statuses import PARTIAL, QUARANTINED
from flows.warehouse.summary import ProblemFile

# The problem statuses a message is sent for (a skipped entry is the run summary's and `status`'s only).
NOTIFIED_STATUSES = (PARTIAL, QUARANTINED)


def problem_files_in_batches(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> list[ProblemFile]:
    """Quarantined and partial files taken in by these lake batches (one run's), by status then path.

    Read from core.files, as the run's summary is: a file held out by a data test or kept
    partial by a warehouse rule is told too, with the reason the warehouse gave.
    """
    if not batch_ids:
        return []
    return [p for p in problem_files(con, batch_ids) if p.status in NOTIFIED_STATUSES]


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


@dataclass(frozen=True)
class WeekLoaded:
    """A city's newest week this run loaded, with what the office looks at first."""

    city: str
    week_start: dt.date
    week_end: dt.date | None
    closure_rate: float | None
    closure_rate_change_pp: float | None
    overdue: int | None
    overdue_change: int | None
    units_listed: int | None
    newly_overdue: list[str] | None  # None: the week before was not published, nothing to compare
    earlier_weeks: int  # older weeks of the city this run loaded too (a backfill)


def weeks_loaded(con: duckdb.DuckDBPyConnection, weeks: Sequence[dt.date]) -> list[WeekLoaded]:
    """Each city's newest week among `weeks` (a run's), with its figures; cities in name order."""
    if not weeks or not relation_exists(con, "marts.city_week_performance"):
        return []
    rows = con.execute(
        """
        with loaded as (
            select * from marts.city_week_performance where week_start in (select unnest(?::date[]))
        ), latest as (
            select *, count(*) over (partition by city) - 1 as earlier_weeks from loaded
            qualify row_number() over (partition by city order by week_start desc) = 1
        )
        select city, week_start, week_end, coalesce(closure_rate, closure_rate_published), closure_rate_change_pp,
            overdue, overdue_change, units_on_list, prev_week_published, earlier_weeks
        from latest order by city
        """,
        [list(weeks)],
    ).fetchall()
    found = []
    for city, start, end, rate, rate_change, overdue, overdue_change, units, prev_published, earlier in rows:
        newly = None
        if prev_published:
            # Newly overdue, not "entered the list": a city that prints every department
            # (Sanmenxia) lists units with nothing overdue.
            newly = [
                name
                for (name,) in con.execute(
                    """
                    select unit_name from marts.unit_week_performance
                    where city = ? and week_start = ? and unresolved > 0 and coalesce(prev_unresolved, 0) = 0
                    group by unit_name order by max(unresolved) desc, unit_name
                    """,
                    [city, start],
                ).fetchall()
            ]
        found.append(
            WeekLoaded(city, start, end, rate, rate_change, overdue, overdue_change, units, newly, int(earlier))
        )
    return found
