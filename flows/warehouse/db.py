"""The DuckDB warehouse: connecting, creating the raw tables, loading lake batches.

Pure functions over a connection or a path; no Prefect here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from flows.warehouse import lake
from flows.warehouse.inbox import Known
from flows.warehouse.sandbox import SANDBOX_CONFIG
from flows.warehouse.schema import LAKE_TABLES, TABLE_COMMENTS, WAREHOUSE_TABLES

# Written so that the `duckdb` shell from PyPI's duckdb-cli (1.5.x) opens the file.
STORAGE_VERSION = "v1.5.0"

SCHEMAS = ("ingest", "raw", "seeds", "staging", "core", "marts")


def connect(db_path: str | Path | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or an in-memory one when db_path is None).

    Read-only means read-only: such a connection reads this file and no other, and
    writes nothing (`flows.warehouse.sandbox`).
    """
    if db_path is None:
        return duckdb.connect(":memory:")
    if read_only:
        return duckdb.connect(str(db_path), read_only=True, config=dict(SANDBOX_CONFIG))
    return duckdb.connect(str(db_path), config={"storage_compatibility_version": STORAGE_VERSION})


@contextmanager
def connection(db_path: str | Path | None = None, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one unit of work and always close it."""
    con = connect(db_path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def sql_quote(text: str) -> str:
    """A SQL string literal (for statements that take no parameters, like COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"


# Incremental state beside the lake tables: keyed, so declared here rather than in Arrow.
STATE_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "ingest.batches": (
        "batch_id varchar primary key, loaded_at timestamptz not null",
        "lake batches loaded into this warehouse (incremental state)",
        {
            "batch_id": "lake batch id: <warehouse>/lake/<table>/<batch_id>.parquet",
            "loaded_at": "when the batch was loaded",
        },
    ),
    "ingest.model_state": (
        "key varchar primary key, value varchar not null",
        "fingerprints of what the models were last built from",
        {
            "key": "what is fingerprinted (models_fingerprint: sql/ and seeds)",
            "value": "the fingerprint (sha256)",
        },
    ),
}


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether `schema.name` exists as a table or a view."""
    schema, name = relation.split(".")
    return bool(
        con.execute(
            """
            select 1 from duckdb_tables() where schema_name = ? and table_name = ?
            union all
            select 1 from duckdb_views() where schema_name = ? and view_name = ?
            """,
            [schema, name, schema, name],
        ).fetchall()
    )


def _comment(con: duckdb.DuckDBPyConnection, table: str, comment: str, columns: dict[str, str]) -> None:
    con.execute(f"comment on table {table} is {sql_quote(comment)}")
    for column, text in columns.items():
        con.execute(f"comment on column {table}.{column} is {sql_quote(text)}")


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas, the raw/ingest tables from `flows.warehouse.schema` and the state tables.

    Idempotent: an existing table is left as it is, so a run with nothing new writes nothing.
    """
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for lake_name, table in WAREHOUSE_TABLES.items():
        if relation_exists(con, table):
            continue
        arrow_schema: pa.Schema = LAKE_TABLES[lake_name]
        con.register("_empty_schema", pa.Table.from_pylist([], schema=arrow_schema))
        try:
            con.execute(f"create table {table} as select * from _empty_schema where false")
        finally:
            con.unregister("_empty_schema")
        for field in arrow_schema:
            if not field.nullable:
                con.execute(f"alter table {table} alter column {field.name} set not null")
        docs = {f.name: f.metadata[b"comment"].decode() for f in arrow_schema}
        _comment(con, table, TABLE_COMMENTS[lake_name], docs)
    for table, (columns_sql, comment, docs) in STATE_TABLES.items():
        if not relation_exists(con, table):
            con.execute(f"create table {table} ({columns_sql})")
            _comment(con, table, comment, docs)


def loaded_batches(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("select batch_id from ingest.batches").fetchall()}


def pending_batches(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> list[str]:
    """Complete lake batches this warehouse has not loaded (an interrupted run's, or all on rebuild)."""
    done = loaded_batches(con)
    return [b for b in lake.complete_batches(lake_dir) if b not in done]


def load_batches(con: duckdb.DuckDBPyConnection, lake_dir: Path, batch_ids: list[str]) -> None:
    """Insert the batches' lake parts into the raw tables (caller owns the transaction)."""
    if not batch_ids:
        return
    for lake_table, table in WAREHOUSE_TABLES.items():
        paths = lake.part_paths(lake_dir, lake_table, batch_ids)
        con.execute(f"insert into {table} by name select * from read_parquet(?)", [paths]).fetchall()
    con.executemany("insert into ingest.batches values (?, now())", [[b] for b in batch_ids])


def known_files(con: duckdb.DuckDBPyConnection, pending_file_rows: list[dict]) -> Known:
    """What is already recorded: the warehouse's files plus those of pending batches."""
    rows = con.execute(
        "select path, size_bytes, modified_ns, file_sha256, status, ingest_seq from ingest.files order by ingest_seq"
    ).fetchall()
    rows += [
        (r["path"], r["size_bytes"], r["modified_ns"], r["file_sha256"], r["status"], r["ingest_seq"])
        for r in sorted(pending_file_rows, key=lambda r: r["ingest_seq"])
    ]
    paths: dict[str, tuple[int, int]] = {}
    path_shas: set[tuple[str, str]] = set()
    taken: dict[str, str] = {}
    max_seq = 0
    for path, size, mtime, sha, status, seq in rows:
        paths[path] = (size, mtime)
        path_shas.add((path, sha))
        if status != "duplicate":
            taken.setdefault(sha, path)
        max_seq = max(max_seq, seq)
    return Known(paths=paths, path_shas=frozenset(path_shas), taken=taken, max_ingest_seq=max_seq)
