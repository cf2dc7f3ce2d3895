"""The Parquet lake of the versions before the Delta lake: `<warehouse>/lake/<table>/<batch_id>.parquet`.

Kept for one purpose: `flows.warehouse.migrate` reads (and its tests write) a lake in
this layout and converts it to Delta tables once. Nothing else writes it any more.

A batch is written table by table, each file under a temporary name then renamed,
with `files` last: a batch whose `files` part exists is complete. Parts of a batch
without it come from an interrupted run; `flows.warehouse.lake_audit` sets them aside
(and checks every batch before it is trusted). Parts carry page checksums.

Parts are never rewritten. A part written before a column was added to its table's
schema is read in the current schema (`read_part`): derived columns computed by their
function, new nullable columns NULL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flows.warehouse.faults import checkpoint
from flows.warehouse.schema import ADDED_TABLES, LAKE_TABLES, upgrade

COMPLETION_TABLE = "files"


def table_dir(lake_dir: Path, table: str) -> Path:
    return lake_dir / table


def part_path(lake_dir: Path, table: str, batch_id: str) -> Path:
    return table_dir(lake_dir, table) / f"{batch_id}.parquet"


def write_part(lake_dir: Path, table: str, batch_id: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write one table's rows of a batch atomically (temporary name, fsync, rename)."""
    return write_arrow_part(lake_dir, table, batch_id, pa.Table.from_pylist(list(rows), schema=LAKE_TABLES[table]))


def write_arrow_part(lake_dir: Path, table: str, batch_id: str, data: pa.Table) -> Path:
    """Write one table's part of a batch from Arrow, atomically, in the table's schema."""
    schema = LAKE_TABLES[table]
    columns = [data.column(field.name).cast(field.type) for field in schema]
    arrow_table = pa.Table.from_arrays(columns, schema=schema)
    return _write_atomically(arrow_table, part_path(lake_dir, table, batch_id))


def _write_atomically(data: pa.Table, target: Path) -> Path:
    """Write `data` to `target` whole or not at all: a temporary name, fsync, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    # Page checksums: bit rot in a part is found when it is read (lake_audit), not loaded.
    pq.write_table(data, tmp, compression="zstd", write_page_checksum=True)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def write_batch(lake_dir: Path, batch_id: str, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Write every table of a batch, `files` last (it marks the batch complete)."""
    with BatchWriter(lake_dir, batch_id) as writer:
        writer.write(rows_by_table)
        writer.commit()


class BatchWriter:
    """Write one batch's parts a row group at a time, so a large batch never sits in memory.

    Every table is written to a temporary file as rows come (`write`); `commit` closes
    them, syncs them and renames them into place, `files` last (it marks the batch
    complete). Leaving the block without `commit` removes the temporary files.
    """

    def __init__(self, lake_dir: Path, batch_id: str) -> None:
        self.number = batch_id.rsplit("-", 1)[-1]  # for the reliability suite's kill points
        self.targets = {table: part_path(lake_dir, table, batch_id) for table in LAKE_TABLES}
        self.temps = {table: path.with_name(f".{path.name}.tmp") for table, path in self.targets.items()}
        self.writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> BatchWriter:
        for table, tmp in self.temps.items():
            tmp.parent.mkdir(parents=True, exist_ok=True)
            self.writers[table] = pq.ParquetWriter(
                tmp, LAKE_TABLES[table], compression="zstd", write_page_checksum=True
            )
        return self

    def write(self, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Append the rows as one row group per table (tables without rows are left alone)."""
        for table, rows in rows_by_table.items():
            if rows:
                self.writers[table].write_table(pa.Table.from_pylist(list(rows), schema=LAKE_TABLES[table]))

    def commit(self) -> None:
        """Close, sync and rename every part into place, `files` last."""
        for writer in self.writers.values():
            writer.close()
        order = [t for t in self.targets if t != COMPLETION_TABLE] + [COMPLETION_TABLE]
        for table in order:
            with open(self.temps[table], "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.temps[table], self.targets[table])
            checkpoint(f"batch:{self.number}" if table == COMPLETION_TABLE else f"part:{self.number}:{table}")

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers.values():
            writer.close()  # a no-op on a closed writer
        for tmp in self.temps.values():
            tmp.unlink(missing_ok=True)


def complete_batches(lake_dir: Path) -> list[str]:
    """Batch ids whose `files` part exists, in id (= time) order."""
    folder = table_dir(lake_dir, COMPLETION_TABLE)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.parquet") if not p.name.startswith("part-"))


def read_files_part(lake_dir: Path, batch_id: str) -> list[dict[str, Any]]:
    """The `files` rows of one batch (small: one row per input file)."""
    return pq.read_table(part_path(lake_dir, COMPLETION_TABLE, batch_id)).to_pylist()


def part_paths(lake_dir: Path, table: str, batch_ids: Iterable[str]) -> list[str]:
    """The batches' parts of `table`; a batch written before the table existed
    (`schema.ADDED_TABLES`) has none and is left out: it holds no rows of it."""
    paths = [part_path(lake_dir, table, b) for b in batch_ids]
    return [str(p) for p in paths if table not in ADDED_TABLES or p.is_file()]


def has_current_schema(table: str, path: str | Path) -> bool:
    """Whether a part holds every column of its table's current schema (reads the footer only)."""
    return set(LAKE_TABLES[table].names) <= set(pq.read_schema(path).names)


def read_part(table: str, path: str | Path) -> pa.Table:
    """One lake part in its table's current schema (see `upgrade`)."""
    return upgrade(table, pq.read_table(path))


def empty(table: str) -> pa.Table:
    """No rows of `table`, in its schema."""
    return pa.Table.from_pylist([], schema=LAKE_TABLES[table])
