"""The DuckDB warehouse: connecting, creating the raw tables, loading lake batches.

Pure functions over a connection or a path; no Prefect here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from flows.warehouse import lake
from flows.warehouse.sandbox import sandbox_config
from flows.warehouse.schema import DERIVED_COLUMNS, LAKE_TABLES, TABLE_COMMENTS, WAREHOUSE_TABLES, upgrade

# Written so that the `duckdb` shell from PyPI's duckdb-cli (1.5.x) opens the file.
STORAGE_VERSION = "v1.5.0"

SCHEMAS = ("ingest", "raw", "seeds", "staging", "core", "marts")


# What DuckDB says when the file's bytes are not what it wrote (checksums, size, magic).
_DAMAGE_RE = re.compile(
    r"Corrupt database file|not a valid DuckDB database file|Could not read enough bytes|"
    r"database file with version number|Failed to deserialize|database has been invalidated"
)


class WarehouseDamaged(RuntimeError):
    """The DuckDB file cannot be read as written: `bulletins rebuild` recreates it from the lake."""

    def __init__(self, db_path: str | Path, cause: BaseException | str):
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(f"{db_path} is damaged ({detail}): `bulletins rebuild` recreates it from the lake")


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file itself is damaged (not the SQL, not a lock).

    >>> is_damage(duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2"))
    True
    >>> is_damage(duckdb.CatalogException("Catalog Error: Table with name x does not exist!"))
    False
    """
    return isinstance(exc, duckdb.Error) and _DAMAGE_RE.search(str(exc)) is not None


# A writer's memory (DuckDB spills past it to a temporary folder beside the file), so
# that a load's memory does not grow with the backfill. The default would be 80% of the
# machine's memory.
WRITER_MEMORY_LIMIT = "256MB"

# Rows per row group a writer writes (DuckDB's default: 122,880). A transaction's
# inserted rows stay in memory until a row group is full, and a row group of articles
# (about 2.8 KB of text a row) held 350 MB: a 10-year backfill's whole articles load,
# spilled past WRITER_MEMORY_LIMIT and read back at commit. Measured alone
# (2026-12-05, 131,106 articles): 1.9-2.0 s (2.5-2.6 CPU-s) and a 420 MB peak with
# DuckDB's default; 0.85 s (1.65 CPU-s) and 306 MB with 16,384 rows, for a table 7%
# larger (44 MB instead of 41). Not a property of the file: every writer attaches with it.
WRITER_ROW_GROUP_ROWS = 16_384

# DuckDB's own names for its catalogs: a file of one of these names is attached as WRITER_ALIAS.
_RESERVED_ALIASES = frozenset({"memory", "system", "temp", "main"})
WRITER_ALIAS = "warehouse"


def connect(
    db_path: str | Path | None = None, *, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or an in-memory one when db_path is None).

    Read-only means read-only: such a connection reads this file and no other, and
    writes nothing (`flows.warehouse.sandbox`). A file DuckDB cannot read as written
    raises `WarehouseDamaged`. `memory_limit`: a read-only connection's own (ad-hoc SQL).
    """
    if db_path is None:
        return duckdb.connect(":memory:")
    try:
        if read_only:
            return duckdb.connect(str(db_path), read_only=True, config=sandbox_config(memory_limit))
        return _connect_writer(Path(db_path))
    except duckdb.Error as exc:
        if is_damage(exc):
            raise WarehouseDamaged(db_path, exc) from exc
        raise


def _connect_writer(db_path: Path) -> duckdb.DuckDBPyConnection:
    """The file attached, with WRITER_ROW_GROUP_ROWS, to an in-memory connection and made its
    default catalog (a row group size is an ATTACH option only), under DuckDB's own alias
    for it (the file's stem), spilling where DuckDB's default for a file would (`<file>.tmp`)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "storage_compatibility_version": STORAGE_VERSION,
        "memory_limit": WRITER_MEMORY_LIMIT,
        "temp_directory": f"{db_path}.tmp",
    }
    con = duckdb.connect(":memory:", config=config)
    alias = db_path.stem if db_path.stem.lower() not in _RESERVED_ALIASES else WRITER_ALIAS
    try:
        con.execute(
            f"attach {sql_quote(str(db_path))} as {sql_identifier(alias)} (row_group_size {WRITER_ROW_GROUP_ROWS})"
        )
        con.execute(f"use {sql_identifier(alias)}")
    except BaseException:
        con.close()
        raise
    return con


def verify_readable(con: duckdb.DuckDBPyConnection, db_path: str | Path) -> None:
    """Read every block of every table once; DuckDB checks each block's checksum as it loads it.

    A run calls this before it writes, so damage anywhere in the file (not only in the
    blocks the run happens to read) stops it with `WarehouseDamaged`, naming the table.
    `min()` over every column makes DuckDB load and decode every column segment;
    unlike `count(*)` it cannot be answered from the table's statistics.
    """
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() order by all"
    ).fetchall()
    for schema, table in tables:
        try:
            con.execute(f'select min(columns(*)) from "{schema}"."{table}"').fetchall()
        except duckdb.Error as exc:
            if is_damage(exc):
                raise WarehouseDamaged(db_path, f"{schema}.{table}: {str(exc).splitlines()[0]}") from exc
            raise


@contextmanager
def connection(db_path: str | Path | None = None, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one unit of work and always close it."""
    con = connect(db_path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block in one transaction: committed when it ends, rolled back when it raises.
    (Outside one, each statement commits on its own, and a file-backed warehouse syncs each.)"""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def sql_quote(text: str) -> str:
    """A SQL string literal (for statements that take no parameters, like COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier.

    >>> print(sql_identifier('a "b'))
    "a ""b"
    """
    return '"' + name.replace('"', '""') + '"'


# Incremental state beside the lake tables: keyed, so declared here rather than in Arrow.
STATE_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "ingest.batches": (
        "batch_id varchar primary key, loaded_at timestamptz not null",
        "lake batches loaded into this warehouse (incremental state)",
        {
            "batch_id": "lake batch id: the batch_id of its rows in the lake's Delta tables (lake/_batches records it)",
            "loaded_at": "when the batch was loaded",
        },
    ),
    "ingest.file_holds": (
        "file_sha256 varchar primary key, path varchar not null, reason varchar not null",
        "files held out of the models because a data test failed with them (lake/_holds; README: which layer owns which rule)",
        {
            "file_sha256": "sha256 of the file held out",
            "path": "its path relative to the inbox",
            "reason": "the data test that failed with it, and its failing rows",
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


def fetch_all(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Execute and fully consume the result (DuckDB 2.x needs it before the next statement)."""
    return con.execute(sql, params or []).fetchall()


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


# Columns of long text stored with zstd. DuckDB's default for text (a dictionary, then
# FSST) spends about twice the CPU of zstd compressing article text at load and stores
# about five times the bytes (10 years: 3.8 s instead of 7.4 s of CPU, 41 MB instead of
# 219 MB for raw.articles; reading it back costs the same). Set on new tables only: an
# older warehouse's columns keep the default until `bulletins rebuild`.
ZSTD_COLUMNS: dict[str, tuple[str, ...]] = {"raw.articles": ("body", "original_text")}


def _create_table(con: duckdb.DuckDBPyConnection, lake_name: str, table: str) -> None:
    """Create a raw/ingest table from its Arrow schema, with its NOT NULLs, compression and comments."""
    arrow_schema: pa.Schema = LAKE_TABLES[lake_name]
    con.register("_empty_schema", pa.Table.from_pylist([], schema=arrow_schema))
    try:
        types = dict(
            con.execute("select column_name, column_type from (describe select * from _empty_schema)").fetchall()
        )
    finally:
        con.unregister("_empty_schema")
    zstd = ZSTD_COLUMNS.get(table, ())
    columns = ", ".join(
        f"{field.name} {types[field.name]}"
        + ("" if field.nullable else " not null")
        + (" using compression zstd" if field.name in zstd else "")
        for field in arrow_schema
    )
    con.execute(f"create table {table} ({columns})")
    docs = {f.name: f.metadata[b"comment"].decode() for f in arrow_schema}
    _comment(con, table, TABLE_COMMENTS[lake_name], docs)


def _add_new_columns(con: duckdb.DuckDBPyConnection, lake_name: str, table: str, existing: set[str]) -> None:
    """Bring a table of an older warehouse (its columns: `existing`) to its current schema,
    in one transaction.

    The table is recreated and its rows copied: derived columns computed by their
    function (`schema.DERIVED_COLUMNS`, as for old lake parts), new nullable ones NULL.
    A new required column that is not derived cannot be filled: `bulletins rebuild` then.
    """
    _, name = table.split(".")
    new_fields = [f for f in LAKE_TABLES[lake_name] if f.name not in existing]
    if not new_fields:
        return
    derived = DERIVED_COLUMNS.get(lake_name, {})
    older = f"{table}__older"
    try:
        with transaction(con):
            con.execute(f"alter table {table} rename to {name}__older")
            _create_table(con, lake_name, table)
            columns, joins = ["older.*"], []
            for n, field in enumerate(f for f in new_fields if f.name in derived):
                source, derive = derived[field.name]
                values = [r[0] for r in con.execute(f"select distinct {source} from {older}").fetchall()]
                mapping = pa.table({"source": values, "derived": [None if v is None else derive(v) for v in values]})
                con.register(f"_derived_{n}", mapping)
                columns.append(f"_derived_{n}.derived as {field.name}")
                joins.append(f"left join _derived_{n} on _derived_{n}.source = older.{source}")
            selected = ", ".join(columns)
            con.execute(f"insert into {table} by name select {selected} from {older} as older {' '.join(joins)}")
            con.execute(f"drop table {older}")
    finally:
        for n in range(len(new_fields)):
            with suppress(Exception):
                con.unregister(f"_derived_{n}")


def catalog(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list[str]]]:
    """Every table and view of the warehouse: `schema.name` -> (`table` or `view`, its columns
    in order). One catalog read (a query per relation was a fifth of a model build's time)."""
    found: dict[str, tuple[str, list[str]]] = {}
    rows = con.execute(
        """
        select c.schema_name || '.' || c.table_name, if(v.view_name is null, 'table', 'view'), c.column_name
        from duckdb_columns() as c
        left join duckdb_views() as v
            on v.database_name = c.database_name and v.schema_name = c.schema_name and v.view_name = c.table_name
        where c.database_name = current_database()
        order by c.schema_name, c.table_name, c.column_index
        """
    ).fetchall()
    for relation, kind, column in rows:
        found.setdefault(relation, (kind, []))[1].append(column)
    return found


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas, the raw/ingest tables from `flows.warehouse.schema` and the state tables.

    Idempotent: an existing table is left as it is, so a run with nothing new writes nothing;
    a table of an older warehouse gets the columns added to its schema since. What is new
    is created in one transaction of its own (a statement each would commit, and sync the
    file, each): call it outside a transaction, as the run and the rebuild do.
    """
    existing = catalog(con)
    for lake_name, table in WAREHOUSE_TABLES.items():
        if table in existing:
            _add_new_columns(con, lake_name, table, set(existing[table][1]))
    missing_raw = [(n, t) for n, t in WAREHOUSE_TABLES.items() if t not in existing]
    missing_state = [t for t in STATE_TABLES if t not in existing]
    schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    if not missing_raw and not missing_state and schemas.issuperset(SCHEMAS):
        return
    with transaction(con):
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        for lake_name, table in missing_raw:
            _create_table(con, lake_name, table)
        for table in missing_state:
            columns_sql, comment, docs = STATE_TABLES[table]
            con.execute(f"create table {table} ({columns_sql})")
            _comment(con, table, comment, docs)


def loaded_batches(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("select batch_id from ingest.batches").fetchall()}


def pending_batches(con: duckdb.DuckDBPyConnection, lake_dir: lake.Lake) -> list[str]:
    """Complete lake batches this warehouse has not loaded (an interrupted run's, or all on rebuild)."""
    done = loaded_batches(con)
    return [b for b in lake.complete_batches(lake_dir) if b not in done]


def batch_rows(con: duckdb.DuckDBPyConnection, lake_table: str, batch_id: str) -> pa.Table | None:
    """The rows this warehouse loaded from one lake table of a batch (None if it did not load the batch).

    What `lake_audit` writes back when the part is lost or damaged.
    """
    if batch_id not in loaded_batches(con):
        return None
    table = WAREHOUSE_TABLES[lake_table]
    schema, name = table.split(".")
    present = {
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ?", [schema, name]
        ).fetchall()
    }
    # A warehouse built before a column existed lacks it: `upgrade` computes or NULLs it.
    columns = ", ".join(c for c in LAKE_TABLES[lake_table].names if c in present)
    data = con.sql(f"select {columns} from {table} where batch_id = ?", params=[batch_id]).to_arrow_table()
    return upgrade(lake_table, data)


def load_batches(con: duckdb.DuckDBPyConnection, lake_dir: lake.Lake, batch_ids: list[str]) -> None:
    """Insert the batches' rows from the lake's Delta tables into the raw tables (caller owns
    the transaction).

    Each table's data files of its current Delta version that may hold the batches (pruned
    on their batch id statistics) are read filtered on the batch ids, streaming, with no
    delta extension (none can be downloaded here): a local lake's by DuckDB's own Parquet
    reader (`lake.local_batch_files`), an S3 lake's by pyarrow (`lake.remote_batch_reader`).
    """
    if not batch_ids:
        return
    for lake_table, table in WAREHOUSE_TABLES.items():
        if lake.is_remote(lake_dir):
            reader = lake.remote_batch_reader(lake_dir, lake_table, batch_ids)
            if reader is not None:
                con.register("lake_batch_rows", reader)
                try:
                    con.execute(f"insert into {table} by name select * from lake_batch_rows").fetchall()
                finally:
                    con.unregister("lake_batch_rows")
            continue
        files = lake.local_batch_files(lake_dir, lake_table, batch_ids)
        if not files:
            continue
        con.execute(
            f"insert into {table} by name select * from read_parquet(?) where batch_id in (select unnest(?))",
            [files, list(batch_ids)],
        ).fetchall()
    con.executemany("insert into ingest.batches values (?, now())", [[b] for b in batch_ids])


def recorded_files(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The files this warehouse has recorded (path, size, mtime, sha256, status, over_size_limit,
    ingest_seq): what `inbox.known_files` reads."""
    cursor = con.execute(
        "select path, size_bytes, modified_ns, file_sha256, status, over_size_limit, ingest_seq "
        "from ingest.files order by ingest_seq"
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
