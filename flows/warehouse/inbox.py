"""Discovering new content in the inbox: cost grows with new files, not the archive.

Unchanged paths (same size and mtime as recorded) are not read; new bytes are hashed
once; bytes already taken under another path are duplicates. Nothing is followed out of
the inbox: links, hidden entries and special files are recorded by name, never opened.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.settings import DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV
from flows.warehouse.statuses import DUPLICATE, QUARANTINED, SKIPPED

TOO_LARGE = "too large"  # the reason a file over the size limit records

# A batch closes at whichever limit comes first. Memory does not grow with a batch (its
# rows are written a row group at a time), so batches are large: each is a task with
# a fixed cost in Prefect, and a lake part per table that the load reads.
BATCH_MAX_FILES = 8192
BATCH_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Known:
    """What the warehouse (and complete lake batches) already hold about inbox files."""

    paths: Mapping[str, tuple[int, int]]  # path -> (size_bytes, modified_ns) last seen
    path_shas: frozenset[tuple[str, str]]  # (path, sha256) of each path's latest record
    taken: Mapping[str, str]  # sha256 -> path of the file whose content was taken
    max_ingest_seq: int
    too_large: frozenset[str] = frozenset()  # paths last recorded as too large: read again once they fit
    recovering: frozenset[str] = frozenset()  # paths recorded in lake batches not loaded yet (a run stopped)


def known_files(recorded: Iterable[Mapping[str, Any]], pending: Iterable[Mapping[str, Any]] = ()) -> Known:
    """What is known from the recorded files (rows of `ingest.files` or of lake `files` parts).

    The first file recorded with some bytes (by ingest_seq) took them; a file recorded as
    `duplicate` or `skipped` took nothing. `pending` are the rows of complete lake batches
    the warehouse has not loaded (an interrupted run's): known too, and counted apart.

    >>> row = {"path": "a.txt", "size_bytes": 3, "modified_ns": 1, "file_sha256": "s", "status": "loaded"}
    >>> known = known_files([{**row, "ingest_seq": 1}, {**row, "path": "b.txt", "status": "duplicate", "ingest_seq": 2}])
    >>> known.taken, known.max_ingest_seq
    ({'s': 'a.txt'}, 2)
    """
    paths: dict[str, tuple[int, int]] = {}
    path_shas: dict[str, str] = {}
    taken: dict[str, str] = {}
    too_large: set[str] = set()
    max_seq = 0
    pending = list(pending)
    for row in sorted([*recorded, *pending], key=lambda r: r["ingest_seq"]):
        paths[row["path"]] = (row["size_bytes"], row["modified_ns"])
        path_shas[row["path"]] = row["file_sha256"]
        if row["status"] not in (DUPLICATE, SKIPPED):
            taken.setdefault(row["file_sha256"], row["path"])
        if row["status"] == QUARANTINED and any(r.startswith(TOO_LARGE) for r in row.get("reasons") or ()):
            too_large.add(row["path"])
        else:
            too_large.discard(row["path"])
        max_seq = max(max_seq, row["ingest_seq"])
    recovering = frozenset(row["path"] for row in pending)
    return Known(paths, frozenset(path_shas.items()), taken, max_seq, frozenset(too_large), recovering)


@dataclass(frozen=True)
class InboxFile:
    """An inbox entry to record this run: a file to parse, a duplicate, or an entry not read."""

    path: str  # relative to the inbox, '/'-separated; a path that is not UTF-8 escaped (display_path)
    size_bytes: int
    modified_ns: int
    file_sha256: str
    ingest_seq: int
    duplicate_of: str | None = None  # path already holding the same bytes
    fs_path: str | None = None  # the relative path as the OS names it, when it differs from `path`
    status: str | None = None  # set for an entry recorded without parsing: skipped or quarantined
    reasons: tuple[str, ...] = ()  # why it was not read; for a parsed file, notes (a name not UTF-8)
    seen_at: datetime | None = None  # when a run first planned it (its first_seen_at)

    @property
    def source(self) -> str:
        """The relative path to open."""
        return self.fs_path if self.fs_path is not None else self.path


@dataclass
class Plan:
    """What a run will do: files to parse; duplicates and entries not read, to record."""

    seen: int = 0
    unchanged: int = 0
    recovered: int = 0  # unchanged entries recorded in lake batches not loaded yet (loaded by this run)
    to_parse: list[InboxFile] = field(default_factory=list)
    duplicates: list[InboxFile] = field(default_factory=list)
    not_read: list[InboxFile] = field(default_factory=list)  # skipped entries, files over the size limit

    @property
    def recorded_only(self) -> list[InboxFile]:
        """Entries recorded in the `files` table alone (nothing parsed), in ingest order."""
        return sorted(self.duplicates + self.not_read, key=lambda i: i.ingest_seq)


# --------------------------------------------------------------------------- the walk

FILE, LINK, HIDDEN, SPECIAL, UNLISTED = "file", "symbolic link", "hidden", "special", "unlisted"


@dataclass(frozen=True)
class Entry:
    """One inbox entry as the walk saw it: nothing followed, nothing opened."""

    path: str  # display path (see `display_path`)
    fs_path: str  # relative path as the OS names it
    kind: str  # FILE, LINK, HIDDEN, SPECIAL or UNLISTED
    size_bytes: int
    modified_ns: int
    reasons: tuple[str, ...] = ()  # why it is not read; for a FILE, notes


def display_path(fs_path: str) -> tuple[str, bool]:
    r"""The path as recorded, and whether it had to be escaped (it is not UTF-8).

    A path that is not UTF-8 (GBK names from zips made on Windows) is written with every
    byte above 0x7f as \xNN and a backslash as \\: reversible, and text Parquet can hold.

    >>> display_path("a/页.txt")
    ('a/页.txt', False)
    >>> print(display_path(os.fsdecode(b"2020_\xca\xfd.txt"))[0])
    2020_\xca\xfd.txt
    """
    raw = os.fsencode(fs_path)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    escaped = "".join("\\\\" if b == 0x5C else chr(b) if b < 0x80 else f"\\x{b:02x}" for b in raw)
    return escaped, True


def _name_note(fs_path: str, display: str) -> str:
    note = f"file name is not UTF-8: recorded as {display}"
    try:
        return note + f" (as GB18030: {os.fsencode(fs_path).decode('gb18030')})"
    except UnicodeDecodeError:
        return note


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def _entry(fs_path: str, st: os.stat_result, kind: str, reasons: tuple[str, ...] = ()) -> Entry:
    display, escaped = display_path(fs_path)
    if escaped:
        reasons = (*reasons, _name_note(fs_path, display))
    return Entry(display, fs_path, kind, st.st_size, st.st_mtime_ns, reasons)


def walk_inbox(inbox: Path) -> Iterator[Entry]:
    """Every entry under the inbox, in path order, without following anything.

    Regular files are FILEs. A symbolic link (wherever it points, even nowhere or in a
    loop), a hidden file or folder (name starting with "."), a FIFO, socket or device,
    and a folder that cannot be listed are entries with a reason and are never opened.
    Folders are walked, not recorded: an empty folder holds nothing to record.
    """
    if not inbox.is_dir():
        return
    yield from _walk(inbox, "")


def _walk(inbox: Path, prefix: str) -> Iterator[Entry]:
    folder = inbox / prefix if prefix else inbox
    try:
        with os.scandir(folder) as it:
            items = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if not prefix:
            raise
        yield _entry(prefix, os.lstat(folder), UNLISTED, (f"folder could not be listed ({exc.strerror}): not read",))
        return
    for item in items:
        rel = f"{prefix}/{item.name}" if prefix else item.name
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue  # removed while walking: nothing to record
        if item.name.startswith("."):
            what = "hidden folder" if stat.S_ISDIR(st.st_mode) else "hidden"
            yield _entry(rel, st, HIDDEN, (f"{what} (name starts with '.'): not read",))
        elif stat.S_ISLNK(st.st_mode):
            target = display_path(os.readlink(folder / item.name))[0]
            yield _entry(rel, st, LINK, (f"symbolic link to {target}: not followed",))
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(inbox, rel)
        elif stat.S_ISREG(st.st_mode):
            yield _entry(rel, st, FILE)
        else:
            kind = next((name for test, name in _SPECIAL_KINDS if test(st.st_mode)), "special file")
            yield _entry(rel, st, SPECIAL, (f"not a regular file ({kind}): not read",))


def open_regular(path: Path) -> int:
    """Open a regular file for reading: never through a link, never blocking on a FIFO.

    Raises OSError when the path is (by now) a link, a FIFO or anything but a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` + 1 of them (one more: it grew past the limit)."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return fh.read(limit + 1)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a regular file, read in chunks: bounded memory whatever its size."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _not_read_sha(reasons: tuple[str, ...]) -> str:
    """For an entry whose bytes are not read: the sha256 of why (a link's target is in it)."""
    return hashlib.sha256("\n".join(reasons).encode("utf-8")).hexdigest()


def plan_run(
    inbox: Path,
    known: Known,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    planned: Sequence[InboxFile] = (),
    seen_at: datetime | None = None,
) -> Plan:
    """Find new content: unchanged paths are not read; new bytes are hashed once.

    Entries the walk does not read are recorded as `skipped` with their reason; a file
    over `max_file_bytes` is hashed (in chunks) but never parsed: `quarantined`. An entry
    an interrupted run `planned` (`flows.warehouse.plans`) and that is unchanged since
    keeps that plan's seq, decision and first sight; new entries are numbered after
    every seq known or planned.
    """
    plan = Plan()
    taken = dict(known.taken)
    replanned = {(i.path, i.file_sha256): i for i in planned}
    seq = max([known.max_ingest_seq, *(i.ingest_seq for i in planned)])
    for entry in walk_inbox(inbox):
        plan.seen += 1
        # A file once too large is read again when it fits (the limit was raised).
        retry = entry.path in known.too_large and entry.size_bytes <= max_file_bytes
        if known.paths.get(entry.path) == (entry.size_bytes, entry.modified_ns) and not retry:
            if entry.path in known.recovering:
                plan.recovered += 1
            else:
                plan.unchanged += 1
            continue
        fs_path = entry.fs_path if entry.fs_path != entry.path else None
        status, reasons = None, entry.reasons
        if entry.kind == FILE:
            try:
                sha = sha256_file(inbox / entry.fs_path)
            except OSError as exc:
                status, reasons = SKIPPED, (*reasons, f"could not be read ({exc.strerror or exc}): not read")
                sha = _not_read_sha(reasons)
        else:
            status, sha = SKIPPED, _not_read_sha(reasons)
        if (entry.path, sha) in known.path_shas and not retry:  # touched, not changed
            plan.unchanged += 1
            continue
        earlier = replanned.get((entry.path, sha))
        if earlier is not None and (earlier.size_bytes, earlier.modified_ns) == (entry.size_bytes, entry.modified_ns):
            _take(plan, earlier, taken)  # as an interrupted run planned it
            continue
        seq += 1
        item = InboxFile(
            entry.path, entry.size_bytes, entry.modified_ns, sha, seq, None, fs_path, status, reasons, seen_at
        )
        if status is not None:
            plan.not_read.append(item)
        elif sha in taken and taken[sha] != entry.path:
            plan.duplicates.append(replace(item, duplicate_of=taken[sha]))
        elif entry.size_bytes > max_file_bytes:
            taken[sha] = entry.path
            too_large = (
                f"{TOO_LARGE}: {entry.size_bytes} bytes, over the limit of {max_file_bytes} "
                f"({MAX_FILE_BYTES_ENV}): not read"
            )
            plan.not_read.append(replace(item, status=QUARANTINED, reasons=(too_large, *reasons)))
        else:
            taken[sha] = entry.path
            plan.to_parse.append(item)
    return plan


def _take(plan: Plan, item: InboxFile, taken: dict[str, str]) -> None:
    """Put an entry planned before into the plan, as it was decided then."""
    if item.status is not None:
        plan.not_read.append(item)
    elif item.duplicate_of is not None:
        plan.duplicates.append(item)
    else:
        plan.to_parse.append(item)
    if item.status in (None, QUARANTINED) and item.duplicate_of is None:
        taken[item.file_sha256] = item.path


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
