"""Files held out of the warehouse because a data test failed with them: defence in depth.

Every rule a page can break ends as that page's status (parser checks, warehouse checks
in `core.bulletin_checks`); the data tests check our own SQL. Should one fail all the
same, a bug let a page through: the load finds the file it fails with (`build`), holds
it out and loads the rest, so one page can never block every later run and `rebuild`.

A hold is kept in the lake, `<lake>/_holds/<fingerprint>.json`, so `rebuild` holds out
the same files. It names the SQL and seeds it was found under (`build.models_fingerprint`):
when they change (the bug fixed), the file is tried again, and held again if it fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

HOLDS_DIR = "_holds"


@dataclass(frozen=True)
class Hold:
    """A file held out, and why."""

    file_sha256: str
    path: str
    reason: str  # "held out: data test <name> failed with this file ..."


def holds_path(lake_dir: Path, fingerprint: str) -> Path:
    return lake_dir / HOLDS_DIR / f"{fingerprint}.json"


def read_holds(lake_dir: Path, fingerprint: str | None = None) -> list[Hold]:
    """The holds found under `fingerprint` (every fingerprint's when None), oldest first."""
    folder = lake_dir / HOLDS_DIR
    if not folder.is_dir():
        return []
    paths = [holds_path(lake_dir, fingerprint)] if fingerprint else sorted(folder.glob("*.json"))
    holds: list[Hold] = []
    for path in paths:
        if path.is_file():
            holds += [Hold(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    return holds


def add_holds(lake_dir: Path, fingerprint: str, new: Sequence[Hold]) -> None:
    """Add holds under `fingerprint`, written atomically (temporary name, fsync, rename)."""
    target = holds_path(lake_dir, fingerprint)
    target.parent.mkdir(parents=True, exist_ok=True)
    holds = read_holds(lake_dir, fingerprint)
    holds += [h for h in new if h.file_sha256 not in {k.file_sha256 for k in holds}]
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump([asdict(h) for h in holds], fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
