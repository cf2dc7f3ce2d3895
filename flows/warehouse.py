"""The DuckDB warehouse: connecting, creating the raw tables, loading lake batches.

Pure functions over a connection or a path; no Prefect here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from flows.schema import LAKE_TABLES, WAREHOUSE_TABLES

# Written so that the `duckdb` shell from PyPI's duckdb-cli (1.5.x) opens the file.
STORAGE_VERSION = "v1.5.0"

SCHEMAS = ("ingest", "raw", "seeds", "staging", "core", "marts")


def connect(db_path: str | Path | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or an in-memory one when db_path is None)."""
    if db_path is None:
        return duckdb.connect(":memory:")
    config = {} if read_only else {"storage_compatibility_version": STORAGE_VERSION}
    return duckdb.connect(str(db_path), read_only=read_only, config=config)


@contextmanager
def connection(db_path: str | Path | None = None, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one unit of work and always close it."""
    con = connect(db_path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def _sql_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas and the raw/ingest tables from `flows.schema` (idempotent)."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for lake_name, table in WAREHOUSE_TABLES.items():
        schema: pa.Schema = LAKE_TABLES[lake_name]
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name || '.' || table_name = ?",
            [table],
        ).fetchall()[0][0]
        if exists:
            continue
        empty = pa.Table.from_pylist([], schema=schema)
        con.register("_empty_schema", empty)
        try:
            con.execute(f"create table {table} as select * from _empty_schema where false")
        finally:
            con.unregister("_empty_schema")
        for field in schema:
            if not field.nullable:
                con.execute(f"alter table {table} alter column {field.name} set not null")
            comment = (field.metadata or {}).get(b"comment")
            if comment:
                con.execute(f"comment on column {table}.{field.name} is {_sql_quote(comment.decode())}")
