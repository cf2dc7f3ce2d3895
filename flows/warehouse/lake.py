"""The Parquet lake: `<warehouse>/lake/<table>/<batch_id>.parquet`.

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

from flows.warehouse.schema import DERIVED_COLUMNS, LAKE_TABLES

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
    target = part_path(lake_dir, table, batch_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    # Page checksums: bit rot in a part is found when it is read (lake_audit), not loaded.
    pq.write_table(arrow_table, tmp, compression="zstd", write_page_checksum=True)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def write_batch(lake_dir: Path, batch_id: str, rows_by_table: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Write every table of a batch, `files` last (it marks the batch complete)."""
    for table in LAKE_TABLES:
        if table != COMPLETION_TABLE:
            write_part(lake_dir, table, batch_id, rows_by_table.get(table, ()))
    write_part(lake_dir, COMPLETION_TABLE, batch_id, rows_by_table.get(COMPLETION_TABLE, ()))


def complete_batches(lake_dir: Path) -> list[str]:
    """Batch ids whose `files` part exists, in id (= time) order."""
    folder = table_dir(lake_dir, COMPLETION_TABLE)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.parquet"))


def read_files_part(lake_dir: Path, batch_id: str) -> list[dict[str, Any]]:
    """The `files` rows of one batch (small: one row per input file)."""
    return pq.read_table(part_path(lake_dir, COMPLETION_TABLE, batch_id)).to_pylist()


def part_paths(lake_dir: Path, table: str, batch_ids: Iterable[str]) -> list[str]:
    return [str(part_path(lake_dir, table, b)) for b in batch_ids]


def has_current_schema(table: str, path: str | Path) -> bool:
    """Whether a part holds every column of its table's current schema (reads the footer only)."""
    return set(LAKE_TABLES[table].names) <= set(pq.read_schema(path).names)


def upgrade(table: str, data: pa.Table) -> pa.Table:
    """Rows of `table` written under an older schema, in the current one.

    A missing derived column is computed from its source column; a missing nullable
    column is NULL; a missing required column raises ValueError.
    """
    schema = LAKE_TABLES[table]
    derived = DERIVED_COLUMNS.get(table, {})
    columns: list[pa.Array | pa.ChunkedArray] = []
    for field in schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        elif field.name in derived:
            source, derive = derived[field.name]
            values = data.column(source).to_pylist()
            columns.append(pa.array([None if v is None else derive(v) for v in values], field.type))
        elif field.nullable:
            columns.append(pa.nulls(data.num_rows, field.type))
        else:
            raise ValueError(f"lake table {table}: a part lacks the required column {field.name}")
    return pa.Table.from_arrays(columns, schema=schema)


def read_part(table: str, path: str | Path) -> pa.Table:
    """One lake part in its table's current schema (see `upgrade`)."""
    return upgrade(table, pq.read_table(path))
