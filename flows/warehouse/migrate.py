"""The one-time conversion of a Parquet lake (the versions before Delta) to Delta tables.

The first run of this version (or `rebuild`, or `maintain`), under the run lock, finds
the old layout — `lake/<table>/<batch_id>.parquet` parts, `lake/_plans/<run>.json`,
`lake/marts/<table>.parquet` — and converts it, nothing lost:

1. the old audit checks every old batch first (`legacy_audit`, in full, with the
   warehouse to restore from): what the old version would have restored is restored,
   what it would have set aside goes to `lake/_quarantine` as it would have;
2. each complete old batch is appended to the Delta tables, table by table, `files`
   last, with the batch id as its transaction id (old parts read in the current schema,
   `schema.upgrade`), recorded as `migrated`; its old parts then move to
   `lake/_migrated/<table>/` (kept: delete them once satisfied);
3. each old plan becomes a `planned` row of the batch record, then its file is removed;
4. the old marts' copy is removed (the next build writes the Delta copy).

A conversion killed midway is resumed by the next run: a batch the Delta tables hold
already (its transaction id) is not appended again, only its old parts moved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from flows.settings import S3Location
from flows.warehouse import batch_record, lake, lake_store, legacy_audit, legacy_lake, plans
from flows.warehouse.lake_audit import LakeProblem, RowsFromWarehouse
from flows.warehouse.schema import ADDED_TABLES, LAKE_TABLES


@dataclass
class Migration:
    """What the conversion did."""

    batches: int = 0  # old batches appended to the Delta tables by this call
    already: int = 0  # old batches the Delta tables held before (a resumed conversion)
    plans: int = 0
    problems: list[LakeProblem] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"converted the Parquet lake to Delta tables: {self.batches} batch(es) appended"
            f"{f', {self.already} already in' if self.already else ''}, {self.plans} plan(s) recorded; "
            f"old parts kept in lake/{lake.MIGRATED_DIR}"
        )


def needs_migration(lake_dir: lake.Lake) -> bool:
    """Whether the lake holds anything of the Parquet layout: never an S3 lake (the Parquet
    lake only ever was a local folder; an S3 lake starts as Delta tables)."""
    if isinstance(lake_dir, S3Location) or not lake_dir.is_dir():
        return False
    if any(lake.legacy_part_files(lake_dir, table) for table in LAKE_TABLES):
        return True
    if lake.legacy_mart_files(lake_dir):
        return True
    return bool(_legacy_plan_files(lake_dir))


def _legacy_plan_files(lake_dir: Path) -> list[Path]:
    folder = lake_dir / plans.LEGACY_PLANS_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def migrate(lake_at: lake.Lake, *, loaded: set[str], restore: RowsFromWarehouse | None = None) -> Migration | None:
    """Convert the Parquet layout found in the lake (None when there is none: always for S3)."""
    if not needs_migration(lake_at):
        return None
    lake_dir = lake_store.local(lake_at, "converting a Parquet lake")
    done = Migration()
    _move_converted(lake_dir, done)  # a conversion killed after appending a batch, before moving it
    # What the old version would have found: restored, or set aside, before it is converted.
    done.problems = legacy_audit.audit_parquet_lake(lake_dir, loaded=loaded, full=True, restore=restore)
    for batch_id in legacy_lake.complete_legacy_batches(lake_dir):
        _convert_batch(lake_dir, batch_id)
        done.batches += 1
        _move_batch(lake_dir, batch_id)
    _convert_plans(lake_dir, done)
    for path in lake.legacy_mart_files(lake_dir):
        path.unlink()
    return done


def _convert_batch(lake_dir: Path, batch_id: str) -> None:
    """Append an old batch's parts to the Delta tables (each once), `files` last; record it."""
    order = [t for t in LAKE_TABLES if t != lake.COMPLETION_TABLE] + [lake.COMPLETION_TABLE]
    for table in order:
        path = legacy_lake.part_path(lake_dir, table, batch_id)
        if not path.is_file():
            if table in ADDED_TABLES:  # a batch from before the table existed holds none of it
                lake.append_arrow(lake_dir, table, batch_id, legacy_lake.empty(table))
                continue
            raise FileNotFoundError(f"{path}: a part the old audit found is gone")
        lake.append_arrow(lake_dir, table, batch_id, legacy_lake.read_part(table, path))
    files = legacy_lake.read_legacy_files_part(lake_dir, batch_id)
    batch_record.append(
        lake_dir,
        [
            batch_record.StateChange(
                batch_record.run_of(batch_id),
                batch_id,
                batch_record.MIGRATED,
                reason="converted from the Parquet lake",
                files=len(files),
            )
        ],
    )


def _move_batch(lake_dir: Path, batch_id: str) -> None:
    """Move an old batch's parts to lake/_migrated, `files` last (it marks the old batch complete)."""
    order = [t for t in LAKE_TABLES if t != lake.COMPLETION_TABLE] + [lake.COMPLETION_TABLE]
    for table in order:
        path = legacy_lake.part_path(lake_dir, table, batch_id)
        if path.is_file():
            lake.move_to_migrated(lake_dir, path)


def _move_converted(lake_dir: Path, done: Migration) -> None:
    """Move the old parts of batches the Delta `files` table holds already (a resumed conversion)."""
    files_table = lake.open_table(lake_dir, lake.COMPLETION_TABLE)
    if files_table is None:
        return
    stems = {p.name.removesuffix(".parquet") for t in LAKE_TABLES for p in lake.legacy_part_files(lake_dir, t)}
    for batch_id in sorted(stems):
        if lake.has_batch(files_table, batch_id):
            _move_batch(lake_dir, batch_id)
            done.already += 1


def _convert_plans(lake_dir: Path, done: Migration) -> None:
    for path in _legacy_plan_files(lake_dir):
        try:
            payload = json.loads(path.read_text(encoding="ascii"))
            entries = json.dumps(payload["entries"], ensure_ascii=True)
        except (OSError, ValueError, KeyError, TypeError):
            entries = None  # unreadable: as before, it only costs its entries their planned seqs
        if entries is not None:
            run = path.name.removesuffix(".json")
            batch_record.append(lake_dir, [batch_record.StateChange(run, None, batch_record.PLANNED, entries=entries)])
            done.plans += 1
        path.unlink()
    folder = lake_dir / plans.LEGACY_PLANS_DIR
    if folder.is_dir():
        for leftover in folder.iterdir():  # an interrupted plan write's temporary file
            leftover.unlink()
        folder.rmdir()
