"""Files held out of the warehouse because a data test failed with them: defence in depth.

Every rule a page can break ends as that page's status (parser checks, warehouse checks
in `core.bulletin_checks`); the data tests check our own SQL. Should one fail all the
same, a bug let a page through: the load finds the file it fails with (`build`), holds
it out and loads the rest, so one page can never block every later run and `rebuild`.

A hold is kept in the lake, `<lake>/_holds/<fingerprint>.json`, so `rebuild` holds out
the same files. It names the SQL and seeds it was found under (`build.models_fingerprint`):
when they change (the bug fixed), the file is tried again, and held again if it fails.
The load copies the holds into `ingest.file_holds`; readers see the file in `core.files`,
quarantined with `status_by` data_test and the hold's reason first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from flows.warehouse import lake_store
from flows.warehouse.lake_store import Lake

HOLDS_DIR = "_holds"


@dataclass(frozen=True)
class Hold:
    """A file held out, and why."""

    file_sha256: str
    path: str
    reason: str  # "held out: data test <name> failed with this file ..."


def holds_path(fingerprint: str) -> str:
    """Where the holds found under `fingerprint` are, relative to the lake."""
    return f"{HOLDS_DIR}/{fingerprint}.json"


def read_holds(lake_dir: Lake, fingerprint: str | None = None) -> list[Hold]:
    """The holds found under `fingerprint` (every fingerprint's when None), oldest first."""
    if fingerprint:
        names = [holds_path(fingerprint)]
    else:
        names = [f"{HOLDS_DIR}/{n}" for n in lake_store.list_files(lake_dir, HOLDS_DIR)]
        names = [n for n in names if n.endswith(".json") and "/" not in n[len(HOLDS_DIR) + 1 :]]
        names = [n for n in names if not n.rsplit("/", 1)[-1].startswith(".")]  # a write's temporary file
    holds: list[Hold] = []
    for name in names:
        text = lake_store.read_text(lake_dir, name)
        if text is not None:
            holds += [Hold(**row) for row in json.loads(text)]
    return holds


def add_holds(lake_dir: Lake, fingerprint: str, new: Sequence[Hold]) -> None:
    """Add holds under `fingerprint`, written whole or not at all (a local rename; one S3 PUT)."""
    holds = read_holds(lake_dir, fingerprint)
    holds += [h for h in new if h.file_sha256 not in {k.file_sha256 for k in holds}]
    lake_store.write_text(
        lake_dir, holds_path(fingerprint), json.dumps([asdict(h) for h in holds], ensure_ascii=False, indent=1)
    )
