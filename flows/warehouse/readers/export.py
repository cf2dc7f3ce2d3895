"""What exports (and the lake's copy of the marts) read: a mart whole, or one city's or week's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

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
