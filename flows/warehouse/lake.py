"""The lake: one Delta table per raw table, `<lake>/<table>/` with its `_delta_log`.

A parse batch appends its rows to each table as one Delta commit carrying an
application transaction (`app_id` = the batch id): before committing a table, the
writer asks the table whether that batch is in already (`transaction_version`), so a
retried or recovered batch is never appended twice. The `files` table is committed
last: a batch is complete when its `files` rows are in (`complete_batches`).

Data files are written here with pyarrow (streamed a row group at a time, zstd, page
checksums: bit rot is found when a file is read, `lake_audit`) straight into the table's
folder, and only become part of the table when the commit's `add` action names them;
a run killed before its commit leaves an unreferenced file that no reader sees and
`vacuum` removes (`flows.warehouse.maintain`).

The lake is a local folder or `s3://bucket/prefix` (`flows.warehouse.lake_store`: where
it is and every file operation on it; `flows.warehouse.lake_read`: reading the tables).
Any Delta reader opens the tables: `DeltaTable(uri).to_pyarrow_dataset()` (registered on
a DuckDB connection), Polars' `read_delta`, Spark (docs/delta-lake.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from flows.warehouse import lake_store
from flows.warehouse.faults import checkpoint
from flows.warehouse.lake_read import COMPLETION_TABLE as COMPLETION_TABLE
from flows.warehouse.lake_read import DataFile as DataFile
from flows.warehouse.lake_read import batch_filter as batch_filter
from flows.warehouse.lake_read import batch_ids_in as batch_ids_in
from flows.warehouse.lake_read import complete_batches as complete_batches
from flows.warehouse.lake_read import data_files as data_files
from flows.warehouse.lake_read import dataset as dataset
from flows.warehouse.lake_read import file_problem as file_problem
from flows.warehouse.lake_read import local_batch_files as local_batch_files
from flows.warehouse.lake_read import open_table as open_table
from flows.warehouse.lake_read import read_batch as read_batch
from flows.warehouse.lake_read import read_files_part as read_files_part
from flows.warehouse.lake_read import read_files_rows as read_files_rows
from flows.warehouse.lake_read import remote_batch_reader as remote_batch_reader
from flows.warehouse.lake_store import MIGRATED_DIR as MIGRATED_DIR
from flows.warehouse.lake_store import SET_ASIDE_DIR as SET_ASIDE_DIR
from flows.warehouse.lake_store import SET_ASIDE_LOG as SET_ASIDE_LOG
from flows.warehouse.lake_store import Lake as Lake
from flows.warehouse.lake_store import exists as exists
from flows.warehouse.lake_store import first_line as first_line
from flows.warehouse.lake_store import is_remote as is_remote
from flows.warehouse.lake_store import legacy_part_files as legacy_part_files
from flows.warehouse.lake_store import log_set_aside as log_set_aside
from flows.warehouse.lake_store import make as make
from flows.warehouse.lake_store import move_to_migrated as move_to_migrated
from flows.warehouse.lake_store import set_aside as set_aside
from flows.warehouse.lake_store import storage_options as storage_options
from flows.warehouse.lake_store import stray_files as stray_files
from flows.warehouse.lake_store import table_dir as table_dir
from flows.warehouse.lake_store import table_uri as table_uri
from flows.warehouse.schema import LAKE_TABLES as LAKE_TABLES

# The marts' copy, beside the raw tables and apart from them (`marts/<table>`).
MARTS_DIR = "marts"


# --- tables ----------------------------------------------------------------------------


def ensure_table(lake_dir: Lake, table: str, schema: pa.Schema | None = None) -> DeltaTable:
    """The table (a raw table's unless `schema` is given), created empty the first time."""
    found = open_table(lake_dir, table)
    if found is not None:
        return found
    if not is_remote(lake_dir):
        table_dir(lake_dir, table).mkdir(parents=True, exist_ok=True)
    try:
        return DeltaTable.create(
            table_uri(lake_dir, table),
            schema if schema is not None else LAKE_TABLES[table],
            mode="ignore",
            storage_options=storage_options(lake_dir),
        )
    except Exception:  # another writer created it at the same moment: take theirs
        found = open_table(lake_dir, table)
        if found is None:
            raise
        return found


def has_batch(dt: DeltaTable, batch_id: str) -> bool:
    """Whether the table committed the batch already (its application transaction)."""
    return dt.transaction_version(batch_id) is not None


# --- writing a batch -------------------------------------------------------------------


@dataclass
class _Part:
    name: str  # the data file's path relative to the table root
    writer: pq.ParquetWriter | None
    rows: int = 0


def _new_file_name(batch_id: str) -> str:
    return f"part-{batch_id}-{uuid.uuid4().hex[:12]}.parquet"


def batch_range_stats(batch_ids: Sequence[str], rows: int) -> str:
    """The `add` action's statistics: the row count and the batch ids' range (file pruning)."""
    if not batch_ids:
        return json.dumps({"numRecords": rows})
    return json.dumps(
        {
            "numRecords": rows,
            "minValues": {"batch_id": min(batch_ids)},
            "maxValues": {"batch_id": max(batch_ids)},
            "nullCount": {"batch_id": 0},
        }
    )


def _commit_file(
    lake_dir: Lake, dt: DeltaTable, table: str, batch_id: str, name: str | None, rows: int, version: int = 1
) -> bool:
    """Add a written data file (or none, for a table without rows) as the batch's commit.

    Returns False (and removes the file) when the table holds the batch at `version` already.
    `dt`: the table as the caller opened it before writing; brought to its latest version
    here (the commits since are read, as opening it again would: a table's log is read
    whole on open, a few milliseconds a table, six tables a batch).
    """
    if not _holds_batch(dt, batch_id, version):
        actions: list[AddAction | RemoveAction] = []
        if name is not None:
            actions.append(added_file(lake_dir, table, name, [batch_id], rows, data_change=True))
        try:
            dt.create_write_transaction(
                actions,
                "append",
                LAKE_TABLES[table],
                commit_properties=CommitProperties(app_transactions=[Transaction(app_id=batch_id, version=version)]),
            )
            return True
        except CommitFailedError:
            # Another writer committed this batch since the check above (Dask ran the task
            # twice at once): Delta refuses a second commit of a transaction id, and this
            # writer, finding the batch in, is a retry that adds nothing.
            if not _holds_batch(dt, batch_id, version):
                raise
    if name is not None:
        lake_store.delete(lake_dir, f"{table}/{name}")  # the table has the batch already: never twice
    return False


def _holds_batch(dt: DeltaTable, batch_id: str, version: int) -> bool:
    """Whether the table's latest version holds the batch at `version` (or later)."""
    dt.update_incremental()
    done = dt.transaction_version(batch_id)
    return done is not None and done >= version


def added_file(
    lake_dir: Lake, table: str, name: str, batch_ids: Sequence[str], rows: int, *, data_change: bool
) -> AddAction:
    """A data file written in the table's folder, synced, as the `add` action that makes it
    part of the table (with its batch-id range: `batch_range_stats`)."""
    relative = f"{table}/{name}"
    lake_store.sync(lake_dir, relative)
    size, mtime_ms = lake_store.file_size_and_mtime_ms(lake_dir, relative)
    return AddAction(name, size, {}, mtime_ms, data_change, batch_range_stats(batch_ids, rows))


def copy_row_groups(
    lake_dir: Lake,
    table: str,
    sources: Sequence[DataFile],
    name: str,
    *,
    transform: Callable[[pa.Table], pa.Table] | None = None,
    require_schema: pa.Schema | None = None,
) -> tuple[int, str | None]:
    """Write the sources' rows as one new data file `name` of the table, a row group at a
    time (page checksums verified on read), each row group through `transform` if given;
    with `require_schema`, a source of another schema is refused.

    Returns (rows written, None), or (0, the path of the source that could not be read
    whole or was refused): then the new file is deleted.
    """
    fs = lake_store.filesystem(lake_dir)
    writer = open_writer(lake_dir, table, name)
    rows = 0
    reading = sources[0]
    try:
        for reading in sources:
            source = pq.ParquetFile(
                lake_store.path(lake_dir, reading.relative), filesystem=fs, page_checksum_verification=True
            )
            if require_schema is not None and not source.schema_arrow.equals(require_schema):
                raise ValueError(f"{reading.path}: not the table's schema")
            copied = 0
            for n in range(source.num_row_groups):
                part = source.read_row_group(n)
                part = transform(part) if transform is not None else part
                writer.write_table(part)
                copied += part.num_rows
            if copied != source.metadata.num_rows:  # every row, once
                raise ValueError(f"{reading.path}: {source.metadata.num_rows} rows, {copied} written")
            rows += copied
        writer.close()
    except Exception:  # any failure to read (a page failing its checksum, a damaged file): nothing written
        writer.close()
        lake_store.delete(lake_dir, f"{table}/{name}")
        return 0, reading.path
    return rows, None


def open_writer(lake_dir: Lake, table: str, name: str) -> pq.ParquetWriter:
    lake_store.make(lake_dir)
    if not is_remote(lake_dir):
        table_dir(lake_dir, table).mkdir(parents=True, exist_ok=True)
    # Page checksums: bit rot in a data file is found when it is read (lake_audit), not loaded.
    return pq.ParquetWriter(
        lake_store.path(lake_dir, f"{table}/{name}"),
        LAKE_TABLES[table],
        filesystem=lake_store.filesystem(lake_dir),
        compression="zstd",
        write_page_checksum=True,
    )


def write_part(lake_dir: Lake, table: str, batch_id: str, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Append one table's rows of a batch (one commit); False when the batch is in already."""
    return append_arrow(lake_dir, table, batch_id, pa.Table.from_pylist(list(rows), schema=LAKE_TABLES[table]))


def append_arrow(lake_dir: Lake, table: str, batch_id: str, data: pa.Table, version: int = 1) -> bool:
    """Append a batch's rows of one table from Arrow, in the table's schema, as one commit.

    `version`: the batch's transaction version; a restore appends at the next one.
    Returns False when the table holds the batch at that version already.
    """
    schema = LAKE_TABLES[table]
    columns = [data.column(field.name).cast(field.type) for field in schema]
    arrow_table = pa.Table.from_arrays(columns, schema=schema)
    dt = ensure_table(lake_dir, table)
    if arrow_table.num_rows == 0:
        return _commit_file(lake_dir, dt, table, batch_id, None, 0, version)
    name = _new_file_name(batch_id)
    writer = open_writer(lake_dir, table, name)
    try:
        writer.write_table(arrow_table)
    finally:
        writer.close()
    return _commit_file(lake_dir, dt, table, batch_id, name, arrow_table.num_rows, version)


def write_batch(lake_dir: Lake, batch_id: str, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Write every table of a batch, `files` last (it marks the batch complete)."""
    with BatchWriter(lake_dir, batch_id) as writer:
        writer.write(rows_by_table)
        writer.commit()


class BatchWriter:
    """Write one batch's rows a row group at a time, so a large batch never sits in memory.

    Every table gets a data file in its folder as rows come (`write`); `commit` closes
    them and commits each to its Delta table with the batch's transaction id, `files`
    last (it marks the batch complete). A table that committed the batch before (a retry)
    is left alone. Leaving the block without `commit` removes the uncommitted files.
    """

    def __init__(self, lake_dir: Lake, batch_id: str) -> None:
        self.lake_dir = lake_dir
        self.batch_id = batch_id
        self.number = batch_id.rsplit("-", 1)[-1]  # for the reliability suite's kill points
        self.parts: dict[str, _Part] = {}
        self.tables: dict[str, DeltaTable] = {}

    def __enter__(self) -> BatchWriter:
        for table in LAKE_TABLES:
            self.tables[table] = ensure_table(self.lake_dir, table)
            self.parts[table] = _Part(_new_file_name(self.batch_id), None)
        return self

    def write(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Append the rows as one row group per table (tables without rows are left alone)."""
        for table, rows in rows_by_table.items():
            if rows:
                part = self.parts[table]
                if part.writer is None:
                    part.writer = open_writer(self.lake_dir, table, part.name)
                part.writer.write_table(pa.Table.from_pylist(list(rows), schema=LAKE_TABLES[table]))
                part.rows += len(rows)

    def commit(self) -> None:
        """Close every data file and commit it to its table, `files` last."""
        for part in self.parts.values():
            if part.writer is not None:
                part.writer.close()
        order = [t for t in self.parts if t != COMPLETION_TABLE] + [COMPLETION_TABLE]
        for table in order:
            part = self.parts.pop(table)
            name = part.name if part.rows else None
            _commit_file(self.lake_dir, self.tables[table], table, self.batch_id, name, part.rows)
            checkpoint(f"batch:{self.number}" if table == COMPLETION_TABLE else f"part:{self.number}:{table}")

    def __exit__(self, *exc: object) -> None:
        for table, part in self.parts.items():  # only those not committed are left
            if part.writer is not None:
                part.writer.close()  # a no-op on a closed writer
                lake_store.delete(self.lake_dir, f"{table}/{part.name}")
        self.parts.clear()


# --- the audit's and maintenance's operations --------------------------------------------


def drop_files(lake_dir: Lake, table: str, files: Sequence[DataFile], reason: str) -> None:
    """Take data files out of the table (a commit of `remove` actions); move those present aside."""
    dt = ensure_table(lake_dir, table)
    now = int(datetime.now(UTC).timestamp() * 1000)
    actions: list[AddAction | RemoveAction] = [RemoveAction(f.path, True, now, f.size) for f in files]
    dt.create_write_transaction(actions, "append", LAKE_TABLES[table])
    for f in files:
        if lake_store.is_file(lake_dir, f.relative):
            set_aside(lake_dir, [f.relative], reason)
        else:
            log_set_aside(lake_dir, [(f.relative, "(missing)")], reason)


def delete_batch(lake_dir: Lake, table: str, batch_id: str) -> int:
    """Delete a batch's rows from a table (a Delta delete: kept in its history until vacuum)."""
    dt = open_table(lake_dir, table)
    if dt is None:
        return 0
    quoted = batch_id.replace("'", "''")
    metrics = dt.delete(f"batch_id = '{quoted}'")
    return int(metrics.get("num_deleted_rows", 0) or 0)


# --- the marts' copy ---------------------------------------------------------------------

# The marts' copy, beside the raw tables and apart from them: `lake/marts/<table>/`, a
# Delta table each. The warehouse is never loaded from it: it is for readers without the
# DuckDB file (any Delta reader), replaced whole after each build (an overwrite commit:
# readers of an older version keep it until vacuum).


def mart_uri(lake_dir: Lake, table: str) -> str:
    return table_uri(lake_dir, f"{MARTS_DIR}/{table}")


def write_mart(lake_dir: Lake, table: str, data: pa.Table) -> str:
    """Replace a mart's Delta copy (one overwrite commit, its schema replaced too)."""
    write_deltalake(
        mart_uri(lake_dir, table),
        data,
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=storage_options(lake_dir),
    )
    return mart_uri(lake_dir, table)


def mart_exists(lake_dir: Lake, table: str) -> bool:
    return DeltaTable.is_deltatable(mart_uri(lake_dir, table), storage_options=storage_options(lake_dir))


def remove_mart(lake_dir: Lake, table: str) -> None:
    """Delete a mart's copy (when it could not be brought up to date)."""
    lake_store.delete_folder(lake_dir, f"{MARTS_DIR}/{table}")


def legacy_mart_files(lake_dir: Lake) -> list[Path]:
    """The Parquet lake's marts' copy (`lake/marts/<table>.parquet`), replaced by Delta tables."""
    return lake_store.legacy_folder_files(lake_dir, MARTS_DIR)
