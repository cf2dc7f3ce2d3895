"""Reading the lake's Delta tables: which batches they hold, their rows, their data files.

A table is opened from its log (`flows.warehouse.lake.open_table`); its data files are
read through the lake's pyarrow filesystem (`lake_store.filesystem`), a local folder's
or S3's. The load reads a local lake's batch with DuckDB's own Parquet reader
(`local_batch_files`), an S3 lake's as a pyarrow stream (`remote_batch_reader`; DuckDB has
no httpfs here).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from flows.warehouse import lake_store
from flows.warehouse.lake_store import Lake
from flows.warehouse.schema import LAKE_TABLES, computable

if TYPE_CHECKING:
    pass

COMPLETION_TABLE = "files"


def open_table(lake_dir: Lake, table: str) -> DeltaTable | None:
    """The Delta table, or None when it was never created."""
    uri = lake_store.table_uri(lake_dir, table)
    options = lake_store.storage_options(lake_dir)
    if lake_store.is_remote(lake_dir):
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            return None
        return DeltaTable(uri, storage_options=options)
    # A local table is opened without asking first (a second read of its log); a folder
    # without a log, or with an empty one, is a table never created.
    if not os.path.isdir(os.path.join(uri, "_delta_log")):
        return None
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None


@dataclass(frozen=True)
class DataFile:
    """A data file the table's log references."""

    table: str
    path: str  # relative to the table root
    size: int
    min_batch: str | None
    max_batch: str | None

    @property
    def relative(self) -> str:
        """Its path relative to the lake."""
        return f"{self.table}/{self.path}"


def data_files(lake_dir: Lake, table: str) -> list[DataFile]:
    """The data files the table's current version references."""
    dt = open_table(lake_dir, table)
    if dt is None:
        return []
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    return [DataFile(table, a["path"], a["size_bytes"], a.get("min.batch_id"), a.get("max.batch_id")) for a in actions]


def dataset(lake_dir: Lake, table: str) -> pads.Dataset | None:
    """The table as a pyarrow dataset (what DuckDB scans), or None when it does not exist."""
    dt = open_table(lake_dir, table)
    return None if dt is None else dt.to_pyarrow_dataset()


def batch_filter(batch_ids: Iterable[str]) -> pc.Expression:
    return pc.field("batch_id").isin(sorted(set(batch_ids)))


def batch_files(lake_dir: Lake, table: str, batch_ids: Sequence[str]) -> list[str]:
    """The data files of the table's current version that may hold rows of the batches (pruned
    on their batch id statistics), relative to the lake."""
    wanted = sorted(set(batch_ids))
    return [
        f.relative
        for f in data_files(lake_dir, table)
        if f.min_batch is None or f.max_batch is None or any(f.min_batch <= b <= f.max_batch for b in wanted)
    ]


def local_batch_files(lake_dir: Lake, table: str, batch_ids: Sequence[str]) -> list[str]:
    """A local lake's data files that may hold the batches, as paths DuckDB's own Parquet
    reader opens (it streams a row group at a time: through a pyarrow dataset the load cost
    200 MB more at its peak on a 2-year backfill, measured)."""
    return [lake_store.path(lake_dir, f) for f in batch_files(lake_dir, table, batch_ids)]


def remote_batch_reader(lake_dir: Lake, table: str, batch_ids: Sequence[str]) -> pa.RecordBatchReader | None:
    """An S3 lake's rows of the batches, streamed by pyarrow's S3 filesystem (None: no file
    may hold them).

    Not DuckDB reading through an fsspec filesystem registered on the connection: its
    threads then read one file's handle at once, and in the cluster test a load failed on
    "Invalid data" in a footer or, worse, read fewer rows than the files hold. pyarrow's
    reader is safe on any number of threads.
    """
    files = batch_files(lake_dir, table, batch_ids)
    if not files:
        return None
    found = pads.dataset(
        [lake_store.path(lake_dir, f) for f in files],
        schema=LAKE_TABLES[table],
        format="parquet",
        filesystem=lake_store.filesystem(lake_dir),
    )
    return found.scanner(filter=batch_filter(batch_ids)).to_reader()


def _read_batch_ids(lake_dir: Lake, relatives: Sequence[str]) -> set[str]:
    paths = [lake_store.path(lake_dir, r) for r in relatives]
    ds = pads.dataset(paths, format="parquet", filesystem=lake_store.filesystem(lake_dir))
    return set(pc.unique(ds.to_table(columns=["batch_id"]).column("batch_id")).to_pylist())


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
            several.append(f.relative)
    if several:
        ids |= _read_batch_ids(lake_dir, several)
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


def file_problem(lake_dir: Lake, data_file: DataFile, *, read: bool) -> str | None:
    """What is wrong with a referenced data file (missing; unreadable when `read`), or None."""
    if not lake_store.is_file(lake_dir, data_file.relative):
        return f"{data_file.table} file {data_file.path} is missing"
    if not read:
        return None
    where = lake_store.path(lake_dir, data_file.relative)
    try:
        data = pq.read_table(where, filesystem=lake_store.filesystem(lake_dir), page_checksum_verification=True)
    except Exception as exc:  # any failure to read is a reason, whatever pyarrow raises
        detail = lake_store.first_line(exc).replace(f"Could not open Parquet input source '{where}': ", "")
        return f"{data_file.table} file {data_file.path} unreadable ({detail})"
    # A column added since the file was written is not wrong: `lake_upgrade` computes it.
    table = data_file.table
    wrong = [f.name for f in LAKE_TABLES[table] if f.name not in data.column_names and not computable(table, f)]
    if wrong:
        return f"{data_file.table} file {data_file.path} lacks the column {wrong[0]}"
    return None
