"""The lake's batch record: a Delta table, `lake/_batches`, one row per state change.

What a run planned, which batches it wrote, which the warehouse loaded, which the audit
set aside or restored and which came from the Parquet lake: each is a row appended here
with when and why, so the lake's state is one table any Delta reader can query
(docs/delta-lake.md) instead of being implied by which part files exist.

- `planned` (a run's row, `batch_id` NULL): the run's plan, every entry it will record
  with its ingest_seq, decision and first sighting (`entries`, JSON), written before
  anything is parsed (`flows.warehouse.plans`);
- `plan_closed` (a run's row): the plan is recorded in the warehouse, or in a later plan;
- `written`: the batch's `files` rows are committed (the batch is complete);
- `loaded`: the warehouse committed the batch (its own `ingest.batches` stays the truth:
  written in the same transaction as the rows);
- `set_aside` / `restored`: what the audit did (`reason` says why);
- `migrated`: the batch was converted from the Parquet lake (`flows.warehouse.migrate`).

A row is appended with an application transaction (its `run:state:batch` key), so writing
the same state twice (a retry) adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError

from flows.warehouse import lake
from flows.warehouse.schema import LAKE_TABLES

RECORD_TABLE = "_batches"

PLANNED = "planned"
PLAN_CLOSED = "plan_closed"
WRITTEN = "written"
LOADED = "loaded"
SET_ASIDE = "set_aside"
RESTORED = "restored"
MIGRATED = "migrated"

SCHEMA = pa.schema(
    [
        pa.field("run", pa.string(), nullable=False),
        pa.field("batch_id", pa.string()),
        pa.field("state", pa.string(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("files", pa.int64()),
        pa.field("entries", pa.string()),
    ]
)


@dataclass(frozen=True)
class StateChange:
    """One state change of a batch (or of a run's plan)."""

    run: str
    batch_id: str | None
    state: str
    reason: str | None = None
    files: int | None = None
    entries: str | None = None  # a plan's entries, JSON

    @property
    def key(self) -> str:
        return f"{self.run}:{self.state}:{self.batch_id or ''}"


def run_of(batch_id: str) -> str:
    """The run that wrote a batch: its id's stamp (`<stamp>-<n>`).

    >>> run_of("20260101T000000000000Z-0003")
    '20260101T000000000000Z'
    """
    return batch_id.rsplit("-", 1)[0]


def create_tables(lake_dir: lake.Lake) -> None:
    """Create the raw tables and the record when missing: before parse workers commit to
    them at once (the run calls it under its lock)."""
    for table in LAKE_TABLES:
        lake.ensure_table(lake_dir, table)
    lake.ensure_table(lake_dir, RECORD_TABLE, SCHEMA)


def _table(lake_dir: lake.Lake) -> DeltaTable | None:
    return lake.open_table(lake_dir, RECORD_TABLE)


# How often an append is tried again after another writer's commit of some of its keys.
APPEND_TRIES = 5


def append(lake_dir: lake.Lake, entries: Sequence[StateChange]) -> int:
    """Append state changes in one commit; those appended before (same key) are left out.

    Returns how many rows were appended. Two writers appending the same key at once (a
    batch Dask ran twice at once) append it once: Delta refuses the second commit of a
    transaction id, and the second writer tries again without the keys now in.
    """
    for _ in range(APPEND_TRIES - 1):
        try:
            return _append_new(lake_dir, entries)
        except CommitFailedError:
            continue
    return _append_new(lake_dir, entries)


def _append_new(lake_dir: lake.Lake, entries: Sequence[StateChange]) -> int:
    dt = _table(lake_dir)
    new = [e for e in entries if dt is None or dt.transaction_version(e.key) is None]
    new = list({e.key: e for e in new}.values())
    if not new:
        return 0
    at = datetime.now(UTC)
    rows = [
        {
            "run": e.run,
            "batch_id": e.batch_id,
            "state": e.state,
            "at": at,
            "reason": e.reason,
            "files": e.files,
            "entries": e.entries,
        }
        for e in new
    ]
    # Committed on the version the keys were checked on: had another writer committed one
    # of them since, Delta refuses this commit (CommitFailedError) and `append` checks again.
    write_deltalake(
        dt if dt is not None else lake.table_uri(lake_dir, RECORD_TABLE),
        pa.Table.from_pylist(rows, schema=SCHEMA),
        mode="append",
        storage_options=None if dt is not None else lake.storage_options(lake_dir),
        commit_properties=CommitProperties(app_transactions=[Transaction(app_id=e.key, version=1) for e in new]),
    )
    return len(new)


def read(
    lake_dir: lake.Lake,
    states: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    runs: Sequence[str] | None = None,
) -> list[dict[str, object]]:
    """The record's rows (of `states` and `runs` only, when given), in the order they were appended.

    `columns` (with `at`, `run` and `batch_id` always read, for the order) keeps the plans'
    entries out of reads that do not need them: every plan stays in the record, and its
    JSON is most of the record's bytes.
    """
    dt = _table(lake_dir)
    if dt is None:
        return []
    wanted = None if columns is None else list(dict.fromkeys(["at", "run", "batch_id", *columns]))
    where = None
    if states is not None:
        where = pc.field("state").isin(list(states))
    if runs is not None:
        in_runs = pc.field("run").isin(list(runs))
        where = in_runs if where is None else where & in_runs
    rows = dt.to_pyarrow_dataset().to_table(columns=wanted, filter=where).to_pylist()
    return sorted(rows, key=lambda r: (r["at"], r["run"], r["batch_id"] or ""))


def batches_in(lake_dir: lake.Lake, state: str) -> set[str]:
    """The batches with a row of `state`."""
    return {str(r["batch_id"]) for r in read(lake_dir, [state], columns=[]) if r["batch_id"] is not None}


def record_loaded(lake_dir: lake.Lake, batch_ids: Sequence[str]) -> int:
    """The `loaded` rows of batches the warehouse committed (those recorded before are left out)."""
    return append(lake_dir, [StateChange(run_of(b), b, LOADED) for b in batch_ids])
