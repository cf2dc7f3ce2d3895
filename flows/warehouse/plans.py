"""A run's plan, in the lake before anything is parsed: each new entry's ingest_seq.

`ingest_seq` breaks ties between two printings of one week (the file taken in later
wins), so it must not depend on where a run was stopped. A run records its plan (every
entry it will record, with its seq, its decision and when it was first seen) in the
lake's batch record (`flows.warehouse.batch_record`: a `planned` row) before it parses
anything. The next run finds the plans not closed and gives every entry it still finds
unchanged (same path, size, mtime and sha256) the planned seq and decision: the
warehouse ends exactly as if the first run had finished. A run that finishes closes
the plans (a `plan_closed` row each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from flows.warehouse import batch_record
from flows.warehouse.inbox import InboxFile
from flows.warehouse.lake_store import Lake
from flows.warehouse.schema import DERIVED_COLUMNS

# The Parquet lake kept plans as `<lake>/_plans/<run>.json` (`flows.warehouse.migrate`).
LEGACY_PLANS_DIR = "_plans"


# InboxFile's fields are flat values: read them directly (`asdict` deep-copies each one,
# 0.5 s of a 10-year backfill's plan, measured).
_FIELDS = tuple(f.name for f in fields(InboxFile))


def _entry(item: InboxFile) -> dict[str, Any]:
    row = {name: getattr(item, name) for name in _FIELDS}
    row["reasons"] = list(item.reasons)
    row["seen_at"] = item.seen_at.isoformat() if item.seen_at else None
    return row


def _item(row: dict[str, Any]) -> InboxFile:
    values = {k: v for k, v in row.items() if k in _FIELDS}
    values["reasons"] = tuple(values.get("reasons") or ())
    values["seen_at"] = datetime.fromisoformat(values["seen_at"]) if values.get("seen_at") else None
    if "over_size_limit" not in values:  # a plan from before the column: derived as an old row's is
        source, derive = DERIVED_COLUMNS["files"]["over_size_limit"]
        values["over_size_limit"] = derive(list(values[source]))
    return InboxFile(**values)


def plan_entries_json(items: Sequence[InboxFile]) -> str:
    """A plan's entries as JSON; names that are not UTF-8 travel as escapes (lone surrogates)."""
    return json.dumps([_entry(i) for i in items], ensure_ascii=True)


def write_plan(lake_dir: Lake, run: str, items: Sequence[InboxFile]) -> str:
    """Record a run's plan (one commit); returns the run it is recorded under."""
    batch_record.append(
        lake_dir, [batch_record.StateChange(run, None, batch_record.PLANNED, entries=plan_entries_json(items))]
    )
    return run


def _open_plan_runs(lake_dir: Lake) -> list[str]:
    """The runs whose plan is not closed, oldest first (their entries are not read)."""
    rows = batch_record.read(lake_dir, [batch_record.PLANNED, batch_record.PLAN_CLOSED], columns=["state"])
    closed = {r["run"] for r in rows if r["state"] == batch_record.PLAN_CLOSED}
    return list(
        dict.fromkeys(str(r["run"]) for r in rows if r["state"] == batch_record.PLANNED and r["run"] not in closed)
    )


def read_plans(lake_dir: Lake) -> list[InboxFile]:
    """The entries of every plan not closed, oldest plan first.

    A plan that cannot be read is passed over: it only costs its entries their planned
    seqs (they get new ones, as in a run that never planned them).
    """
    runs = _open_plan_runs(lake_dir)
    if not runs:  # the usual case: a run that finished closed its plan
        return []
    items: list[InboxFile] = []
    for row in batch_record.read(lake_dir, [batch_record.PLANNED], columns=["entries"], runs=runs):
        try:
            items += [_item(entry) for entry in json.loads(str(row["entries"]))]
        except (ValueError, KeyError, TypeError):
            continue
    return items


def remove_plans(lake_dir: Lake, keep: str | None = None) -> None:
    """Close every open plan except `keep`'s (what they held is recorded, or in that plan)."""
    batch_record.append(
        lake_dir,
        [
            batch_record.StateChange(run, None, batch_record.PLAN_CLOSED)
            for run in _open_plan_runs(lake_dir)
            if run != keep
        ],
    )
