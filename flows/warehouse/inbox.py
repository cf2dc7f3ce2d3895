"""Discovering new content in the inbox: cost grows with new files, not the archive.

Unchanged paths (same size and mtime as recorded) are not read; new bytes are hashed
once; bytes already taken under another path are duplicates.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A batch closes at whichever limit comes first. Memory does not grow with a batch (its
# rows are written a row group at a time), so batches are large: each is a task with
# a fixed cost in Prefect, and a lake part per table that the load reads.
BATCH_MAX_FILES = 8192
BATCH_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Known:
    """What the warehouse (and complete lake batches) already hold about inbox files."""

    paths: Mapping[str, tuple[int, int]]  # path -> (size_bytes, modified_ns) last seen
    path_shas: frozenset[tuple[str, str]]  # (path, sha256) already recorded
    taken: Mapping[str, str]  # sha256 -> path of the file whose content was taken
    max_ingest_seq: int


def known_files(recorded: Iterable[Mapping[str, Any]]) -> Known:
    """What is known from the recorded files (rows of `ingest.files` or of lake `files` parts).

    The first file recorded with some bytes (by ingest_seq) took them; a file recorded as
    `duplicate` took nothing.

    >>> row = {"path": "a.txt", "size_bytes": 3, "modified_ns": 1, "file_sha256": "s", "status": "loaded"}
    >>> known = known_files([{**row, "ingest_seq": 1}, {**row, "path": "b.txt", "status": "duplicate", "ingest_seq": 2}])
    >>> known.taken, known.max_ingest_seq
    ({'s': 'a.txt'}, 2)
    """
    paths: dict[str, tuple[int, int]] = {}
    path_shas: set[tuple[str, str]] = set()
    taken: dict[str, str] = {}
    max_seq = 0
    for row in sorted(recorded, key=lambda r: r["ingest_seq"]):
        paths[row["path"]] = (row["size_bytes"], row["modified_ns"])
        path_shas.add((row["path"], row["file_sha256"]))
        if row["status"] != "duplicate":
            taken.setdefault(row["file_sha256"], row["path"])
        max_seq = max(max_seq, row["ingest_seq"])
    return Known(paths=paths, path_shas=frozenset(path_shas), taken=taken, max_ingest_seq=max_seq)


@dataclass(frozen=True)
class InboxFile:
    """A file to record this run, with its content hash."""

    path: str  # relative to the inbox, '/'-separated
    size_bytes: int
    modified_ns: int
    file_sha256: str
    ingest_seq: int
    duplicate_of: str | None = None  # path already holding the same bytes


@dataclass
class Plan:
    """What a run will do: files to parse (new content) and duplicates to record."""

    seen: int = 0
    unchanged: int = 0
    to_parse: list[InboxFile] = field(default_factory=list)
    duplicates: list[InboxFile] = field(default_factory=list)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def list_inbox(inbox: Path) -> Iterator[Path]:
    """Regular files under the inbox, in path order; hidden files are skipped."""
    if not inbox.is_dir():
        return
    for path in sorted(inbox.rglob("*")):
        rel = path.relative_to(inbox)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield path


def plan_run(inbox: Path, known: Known) -> Plan:
    """Find new content: unchanged paths are not read; new bytes are hashed once."""
    plan = Plan()
    taken = dict(known.taken)
    seq = known.max_ingest_seq
    for path in list_inbox(inbox):
        plan.seen += 1
        rel = path.relative_to(inbox).as_posix()
        stat = path.stat()
        if known.paths.get(rel) == (stat.st_size, stat.st_mtime_ns):
            plan.unchanged += 1
            continue
        sha = sha256_file(path)
        if (rel, sha) in known.path_shas:  # touched, not changed
            plan.unchanged += 1
            continue
        seq += 1
        item = InboxFile(rel, stat.st_size, stat.st_mtime_ns, sha, seq, taken.get(sha))
        if item.duplicate_of is not None:
            plan.duplicates.append(item)
        else:
            taken[sha] = rel
            plan.to_parse.append(item)
    return plan


def batches(
    items: Sequence[InboxFile], max_files: int = BATCH_MAX_FILES, max_bytes: int = BATCH_MAX_BYTES, spread: int = 1
) -> Iterator[list[InboxFile]]:
    """Group files, in order, into batches bounded by count and bytes.

    With `spread` > 1 (the number of workers), make a multiple of `spread` batches of
    even size, so that the workers finish together (fewer when there are fewer files).

    >>> sizes = [InboxFile(str(n), 10, 0, "", n) for n in range(10)]
    >>> [len(b) for b in batches(sizes, max_bytes=40)]
    [4, 4, 2]
    >>> [len(b) for b in batches(sizes, max_bytes=40, spread=2)]
    [3, 2, 3, 2]
    """
    if spread > 1 and items:
        total = sum(item.size_bytes for item in items)
        count = max(math.ceil(total / max_bytes), math.ceil(len(items) / max_files), 1)
        count = min(math.ceil(count / spread) * spread, len(items))
        yield from _even(items, count, total)
        return
    current: list[InboxFile] = []
    size = 0
    for item in items:
        if current and (len(current) >= max_files or size + item.size_bytes > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += item.size_bytes
    if current:
        yield current


def _even(items: Sequence[InboxFile], count: int, total: int) -> Iterator[list[InboxFile]]:
    """Cut items into `count` runs of about total / count bytes each (none empty)."""
    current: list[InboxFile] = []
    size = 0
    cut = 1
    for n, item in enumerate(items):
        current.append(item)
        size += item.size_bytes
        left_items, left_cuts = len(items) - n - 1, count - cut
        if left_cuts and (size >= total * cut / count or left_items == left_cuts):
            yield current
            current, cut = [], cut + 1
    if current:
        yield current
