"""The Parquet lake of the versions before the Delta lake: `<warehouse>/lake/<table>/<batch_id>.parquet`.

Kept for one purpose: `flows.warehouse.migrate` reads (and its tests write) a lake in
this layout and converts it to Delta tables once. Nothing else writes it any more.

A batch was written table by table, each file under a temporary name then renamed,
with `files` last: a batch whose `files` part exists is complete. Parts of a batch
without it come from an interrupted run; `flows.warehouse.legacy_audit` sets them aside
(and checks every batch before it is trusted). Parts carry page checksums.

Parts are never rewritten. A part written before a column was added to its table's
schema is read in the current schema (`read_part`): derived columns computed by their
function, new nullable columns NULL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flows.warehouse.atomic import write_atomic_with
from flows.warehouse.schema import LAKE_TABLES, upgrade

COMPLETION_TABLE = "files"


def legacy_table_dir(lake_dir: Path, table: str) -> Path:
    return lake_dir / table


def part_path(lake_dir: Path, table: str, batch_id: str) -> Path:
    return legacy_table_dir(lake_dir, table) / f"{batch_id}.parquet"


def write_arrow_part(lake_dir: Path, table: str, batch_id: str, data: pa.Table) -> Path:
    """Write one table's part of a batch from Arrow, atomically, in the table's schema."""
    schema = LAKE_TABLES[table]
    columns = [data.column(field.name).cast(field.type) for field in schema]
    arrow_table = pa.Table.from_arrays(columns, schema=schema)
    return _write_atomically(arrow_table, part_path(lake_dir, table, batch_id))


def _write_atomically(data: pa.Table, target: Path) -> Path:
    """Write `data` to `target` whole or not at all (`flows.warehouse.atomic`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Page checksums: bit rot in a part is found when it is read (legacy_audit), not loaded.
    # The temporary name is the one legacy_audit knows as an interrupted write of ours.
    return write_atomic_with(
        target,
        lambda tmp: pq.write_table(data, tmp, compression="zstd", write_page_checksum=True),
        tmp=target.with_name(f".{target.name}.tmp"),
    )


def complete_legacy_batches(lake_dir: Path) -> list[str]:
    """Batch ids whose `files` part exists, in id (= time) order."""
    folder = legacy_table_dir(lake_dir, COMPLETION_TABLE)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.parquet") if not p.name.startswith("part-"))


def read_legacy_files_part(lake_dir: Path, batch_id: str) -> list[dict[str, Any]]:
    """The `files` rows of one batch (small: one row per input file)."""
    return pq.read_table(part_path(lake_dir, COMPLETION_TABLE, batch_id)).to_pylist()


def has_current_schema(table: str, path: str | Path) -> bool:
    """Whether a part holds every column of its table's current schema (reads the footer only)."""
    return set(LAKE_TABLES[table].names) <= set(pq.read_schema(path).names)


def read_part(table: str, path: str | Path) -> pa.Table:
    """One lake part in its table's current schema (see `upgrade`)."""
    return upgrade(table, pq.read_table(path))


def empty(table: str) -> pa.Table:
    """No rows of `table`, in its schema."""
    return pa.Table.from_pylist([], schema=LAKE_TABLES[table])
