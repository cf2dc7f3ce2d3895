"""Checking the lake before trusting it: sound batches load, others are restored or set aside.

The lake is Delta tables (`flows.warehouse.lake`). What can go wrong with one after it
was written (a disk, a hand, a tool):

- a data file the table's log references is missing, or fails to read whole (page
  checksums verified; a cut, a flipped bit, a file that is not Parquet);
- a batch has rows in the data tables but none in `files`: a run was stopped between
  its commits (or its `files` rows were lost with a damaged file).

A damaged data file is taken out of its table (a commit of a `remove` action: the table
reads again) and moved to `lake/_quarantine/<table>/`. The batches it held rows of (its
batch id statistics name them) are then put right:

- a batch the warehouse has loaded gets its rows of that table written again from the
  warehouse's rows (`restore`): its remaining rows there are deleted, the warehouse's
  appended (a new version of the batch's transaction);
- any other batch is set aside: its rows are deleted from every table (Delta deletes:
  the rows stay in the tables' history until `vacuum`), it is not loaded, and the files
  it held, recorded nowhere else, are parsed again from the inbox by the next run.

Every move and every batch set aside is appended to `lake/_quarantine/quarantine.log`
with its reason, recorded in the batch record (`lake/_batches`, `set_aside`/`restored`)
and reported to the caller (the run's log and summary, `bulletins rebuild`'s output).
A run checks in full only the files holding batches it has not loaded (the others are
only checked to be there); `rebuild` reads every file. A run never crashes on a damaged
lake: whatever cannot be read ends as a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pyarrow as pa

from flows.warehouse import batch_record, lake
from flows.warehouse.lake import SET_ASIDE_DIR, SET_ASIDE_LOG, Lake
from flows.warehouse.schema import LAKE_TABLES

__all__ = [
    "RESTORED",
    "SET_ASIDE",
    "SET_ASIDE_DIR",
    "SET_ASIDE_LOG",
    "LakeAction",
    "LakeProblem",
    "audit",
    "late_batches",
    "set_late_batches_aside",
]


class LakeAction(Enum):
    """What the audit did about an unsound batch; its value is the batch record's word for it."""

    RESTORED = batch_record.RESTORED
    SET_ASIDE = batch_record.SET_ASIDE

    @property
    def words(self) -> str:
        """How a line for people says it (`LakeProblem.line`)."""
        return _ACTION_WORDS[self]


_ACTION_WORDS = {
    LakeAction.RESTORED: "restored from the warehouse",
    LakeAction.SET_ASIDE: f"set aside (rows taken out of the lake's tables, logged in lake/{SET_ASIDE_DIR}), not loaded",
}
RESTORED, SET_ASIDE = LakeAction.RESTORED, LakeAction.SET_ASIDE

UNFINISHED_BATCH = "no files rows (a run stopped before writing them, or they were lost)"
LATE_BATCH = "completed after a later run took over its run's plan"

# (lake table, batch id) -> the rows the warehouse holds for that table of the batch, or None.
RowsFromWarehouse = Callable[[str, str], pa.Table | None]


@dataclass(frozen=True)
class LakeProblem:
    """One unsound lake batch and what was done about it."""

    batch_id: str
    reason: str  # names the table's file (an old lake's part: legacy_audit) and what is wrong with it
    action: LakeAction
    files: int | None = None  # inbox files its `files` rows record, when they could be read

    @property
    def set_aside(self) -> bool:
        return self.action is LakeAction.SET_ASIDE

    def line(self) -> str:
        """One line for logs and the CLI.

        >>> LakeProblem("b1", "files file part-b1.parquet is missing", RESTORED, 64).line()
        'lake batch b1 (64 files): files file part-b1.parquet is missing: restored from the warehouse'
        """
        files = f" ({self.files} files)" if self.files is not None else ""
        return f"lake batch {self.batch_id}{files}: {self.reason}: {self.action.words}"


def audit(
    lake_dir: Lake,
    *,
    loaded: set[str],
    full: bool,
    restore: RowsFromWarehouse | None = None,
) -> list[LakeProblem]:
    """Check the lake; restore or set aside what is unsound; return what was found.

    `loaded`: batches the warehouse holds (restorable from it). `full`: read every data
    file; otherwise only those holding batches not loaded, and the others' presence.
    """
    if not lake.exists(lake_dir):
        return []
    problems: list[LakeProblem] = []
    reasons: dict[str, list[str]] = {}  # batch id -> why it must be put right
    damaged_tables: dict[str, set[str]] = {}  # batch id -> tables whose rows of it were lost
    lost = {t: why for t in LAKE_TABLES if (why := _log_problem(lake_dir, t)) is not None}
    lost_tables = list(lost)
    for table in LAKE_TABLES:
        strays = lake.stray_files(lake_dir, table, lost=table in lost_tables)
        if table in lost:  # the whole table moves aside; its batches are reported below
            if strays:
                lake.set_aside(lake_dir, strays, lost[table])
            continue
        for relative in strays:
            problems.append(
                LakeProblem(relative.rsplit("/", 1)[-1], f"{relative} is not a file of its Delta table", SET_ASIDE)
            )
        if strays:
            lake.set_aside(lake_dir, strays, f"{table}: not a file of its Delta table")
    held: dict[str, set[str]] = {}
    scan_failed: set[str] = set()
    for table in LAKE_TABLES:
        try:
            held[table] = lake.batch_ids_in(lake_dir, table)
        except Exception:  # a damaged file stops the scan: every file of the table is read
            held[table] = set()
            scan_failed.add(table)
    for table in LAKE_TABLES:
        bad: list[lake.DataFile] = []
        for data_file in lake.data_files(lake_dir, table):
            read = full or table in scan_failed or _holds_unloaded(data_file, loaded)
            problem = lake.file_problem(lake_dir, data_file, read=read)
            if problem is None:
                continue
            bad.append(data_file)
            for batch_id in _batches_of(data_file, held, loaded):
                reasons.setdefault(batch_id, []).append(problem)
                damaged_tables.setdefault(batch_id, set()).add(table)
        if bad:
            lake.drop_files(lake_dir, table, bad, "taken out of the Delta table: " + "; ".join(b.path for b in bad))
    if lost_tables and (set().union(*held.values()) or loaded):  # a table's log is gone: its rows with it
        for batch_id in set().union(*held.values()) | loaded:
            for table in lost_tables:
                reasons.setdefault(batch_id, []).append(lost[table])
                damaged_tables.setdefault(batch_id, set()).add(table)
        for table in lost_tables:
            lake.ensure_table(lake_dir, table)
    for table in scan_failed | (set().union(*damaged_tables.values()) if damaged_tables else set()):
        held[table] = lake.batch_ids_in(lake_dir, table)
    written = set(lake.complete_batches(lake_dir))
    for batch_id in sorted(set().union(*held.values()) - written - loaded):
        reasons.setdefault(batch_id, []).insert(0, UNFINISHED_BATCH)

    files_count = _files_counts(lake_dir, sorted(reasons))
    for batch_id in sorted(reasons):
        reason = "; ".join(dict.fromkeys(reasons[batch_id]))
        tables = damaged_tables.get(batch_id, set())
        if batch_id not in written and batch_id in loaded:
            tables = tables | {lake.COMPLETION_TABLE}
        if batch_id in loaded and restore is not None and _restore(lake_dir, batch_id, tables, restore):
            problems.append(LakeProblem(batch_id, reason, RESTORED, files_count.get(batch_id)))
        else:
            _set_batch_aside(lake_dir, batch_id, reason)
            problems.append(LakeProblem(batch_id, reason, SET_ASIDE, files_count.get(batch_id)))
    _record(lake_dir, [p for p in problems if p.batch_id in reasons])
    return problems


def _log_problem(lake_dir: Lake, table: str) -> str | None:
    """Why a table cannot be read from its log (gone, or a commit that does not parse), or None."""
    try:
        if lake.open_table(lake_dir, table) is None:
            return f"the {table} table's log is gone"
        lake.data_files(lake_dir, table)
    except Exception as exc:  # a damaged commit file: the table is lost as a whole, put right below
        return f"the {table} table's log cannot be read ({lake.first_line(exc)})"
    return None


def _holds_unloaded(data_file: lake.DataFile, loaded: set[str]) -> bool:
    """Whether a file may hold a batch the warehouse has not loaded (then it is read whole)."""
    if data_file.min_batch is None or data_file.max_batch is None:
        return True
    return data_file.min_batch not in loaded or data_file.max_batch not in loaded


def _batches_of(data_file: lake.DataFile, held: dict[str, set[str]], loaded: set[str]) -> list[str]:
    """The batches a damaged file may hold rows of: those in its batch id range."""
    known = set().union(*held.values()) | loaded
    if data_file.min_batch is None or data_file.max_batch is None:
        return sorted(known)
    return sorted(b for b in known if data_file.min_batch <= b <= data_file.max_batch)


def _files_counts(lake_dir: Lake, batch_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    try:
        for row in lake.read_files_rows(lake_dir, batch_ids):
            counts[row["batch_id"]] = counts.get(row["batch_id"], 0) + 1
    except Exception:  # the files table cannot be read now: the counts are unknown
        return {}
    return counts


def _restore(lake_dir: Lake, batch_id: str, tables: set[str], restore: RowsFromWarehouse) -> bool:
    """Write the batch's rows of `tables` again from the warehouse; whether that was done."""
    rows: dict[str, pa.Table] = {}
    for table in tables or set(LAKE_TABLES):
        try:
            data = restore(table, batch_id)
        except Exception:  # the warehouse cannot give it back (damaged too): set the batch aside
            return False
        if data is None:
            return False
        rows[table] = data
    # Data tables first, `files` last, as a run writes them.
    for table in sorted(rows, key=lambda t: t == lake.COMPLETION_TABLE):
        dt = lake.ensure_table(lake_dir, table)
        version = (dt.transaction_version(batch_id) or 0) + 1
        lake.delete_batch(lake_dir, table, batch_id)
        lake.append_arrow(lake_dir, table, batch_id, rows[table], version=version)
    return True


def _set_batch_aside(lake_dir: Lake, batch_id: str, reason: str) -> None:
    """Delete the batch's rows from every table (`files` first: it is no longer complete)."""
    entries = []
    for table in sorted(LAKE_TABLES, key=lambda t: t != lake.COMPLETION_TABLE):
        try:
            deleted = lake.delete_batch(lake_dir, table, batch_id)
        except Exception as exc:  # say so; the batch stays out of the warehouse all the same
            entries.append((f"{table} rows of batch {batch_id}", f"not deleted ({type(exc).__name__})"))
            continue
        if deleted:
            entries.append(
                (f"{table} rows of batch {batch_id}", f"{deleted} row(s) deleted, kept in the table history")
            )
    lake.log_set_aside(lake_dir, entries or [(f"batch {batch_id}", "no rows left")], reason)


def _record(lake_dir: Lake, problems: list[LakeProblem]) -> None:
    entries = [
        batch_record.StateChange(
            batch_record.run_of(p.batch_id),
            p.batch_id,
            p.action.value,
            reason=p.reason,
        )
        for p in problems
    ]
    if entries:
        batch_record.append(lake_dir, entries)


def late_batches(pending_rows: Sequence[Mapping[str, Any]], recorded: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Complete batches not loaded that would record an entry a second time: batch id -> why.

    An entry is its path and ingest_seq: a run that takes over an interrupted run's plan
    gives each entry still unchanged the planned seq (`flows.warehouse.plans`), and parses
    it again unless a complete batch of the interrupted run holds it. A batch that
    completes after that (a Dask task runs on after the flow's process is killed; it
    cannot be stopped) records the same entries as the later run's batch. It loses:
    against the warehouse's records (`recorded`), and among batches not loaded the later
    run's wins (batch ids sort by run).

    >>> row = {"batch_id": "A-0001", "path": "a.txt", "ingest_seq": 1}
    >>> late_batches([row, {**row, "batch_id": "B-0001"}], recorded=[])
    {'A-0001': "completed after a later run took over its run's plan: a.txt (ingest_seq 1) is recorded by batch B-0001"}
    >>> late_batches([row], recorded=[{"path": "a.txt", "ingest_seq": 1}])["A-0001"].endswith("by the warehouse")
    True
    >>> late_batches([row, {**row, "batch_id": "B-0001", "ingest_seq": 2}], recorded=[{"path": "a.txt", "ingest_seq": 3}])
    {}
    """
    recorded_by = {(r["path"], r["ingest_seq"]): "the warehouse" for r in recorded}
    entries: dict[str, list[tuple[str, int]]] = {}
    for row in pending_rows:
        entries.setdefault(row["batch_id"], []).append((row["path"], row["ingest_seq"]))
    late: dict[str, str] = {}
    for batch_id in sorted(entries, reverse=True):  # the latest run's first
        clash = next((entry for entry in entries[batch_id] if entry in recorded_by), None)
        if clash is not None:
            path, seq = clash
            late[batch_id] = f"{LATE_BATCH}: {path} (ingest_seq {seq}) is recorded by {recorded_by[clash]}"
            continue
        recorded_by.update(dict.fromkeys(entries[batch_id], f"batch {batch_id}"))
    return late


def set_late_batches_aside(
    lake_dir: Lake, pending_rows: Sequence[Mapping[str, Any]], recorded: Iterable[Mapping[str, Any]]
) -> list[LakeProblem]:
    """Set aside the `late_batches` (their rows deleted from every table, logged, recorded):
    what the warehouse or a later batch records is loaded once."""
    late = late_batches(pending_rows, recorded)
    counts: dict[str, int] = {}
    for row in pending_rows:
        counts[row["batch_id"]] = counts.get(row["batch_id"], 0) + 1
    problems = [LakeProblem(batch_id, reason, SET_ASIDE, counts[batch_id]) for batch_id, reason in sorted(late.items())]
    for problem in problems:
        _set_batch_aside(lake_dir, problem.batch_id, problem.reason)
    _record(lake_dir, problems)
    return problems
