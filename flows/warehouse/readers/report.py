"""What the weekly report reads: the published weeks of a city, their rows of the marts.

The figures come from the marts only; where they were printed is read by
`flows.warehouse.readers.report_sources`. Each function takes an open DuckDB connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from flows.warehouse.db import relation_exists


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


def group_order(con: duckdb.DuckDBPyConnection, bulletin_id: str) -> list[str]:
    """The bulletin's unit groups in the order it prints them."""
    if not relation_exists(con, "core.bulletin_units"):
        return []
    rows = con.execute(
        "select unit_group from core.bulletin_units where bulletin_id = ? group by unit_group order by min(row_no)",
        [bulletin_id],
    ).fetchall()
    return [r[0] for r in rows]
