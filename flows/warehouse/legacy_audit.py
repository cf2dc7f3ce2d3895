"""The Parquet lake's audit, as the versions before Delta ran it: kept for the migration.

`flows.warehouse.migrate` runs it over an old lake before converting it, so that what the
old version would have restored or set aside is, before anything is converted.

(The old module's description follows.) Checking the lake before trusting it: sound
batches load, others are restored or set aside.

A lake part can be lost or damaged after it was written (a disk, a hand, a tool). Before
this module, a missing `files` part made the next run delete the batch's other parts,
and a truncated part made every `rebuild` fail. Now nothing in the lake is deleted on the
word of a part that cannot be trusted:

- a batch the warehouse has loaded, with a part missing or unsound, gets that part
  written again from the warehouse's rows (`restore`); the unsound file is moved aside;
- any other unsound batch (a run stopped before its `files` part, a part cut short, bit
  rot, a wrong schema, rows naming another batch) has all its parts moved to
  `lake/_quarantine/<table>/` and is not loaded; the files it held are not recorded
  anywhere else, so the next run parses them again from the inbox;
- every move is appended to `lake/_quarantine/quarantine.log` with its reason, and
  reported to the caller (the run's log and summary, `bulletins rebuild`'s output).

A part is sound when pyarrow reads it whole (page checksums verified where written),
its columns are its table's (older parts may lack columns added since), every row's
`batch_id` is the file's name, and the batch's parts agree: data rows only for files its
`files` part records, unit rows only for its bulletins. A run checks in full only the
batches it is about to load (incremental: loaded batches are only checked to be
there); `rebuild` checks every batch.

Only leftovers of our own interrupted writes (`.<part>.parquet.tmp`) are deleted.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flows.warehouse import lake, lake_store, legacy_lake
from flows.warehouse.lake_audit import RESTORED, SET_ASIDE, LakeProblem, RowsFromWarehouse
from flows.warehouse.schema import ADDED_TABLES, LAKE_TABLES, computable


def audit_parquet_lake(
    lake_dir: Path,
    *,
    loaded: set[str],
    full: bool,
    restore: RowsFromWarehouse | None = None,
) -> list[LakeProblem]:
    """Check the lake; restore or set aside what is unsound; return what was found.

    `loaded`: batches the warehouse holds (restorable from it). `full`: check every
    batch's contents; otherwise only those not loaded, and the others' presence.
    """
    if not lake_dir.is_dir():
        return []
    problems: list[LakeProblem] = []
    strays: list[Path] = []
    batches: dict[str, dict[str, Path]] = {}
    for table in LAKE_TABLES:
        folder = legacy_lake.legacy_table_dir(lake_dir, table)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name == "_delta_log" or path.name.startswith("part-"):
                continue  # the Delta table the lake is being converted to (flows.warehouse.migrate)
            if path.name.startswith(".") and path.name.endswith(".parquet.tmp") and path.is_file():
                path.unlink()  # our own write, interrupted before its rename: never data
            elif path.suffix == ".parquet" and path.is_file() and not path.name.startswith("."):
                batches.setdefault(path.stem, {})[table] = path
            else:
                strays.append(path)
    for path in strays:
        _set_aside(lake_dir, [path], f"{path.relative_to(lake_dir)} is not a lake part")
        problems.append(LakeProblem(path.name, f"{path.relative_to(lake_dir)} is not a lake part", SET_ASIDE))

    for batch_id in sorted(batches):
        parts = batches[batch_id]
        check_contents = full or batch_id not in loaded
        reasons = _missing(parts) + (check_batch(lake_dir, batch_id, parts) if check_contents else [])
        if not reasons:
            continue
        files = _files_count(parts)
        reason = "; ".join(reasons)
        if batch_id in loaded and restore is not None and _restore(lake_dir, batch_id, parts, restore):
            problems.append(LakeProblem(batch_id, reason, RESTORED, files))
            continue
        _set_aside(lake_dir, list(parts.values()), reason)
        problems.append(LakeProblem(batch_id, reason, SET_ASIDE, files))
    return problems


def _missing(parts: dict[str, Path]) -> list[str]:
    if legacy_lake.COMPLETION_TABLE not in parts:
        return ["no files part (a run stopped before writing it, or it was lost)"]
    # A batch from before a table was added has no part of it (schema.ADDED_TABLES).
    return [f"no {table} part" for table in LAKE_TABLES if table not in parts and table not in ADDED_TABLES]


def check_batch(lake_dir: Path, batch_id: str, parts: dict[str, Path] | None = None) -> list[str]:
    """Why the batch's parts cannot be trusted ([] when they can)."""
    if parts is None:
        parts = {t: p for t in LAKE_TABLES if (p := legacy_lake.part_path(lake_dir, t, batch_id)).is_file()}
    tables: dict[str, pa.Table] = {}
    reasons: list[str] = []
    for table, path in parts.items():
        try:
            data = pq.read_table(path, page_checksum_verification=True)
        except Exception as exc:  # any failure to read is a reason, whatever pyarrow raises
            detail = _first_line(exc).replace(f"Could not open Parquet input source '{path}': ", "")
            reasons.append(f"{table} part unreadable ({detail})")
            continue
        wrong = _schema_problem(table, data.schema)
        if wrong:
            reasons.append(f"{table} part {wrong}")
            continue
        named = set(data.column("batch_id").to_pylist())
        if named - {batch_id}:
            reasons.append(f"{table} part rows name batch {', '.join(sorted(map(str, named - {batch_id})))}")
            continue
        tables[table] = data
    files = tables.get(legacy_lake.COMPLETION_TABLE)
    if files is not None:
        recorded = set(files.column("file_sha256").to_pylist())
        for table, data in tables.items():
            if table != legacy_lake.COMPLETION_TABLE and set(data.column("file_sha256").to_pylist()) - recorded:
                reasons.append(f"{table} part has rows of files its files part does not record")
    for child in ("bulletin_units", "bulletin_scores"):
        if "bulletins" in tables and child in tables:
            bulletin_ids = set(tables["bulletins"].column("bulletin_id").to_pylist())
            if set(tables[child].column("bulletin_id").to_pylist()) - bulletin_ids:
                reasons.append(f"{child} part has rows of bulletins its bulletins part does not hold")
    return reasons


def _schema_problem(table: str, schema: pa.Schema) -> str | None:
    """What is wrong with a part's columns, or None (older parts may lack newer columns)."""
    expected = LAKE_TABLES[table]
    extra = [name for name in schema.names if name not in expected.names]
    if extra:
        return f"has columns its table does not ({', '.join(extra[:4])})"
    for field in expected:
        if field.name in schema.names:
            if not schema.field(field.name).type.equals(field.type):
                return f"column {field.name} is {schema.field(field.name).type}, not {field.type}"
        elif not computable(table, field):
            return f"lacks the column {field.name}"
    return None


def _files_count(parts: dict[str, Path]) -> int | None:
    path = parts.get(legacy_lake.COMPLETION_TABLE)
    if path is None:
        return None
    try:
        return pq.read_metadata(path).num_rows
    except Exception:  # an unreadable footer: the count is unknown
        return None


def _restore(lake_dir: Path, batch_id: str, parts: dict[str, Path], restore: RowsFromWarehouse) -> bool:
    """Write the batch's unsound parts again from the warehouse; whether the batch is sound now."""
    bad = [t for t in LAKE_TABLES if t not in parts and t not in ADDED_TABLES] + [
        t for t in parts if check_batch(lake_dir, batch_id, {t: parts[t]})
    ]
    # A consistency failure names no single part: rewrite them all.
    if not bad:
        bad = list(LAKE_TABLES)
    rows: dict[str, pa.Table] = {}
    for table in bad:
        try:
            data = restore(table, batch_id)
        except Exception:  # the warehouse cannot give it back (damaged too): set the batch aside
            return False
        if data is None:
            return False
        rows[table] = data
    for table in rows:
        if table in parts:
            _set_aside(lake_dir, [parts[table]], f"replaced by the warehouse's rows of batch {batch_id}")
    # Data parts first, the files part last, as a run writes them.
    for table in sorted(rows, key=lambda t: t == legacy_lake.COMPLETION_TABLE):
        legacy_lake.write_arrow_part(lake_dir, table, batch_id, rows[table])
    return not check_batch(lake_dir, batch_id)


def _set_aside(lake_dir: Path, paths: list[Path], reason: str) -> None:
    """Move files into lake/_quarantine/<relative path> (never over another) and log why: the
    Delta lake's own `set_aside`, whose quarantine both layouts share."""
    lake.set_aside(lake_dir, [lake_store.relative(lake_dir, p) for p in paths], reason)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
