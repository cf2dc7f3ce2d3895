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

Every path operation on the lake is in this module (the lake may later be an
`s3://bucket/prefix`: `storage_options` hands deltalake the standard AWS variables).
Any Delta reader opens the tables: `DeltaTable(uri).to_pyarrow_dataset()` (registered on
a DuckDB connection), Polars' `read_delta`, Spark (docs/delta-lake.md).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.transaction import AddAction, RemoveAction

from flows.warehouse.faults import checkpoint
from flows.warehouse.schema import LAKE_TABLES

COMPLETION_TABLE = "files"

# The tables beside the raw ones: the batch record (flows.warehouse.batch_record), the
# marts' copy, what the audit set aside, what the migration from the Parquet lake kept.
QUARANTINE_DIR = "_quarantine"
QUARANTINE_LOG = "quarantine.log"
MIGRATED_DIR = "_migrated"
MARTS_DIR = "marts"

Lake = Path | str  # a local folder; later an s3://bucket/prefix


# --- where things are ------------------------------------------------------------------


def is_remote(lake_dir: Lake) -> bool:
    return "://" in str(lake_dir)


def _local(lake_dir: Lake) -> Path:
    if is_remote(lake_dir):
        raise NotImplementedError(f"{lake_dir}: only a local lake is written by this version")
    return Path(lake_dir)


def table_uri(lake_dir: Lake, table: str) -> str:
    """The Delta table of a raw table, or of anything else under the lake (`marts/<name>`)."""
    return f"{str(lake_dir).rstrip('/')}/{table}"


def table_dir(lake_dir: Lake, table: str) -> Path:
    """A local table's folder (the legacy Parquet parts lived here too)."""
    return _local(lake_dir) / table


def storage_options(lake_dir: Lake) -> dict[str, str] | None:
    """deltalake's storage options: none for a local lake; the standard AWS variables for s3://."""
    if not is_remote(lake_dir):
        return None
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL")
    options = {name: os.environ[name] for name in names if os.environ.get(name)}
    if "AWS_REGION" not in options and os.environ.get("AWS_DEFAULT_REGION"):
        options["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def exists(lake_dir: Lake) -> bool:
    return is_remote(lake_dir) or Path(lake_dir).is_dir()


# --- tables ----------------------------------------------------------------------------


def open_table(lake_dir: Lake, table: str) -> DeltaTable | None:
    """The Delta table, or None when it was never created."""
    uri = table_uri(lake_dir, table)
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options(lake_dir)):
        return None
    return DeltaTable(uri, storage_options=storage_options(lake_dir))


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


def _stats(batch_ids: Sequence[str], rows: int) -> str:
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


def _commit_file(lake_dir: Lake, table: str, batch_id: str, name: str | None, rows: int, version: int = 1) -> bool:
    """Add a written data file (or none, for a table without rows) as the batch's commit.

    Returns False (and removes the file) when the table holds the batch at `version` already.
    """
    dt = ensure_table(lake_dir, table)
    done = dt.transaction_version(batch_id)
    path = table_dir(lake_dir, table) / name if name else None
    if done is not None and done >= version:
        if path is not None:
            path.unlink(missing_ok=True)  # an earlier try committed this table: never twice
        return False
    actions: list[AddAction | RemoveAction] = []
    if path is not None and name is not None:
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        stat = path.stat()
        actions.append(AddAction(name, stat.st_size, {}, int(stat.st_mtime * 1000), True, _stats([batch_id], rows)))
    dt.create_write_transaction(
        actions,
        "append",
        LAKE_TABLES[table],
        commit_properties=CommitProperties(app_transactions=[Transaction(app_id=batch_id, version=version)]),
    )
    return True


def _open_writer(lake_dir: Lake, table: str, name: str) -> pq.ParquetWriter:
    folder = table_dir(lake_dir, table)
    folder.mkdir(parents=True, exist_ok=True)
    # Page checksums: bit rot in a data file is found when it is read (lake_audit), not loaded.
    return pq.ParquetWriter(folder / name, LAKE_TABLES[table], compression="zstd", write_page_checksum=True)


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
    ensure_table(lake_dir, table)
    if arrow_table.num_rows == 0:
        return _commit_file(lake_dir, table, batch_id, None, 0, version)
    name = _new_file_name(batch_id)
    writer = _open_writer(lake_dir, table, name)
    try:
        writer.write_table(arrow_table)
    finally:
        writer.close()
    return _commit_file(lake_dir, table, batch_id, name, arrow_table.num_rows, version)


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

    def __enter__(self) -> BatchWriter:
        for table in LAKE_TABLES:
            ensure_table(self.lake_dir, table)
            self.parts[table] = _Part(_new_file_name(self.batch_id), None)
        return self

    def write(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Append the rows as one row group per table (tables without rows are left alone)."""
        for table, rows in rows_by_table.items():
            if rows:
                part = self.parts[table]
                if part.writer is None:
                    part.writer = _open_writer(self.lake_dir, table, part.name)
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
            _commit_file(self.lake_dir, table, self.batch_id, part.name if part.rows else None, part.rows)
            checkpoint(f"batch:{self.number}" if table == COMPLETION_TABLE else f"part:{self.number}:{table}")

    def __exit__(self, *exc: object) -> None:
        for table, part in self.parts.items():  # only those not committed are left
            if part.writer is not None:
                part.writer.close()  # a no-op on a closed writer
                (table_dir(self.lake_dir, table) / part.name).unlink(missing_ok=True)
        self.parts.clear()


# --- reading ---------------------------------------------------------------------------


def dataset(lake_dir: Lake, table: str) -> pads.Dataset | None:
    """The table as a pyarrow dataset (what DuckDB scans), or None when it does not exist."""
    dt = open_table(lake_dir, table)
    return None if dt is None else dt.to_pyarrow_dataset()


def batch_filter(batch_ids: Iterable[str]) -> pc.Expression:
    return pc.field("batch_id").isin(sorted(set(batch_ids)))


def batch_file_paths(lake_dir: Lake, table: str, batch_ids: Sequence[str]) -> list[str]:
    """The data files of the table's current version that may hold rows of the batches (pruned
    on their batch id statistics), as local paths: what the load reads with DuckDB's own
    Parquet reader. Streaming them through a pyarrow dataset cost 200 MB more at the load's
    peak on a 2-year backfill, and twice the time (measured)."""
    wanted = sorted(set(batch_ids))
    root = table_dir(lake_dir, table)
    return [
        str(root / f.path)
        for f in data_files(lake_dir, table)
        if f.min_batch is None or f.max_batch is None or any(f.min_batch <= b <= f.max_batch for b in wanted)
    ]


def batch_ids_in(lake_dir: Lake, table: str) -> set[str]:
    """The batch ids the table holds rows of.

    A file of one batch says so in its statistics (nothing read); the batch_id column is
    read only from files holding several (compacted) or without statistics.
    """
    ids: set[str] = set()
    several: list[str] = []
    for f in data_files(lake_dir, table):
        if f.min_batch is not None and f.min_batch == f.max_batch:
            ids.add(f.min_batch)
        else:
            several.append(str(table_dir(lake_dir, table) / f.path))
    if several:
        column = pads.dataset(several, format="parquet").to_table(columns=["batch_id"]).column("batch_id")
        ids |= set(pc.unique(column).to_pylist())
    return ids


def complete_batches(lake_dir: Lake) -> list[str]:
    """Batch ids with rows in the `files` table, in id (= time) order."""
    return sorted(batch_ids_in(lake_dir, COMPLETION_TABLE))


def read_files_rows(lake_dir: Lake, batch_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The `files` rows of the batches (small: one row per input file), in batch order."""
    if not batch_ids:
        return []
    ds = dataset(lake_dir, COMPLETION_TABLE)
    if ds is None:
        return []
    rows = ds.to_table(filter=batch_filter(batch_ids)).to_pylist()
    order = {b: n for n, b in enumerate(batch_ids)}
    return sorted(rows, key=lambda r: order[r["batch_id"]])


def read_files_part(lake_dir: Lake, batch_id: str) -> list[dict[str, Any]]:
    """The `files` rows of one batch."""
    return read_files_rows(lake_dir, [batch_id])


def read_batch(lake_dir: Lake, table: str, batch_id: str) -> pa.Table:
    """One table's rows of a batch, in the table's schema (empty when it has none)."""
    ds = dataset(lake_dir, table)
    if ds is None:
        return pa.Table.from_pylist([], schema=LAKE_TABLES[table])
    return ds.to_table(filter=batch_filter([batch_id]))


# --- the audit's and maintenance's operations --------------------------------------------


@dataclass(frozen=True)
class DataFile:
    """A data file the table's log references."""

    table: str
    path: str  # relative to the table root
    size: int
    min_batch: str | None
    max_batch: str | None


def data_files(lake_dir: Lake, table: str) -> list[DataFile]:
    """The data files the table's current version references."""
    dt = open_table(lake_dir, table)
    if dt is None:
        return []
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    return [DataFile(table, a["path"], a["size_bytes"], a.get("min.batch_id"), a.get("max.batch_id")) for a in actions]


def file_problem(lake_dir: Lake, data_file: DataFile, *, read: bool) -> str | None:
    """What is wrong with a referenced data file (missing; unreadable when `read`), or None."""
    path = table_dir(lake_dir, data_file.table) / data_file.path
    if not path.is_file():
        return f"{data_file.table} file {data_file.path} is missing"
    if not read:
        return None
    try:
        data = pq.read_table(path, page_checksum_verification=True)
    except Exception as exc:  # any failure to read is a reason, whatever pyarrow raises
        detail = first_line(exc).replace(f"Could not open Parquet input source '{path}': ", "")
        return f"{data_file.table} file {data_file.path} unreadable ({detail})"
    wrong = [f.name for f in LAKE_TABLES[data_file.table] if f.name not in data.column_names]
    if wrong:
        return f"{data_file.table} file {data_file.path} lacks the column {wrong[0]}"
    return None


def drop_files(lake_dir: Lake, table: str, files: Sequence[DataFile], reason: str) -> None:
    """Take data files out of the table (a commit of `remove` actions); move those present aside."""
    dt = ensure_table(lake_dir, table)
    now = int(datetime.now(UTC).timestamp() * 1000)
    actions: list[AddAction | RemoveAction] = [RemoveAction(f.path, True, now, f.size) for f in files]
    dt.create_write_transaction(actions, "append", LAKE_TABLES[table])
    for f in files:
        path = table_dir(lake_dir, table) / f.path
        if path.exists():
            set_aside(lake_dir, [path], reason)
        else:
            log_set_aside(lake_dir, [(f"{table}/{f.path}", "(missing)")], reason)


def delete_batch(lake_dir: Lake, table: str, batch_id: str) -> int:
    """Delete a batch's rows from a table (a Delta delete: kept in its history until vacuum)."""
    dt = open_table(lake_dir, table)
    if dt is None:
        return 0
    quoted = batch_id.replace("'", "''")
    metrics = dt.delete(f"batch_id = '{quoted}'")
    return int(metrics.get("num_deleted_rows", 0) or 0)


def set_aside(lake_dir: Lake, paths: Sequence[Path], reason: str) -> None:
    """Move files into lake/_quarantine/<relative path> (never over another) and log why."""
    root = _local(lake_dir)
    quarantine = root / QUARANTINE_DIR
    moved = []
    for path in paths:
        target = quarantine / path.relative_to(root)
        n = 0
        while target.exists():
            n += 1
            target = target.with_name(f"{path.name}.{n}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved.append((str(path.relative_to(root)), str(target.relative_to(root))))
    log_set_aside(lake_dir, moved, reason)


def log_set_aside(lake_dir: Lake, entries: Sequence[tuple[str, str]], reason: str) -> None:
    """Append (what, where it went) lines with their reason to lake/_quarantine/quarantine.log."""
    quarantine = _local(lake_dir) / QUARANTINE_DIR
    quarantine.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    with open(quarantine / QUARANTINE_LOG, "a", encoding="utf-8") as log:
        log.writelines(f"{when}\t{what}\t{where}\t{reason}\n" for what, where in entries)


def stray_files(lake_dir: Lake, table: str, *, lost: bool = False) -> list[Path]:
    """What a table's folder holds that is not its Delta table: not `_delta_log`, not a data
    file (`part-*.parquet`, ours or delta-rs's). `lost`: the table's log is gone, so every
    file in its folder is a stray (no reader can use it)."""
    folder = table_dir(lake_dir, table)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name == "_delta_log" and not lost:
            continue
        if path.is_file() and path.name.startswith("part-") and path.name.endswith(".parquet") and not lost:
            continue
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return found


def move_to_migrated(lake_dir: Lake, path: Path) -> Path:
    """Keep a converted file of the Parquet lake under lake/_migrated/ (nothing is deleted)."""
    root = _local(lake_dir)
    target = root / MIGRATED_DIR / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
    if not is_remote(lake_dir):
        shutil.rmtree(table_dir(lake_dir, f"{MARTS_DIR}/{table}"), ignore_errors=True)


def legacy_mart_files(lake_dir: Lake) -> list[Path]:
    """The Parquet lake's marts' copy (`lake/marts/<table>.parquet`), replaced by Delta tables."""
    folder = _local(lake_dir) / MARTS_DIR
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def legacy_part_files(lake_dir: Lake, table: str) -> list[Path]:
    """The Parquet lake's parts of a table (`<table>/<batch_id>.parquet`, leftovers included)."""
    folder = _local(lake_dir) / table
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith("part-") and p.name.endswith((".parquet", ".parquet.tmp"))
    )
