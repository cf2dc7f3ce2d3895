"""A run's plan, in the lake before anything is parsed: each new entry's ingest_seq.

`ingest_seq` breaks ties between two printings of one week (the file taken in later
wins), so it must not depend on where a run was stopped. A run writes its plan (every
entry it will record, with its seq, its decision and when it was first seen) to
`<lake>/_plans/<run>.json` before it parses anything. The next run finds the plan of a
run that did not finish and gives every entry it still finds unchanged (same path, size,
mtime and sha256) the planned seq and decision: the warehouse ends exactly as if the
first run had finished. A run that finishes removes the plans.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.warehouse.inbox import InboxFile

PLANS_DIR = "_plans"


def plans_dir(lake_dir: Path) -> Path:
    return lake_dir / PLANS_DIR


def _entry(item: InboxFile) -> dict[str, Any]:
    row = asdict(item)
    row["reasons"] = list(item.reasons)
    row["seen_at"] = item.seen_at.isoformat() if item.seen_at else None
    return row


def _item(row: dict[str, Any]) -> InboxFile:
    known = {f.name for f in fields(InboxFile)}
    values = {k: v for k, v in row.items() if k in known}
    values["reasons"] = tuple(values.get("reasons") or ())
    values["seen_at"] = datetime.fromisoformat(values["seen_at"]) if values.get("seen_at") else None
    return InboxFile(**values)


def write_plan(lake_dir: Path, run: str, items: Sequence[InboxFile]) -> Path:
    """Write a run's plan atomically (temporary name, fsync, rename); returns its path.

    Names that are not UTF-8 travel as JSON escapes (lone surrogates), so any path fits.
    """
    folder = plans_dir(lake_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run}.json"
    tmp = target.with_name(f".{target.name}.tmp")
    payload = json.dumps({"run": run, "entries": [_entry(i) for i in items]}, ensure_ascii=True)
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def read_plans(lake_dir: Path) -> list[InboxFile]:
    """The entries of every plan left in the lake, oldest plan first.

    A plan that cannot be read is passed over: it only costs its entries their planned
    seqs (they get new ones, as in a run that never planned them).
    """
    folder = plans_dir(lake_dir)
    if not folder.is_dir():
        return []
    items: list[InboxFile] = []
    for path in sorted(folder.glob("*.json")):
        try:
            items += [_item(row) for row in json.loads(path.read_text(encoding="ascii"))["entries"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return items


def remove_plans(lake_dir: Path, keep: Path | None = None) -> None:
    """Remove the plans (and leftover temporary files) in the lake, except `keep`."""
    folder = plans_dir(lake_dir)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path != keep:
            path.unlink(missing_ok=True)
