"""Discovering new content in the inbox: cost grows with new files, not the archive.

Unchanged paths (same size and mtime as recorded) are not read; new bytes are hashed
once; bytes already taken under another path are duplicates. Nothing is followed out of
the inbox: links, hidden entries and special files are recorded by name, never opened.
A zip archive's members are entries of their own (`archive.zip!member`, see
`flows.warehouse.archives`), planned by the same rules. An inbox in S3 (`s3://bucket/
prefix`) is planned by the same rules too: its objects are listed, read and hashed by
`flows.warehouse.storage`, an object's ETag standing for a file's mtime.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flows.settings import DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV, InboxLocation
from flows.warehouse import archives, gc_pacing, storage
from flows.warehouse.hash_ahead import HashAhead
from flows.warehouse.inbox_batches import batches as batches  # the plan's files into parse batches
from flows.warehouse.inbox_walk import FILE, Entry, display_path, walk
from flows.warehouse.reasons import COULD_NOT_BE_READ, IN_ZIP_ARCHIVE, NOT_READ, TOO_LARGE
from flows.warehouse.statuses import DUPLICATE, LOADED, QUARANTINED, SKIPPED


@dataclass(frozen=True)
class RecordedFiles:
    """What the warehouse (and complete lake batches) already hold about inbox files."""

    paths: Mapping[str, tuple[int, int]]  # path -> (size_bytes, modified_ns) last seen
    path_shas: frozenset[tuple[str, str]]  # (path, sha256) of each path's latest record
    taken: Mapping[str, str]  # sha256 -> path of the file whose content was taken
    max_ingest_seq: int
    too_large: frozenset[str] = frozenset()  # paths last recorded as too large: read again once they fit
    recovering: frozenset[str] = frozenset()  # paths recorded in lake batches not loaded yet (a run stopped)


def known_files(recorded: Iterable[Mapping[str, Any]], pending: Iterable[Mapping[str, Any]] = ()) -> RecordedFiles:
    """What is known from the recorded files (rows of `ingest.files` or of lake `files` parts).

    The first file recorded with some bytes (by ingest_seq) took them; a file recorded as
    `duplicate` or `skipped` took nothing. `pending` are the rows of complete lake batches
    the warehouse has not loaded (an interrupted run's): known too, and counted apart.

    >>> row = {"path": "a.txt", "size_bytes": 3, "modified_ns": 1, "file_sha256": "s", "status": "loaded",
    ...        "over_size_limit": False}
    >>> known = known_files([{**row, "ingest_seq": 1}, {**row, "path": "b.txt", "status": "duplicate", "ingest_seq": 2}])
    >>> known.taken, known.max_ingest_seq
    ({'s': 'a.txt'}, 2)
    """
    paths: dict[str, tuple[int, int]] = {}
    path_shas: dict[str, str] = {}
    taken: dict[str, str] = {}
    too_large: set[str] = set()
    latest: dict[str, str] = {}  # path -> status of its latest record
    max_seq = 0
    pending = list(pending)
    for row in sorted([*recorded, *pending], key=lambda r: r["ingest_seq"]):
        paths[row["path"]] = (row["size_bytes"], row["modified_ns"])
        path_shas[row["path"]] = row["file_sha256"]
        if row["status"] not in (DUPLICATE, SKIPPED):
            taken.setdefault(row["file_sha256"], row["path"])
        if row["status"] == QUARANTINED and row["over_size_limit"]:
            too_large.add(row["path"])
        else:
            too_large.discard(row["path"])
        max_seq = max(max_seq, row["ingest_seq"])
        latest[row["path"]] = row["status"]
    # A duplicate of bytes no file took (its original was gone or changed before its parse,
    # in a run before duplicates waited for their original): not known, so it is planned
    # again and its bytes are taken.
    for path, status in latest.items():
        if status == DUPLICATE and path_shas[path] not in taken:
            del paths[path], path_shas[path]
    recovering = frozenset(row["path"] for row in pending)
    return RecordedFiles(paths, frozenset(path_shas.items()), taken, max_seq, frozenset(too_large), recovering)


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
    archive: str | None = None  # for a member of a zip archive: the archive's relative path to open
    member: str | None = None  # ... and the member's name as `zipfile` knows it
    over_size_limit: bool = False  # not read for its size: read again once it fits

    @property
    def source(self) -> str:
        """The relative path to open."""
        return self.fs_path if self.fs_path is not None else self.path

    @property
    def parse_name(self) -> str:
        """The file name the parser is given: a member's own name, not its archive's.

        >>> InboxFile("月报/a.zip!2021/第2版!.txt", 1, 0, "", 1, archive="月报/a.zip", member="x").parse_name
        '第2版!.txt'
        """
        own = self.path
        if self.archive is not None:  # after `archive.zip!`, as the archive's path is recorded
            own = own[len(display_path(self.archive)[0]) + len(archives.MEMBER_SEPARATOR) :]
        return own.rsplit("/", 1)[-1]


@dataclass
class InboxPlan:
    """What a run will do: files to parse; duplicates and entries not read, to record."""

    seen: int = 0
    unchanged: int = 0
    recovered: int = 0  # unchanged entries recorded in lake batches not loaded yet (loaded by this run)
    to_parse: list[InboxFile] = field(default_factory=list)
    duplicates: list[InboxFile] = field(default_factory=list)
    not_read: list[InboxFile] = field(default_factory=list)  # skipped entries, files over the size limit
    listed: set[str] = field(default_factory=set)  # every entry's path the walk found (not archives' members)

    @property
    def recorded_only(self) -> list[InboxFile]:
        """Entries recorded in the `files` table alone (nothing parsed), in ingest order."""
        return sorted(self.duplicates + self.not_read, key=lambda i: i.ingest_seq)

    def recorded_after(self, missing: Collection[str]) -> list[InboxFile]:
        """`recorded_only` once the files were parsed, `missing` the paths not recorded
        (gone or changed since planning).

        A duplicate is recorded only with its original: one whose original is missing is
        left unrecorded, so the next run plans it again and takes its bytes (recorded as
        the duplicate of a file that never was, its content would be in no table).
        """
        return [i for i in self.recorded_only if i.duplicate_of is None or i.duplicate_of not in missing]


def _not_read_sha(reasons: tuple[str, ...]) -> str:
    """For an entry whose bytes are not read: the sha256 of why (a link's target is in it)."""
    return hashlib.sha256("\n".join(reasons).encode("utf-8")).hexdigest()


def plan_run(
    inbox: InboxLocation,
    known: RecordedFiles,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    planned: Sequence[InboxFile] = (),
    seen_at: datetime | None = None,
) -> InboxPlan:
    """Find new content: unchanged paths are not read; new bytes are hashed once.

    Entries the walk does not read are recorded as `skipped` with their reason; a file
    over `max_file_bytes` is hashed (in chunks) but never parsed: `quarantined`. An entry
    an interrupted run `planned` (`flows.warehouse.plans`) and that is unchanged since
    keeps that plan's seq, decision and first sight; new entries are numbered after
    every seq known or planned.

    A backfill's plan holds an entry for every new file (some 30,000 at 10 years) and
    next to no reference cycles: the collector runs less often meanwhile (`gc_pacing`;
    at Python's default it walked the run's whole heap, some 0.1 s of the serial plan).
    """
    with gc_pacing.fewer_collections():
        return _plan(inbox, known, max_file_bytes, planned, seen_at)


def _plan(
    inbox: InboxLocation,
    known: RecordedFiles,
    max_file_bytes: int,
    planned: Sequence[InboxFile],
    seen_at: datetime | None,
) -> InboxPlan:
    plan = InboxPlan()
    taken = dict(known.taken)
    replanned = {(i.path, i.file_sha256): i for i in planned}
    seq = max([known.max_ingest_seq, *(i.ingest_seq for i in planned)])
    # Archives holding a member last recorded as too large: listed again (it may fit now).
    recheck = {archive for path in known.too_large for archive, _ in archives.split_member_path(path)}
    entries = HashAhead(inbox, walk(inbox), lambda entry: _hashed_here(entry, known))
    for entry in entries:
        plan.seen += 1
        plan.listed.add(entry.path)
        if entry.kind == FILE and archives.is_archive(entry.path):
            seq = _plan_archive(
                plan, inbox, entry, known, replanned, taken, seq, max_file_bytes, seen_at, entry.path in recheck
            )
            continue
        # A file once too large is read again when it fits (the limit was raised).
        retry = entry.path in known.too_large and entry.size_bytes <= max_file_bytes
        if _same_stat(entry, known) and not retry:
            if entry.path in known.recovering:
                plan.recovered += 1
            else:
                plan.unchanged += 1
            continue
        fs_path = entry.fs_path if entry.fs_path != entry.path else None
        status, reasons = None, entry.reasons
        if entry.kind == FILE:
            try:
                sha = entries.sha256(entry)
            except OSError as exc:
                status, reasons = SKIPPED, (*reasons, f"{COULD_NOT_BE_READ} ({exc.strerror or exc}): {NOT_READ}")
                sha = _not_read_sha(reasons)
        else:
            status, sha = SKIPPED, _not_read_sha(reasons)
        if (entry.path, sha) in known.path_shas and not retry:  # touched, not changed
            plan.unchanged += 1
            continue
        earlier = replanned.get((entry.path, sha))
        if (
            earlier is not None
            and (earlier.size_bytes, earlier.modified_ns) == (entry.size_bytes, entry.modified_ns)
            # a duplicate only of an original still taken (not gone or changed since)
            and (earlier.duplicate_of is None or taken.get(sha) == earlier.duplicate_of)
        ):
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
            too_large = _too_large(entry.size_bytes, max_file_bytes)
            plan.not_read.append(replace(item, status=QUARANTINED, reasons=(too_large, *reasons), over_size_limit=True))
        else:
            taken[sha] = entry.path
            plan.to_parse.append(item)
    return plan


def _same_stat(entry: Entry, known: RecordedFiles) -> bool:
    """Whether the entry has the size and mtime recorded for its path (then it is not read).

    A clamped mtime is the same for every later time: such a file is hashed each run.
    """
    return entry.exact_mtime and known.paths.get(entry.path) == (entry.size_bytes, entry.modified_ns)


def _hashed_here(entry: Entry, known: RecordedFiles) -> bool:
    """Whether `_plan` will hash the entry itself (`HashAhead` starts its read ahead): a
    file, not an archive, whose size or mtime is not the one recorded for its path."""
    return entry.kind == FILE and not archives.is_archive(entry.path) and not _same_stat(entry, known)


def _too_large(size: int, max_file_bytes: int) -> str:
    return f"{TOO_LARGE}: {size} bytes, over the limit of {max_file_bytes} ({MAX_FILE_BYTES_ENV}): {NOT_READ}"


def _plan_archive(
    plan: InboxPlan,
    inbox: InboxLocation,
    entry: Entry,
    known: RecordedFiles,
    replanned: Mapping[tuple[str, str], InboxFile],
    taken: dict[str, str],
    seq: int,
    max_file_bytes: int,
    seen_at: datetime | None,
    recheck: bool,
) -> int:
    """Plan a zip archive: its own row, then each member as an entry (`flows.warehouse.archives`).

    The archive is recorded like a file (once per size and mtime; a copy of its bytes is
    a `duplicate` and its members are not read again); when its bytes are new its members
    are listed, each planned like a file of its own: unchanged (same path and sha256),
    duplicate of bytes taken, not read (with the reason), or to parse. `recheck`: a
    member was too large, so the archive is listed again in case it fits now. Returns
    the last seq given.
    """
    retry = entry.path in known.too_large and entry.size_bytes <= max_file_bytes
    if _same_stat(entry, known) and not retry and not recheck:
        if entry.path in known.recovering:
            plan.recovered += 1
        else:
            plan.unchanged += 1
        return seq
    fs_path = entry.fs_path if entry.fs_path != entry.path else None
    try:
        sha = storage.sha256_entry(inbox / entry.fs_path)
    except OSError as exc:
        reasons = (*entry.reasons, f"{COULD_NOT_BE_READ} ({exc.strerror or exc}): {NOT_READ}")
        seq += 1
        plan.not_read.append(
            InboxFile(
                entry.path, entry.size_bytes, entry.modified_ns, _not_read_sha(reasons), seq, None, fs_path,
                SKIPPED, reasons, seen_at,
            )
        )  # fmt: skip
        return seq
    listing: archives.Listing | None = None
    if (entry.path, sha) in known.path_shas:  # its row is recorded: only members may be new
        if retry:  # the archive was too large: is it read now?
            listing = _listing(inbox, entry, max_file_bytes)
            if listing is None or listing.refused:
                plan.unchanged += 1
                return seq
        elif not recheck:
            plan.unchanged += 1
            return seq
        else:
            plan.unchanged += 1
            return _plan_members(plan, inbox, entry, known, replanned, taken, seq, max_file_bytes, seen_at, None)
    earlier = replanned.get((entry.path, sha))
    if (
        earlier is not None
        and (earlier.size_bytes, earlier.modified_ns) == (entry.size_bytes, entry.modified_ns)
        and (earlier.duplicate_of is None or taken.get(sha) == earlier.duplicate_of)
    ):
        _take(plan, earlier, taken)
        if earlier.status != LOADED:
            return seq
        return _plan_members(plan, inbox, entry, known, replanned, taken, seq, max_file_bytes, seen_at, None)
    duplicate_of = taken.get(sha) if taken.get(sha) != entry.path else None
    too_large = entry.size_bytes > max_file_bytes
    if duplicate_of is None and not too_large and listing is None:
        listing = _listing(inbox, entry, max_file_bytes)
        if listing is None:  # gone or swapped since the hash: the next run takes it
            return seq
    seq += 1
    item = InboxFile(
        entry.path, entry.size_bytes, entry.modified_ns, sha, seq, None, fs_path, None, entry.reasons, seen_at
    )
    if duplicate_of is not None:
        plan.duplicates.append(replace(item, duplicate_of=duplicate_of))
        return seq
    taken[sha] = entry.path
    if too_large or listing is None:
        reasons = (_too_large(entry.size_bytes, max_file_bytes), *entry.reasons)
        plan.not_read.append(replace(item, status=QUARANTINED, reasons=reasons, over_size_limit=True))
        return seq
    if listing.refused:
        reasons = (*listing.refused, *entry.reasons)
        plan.not_read.append(
            replace(item, status=QUARANTINED, reasons=reasons, over_size_limit=listing.over_size_limit)
        )
        return seq
    reasons = (listing.summary(entry.path), *listing.notes, *entry.reasons)
    plan.not_read.append(replace(item, status=LOADED, reasons=reasons))
    return _plan_members(plan, inbox, entry, known, replanned, taken, seq, max_file_bytes, seen_at, listing)


def _listing(inbox: InboxLocation, entry: Entry, max_file_bytes: int) -> archives.Listing | None:
    """The archive's members, or None when it cannot be opened (now a link, gone)."""
    try:
        with storage.open_entry(inbox / entry.fs_path) as fh:
            return archives.list_members(fh, entry.size_bytes, max_file_bytes)
    except OSError:
        return None


def _plan_members(
    plan: InboxPlan,
    inbox: InboxLocation,
    entry: Entry,
    known: RecordedFiles,
    replanned: Mapping[tuple[str, str], InboxFile],
    taken: dict[str, str],
    seq: int,
    max_file_bytes: int,
    seen_at: datetime | None,
    listing: archives.Listing | None,
) -> int:
    """Plan each member of an archive whose own row is recorded (or planned) as read."""
    if listing is None:
        listing = _listing(inbox, entry, max_file_bytes)
        if listing is None or listing.refused:
            return seq
    note = f"{IN_ZIP_ARCHIVE}{entry.path}（压缩包内文件）"
    # Members are not counted in `seen` and `unchanged` (inbox files): their statuses are.
    for member in listing.members:
        path = archives.member_path(entry.path, member.name)
        retry = path in known.too_large and member.size_bytes <= max_file_bytes
        if (path, member.file_sha256) in known.path_shas and not retry:
            continue
        earlier = replanned.get((path, member.file_sha256))
        if earlier is not None and (
            earlier.duplicate_of is None or taken.get(member.file_sha256) == earlier.duplicate_of
        ):
            _take(plan, earlier, taken)
            continue
        seq += 1
        item = InboxFile(
            path, member.size_bytes, entry.modified_ns, member.file_sha256, seq, None, None, member.status,
            (*member.reasons, note), seen_at, archive=entry.fs_path, member=member.zip_name,
            over_size_limit=member.over_size_limit,
        )  # fmt: skip
        if member.status is not None:
            plan.not_read.append(item)
            if member.status == QUARANTINED:
                taken.setdefault(member.file_sha256, path)
        elif member.file_sha256 in taken and taken[member.file_sha256] != path:
            plan.duplicates.append(replace(item, duplicate_of=taken[member.file_sha256]))
        else:
            taken[member.file_sha256] = path
            plan.to_parse.append(item)
    return seq


def _take(plan: InboxPlan, item: InboxFile, taken: dict[str, str]) -> None:
    """Put an entry planned before into the plan, as it was decided then."""
    if item.status is not None:
        plan.not_read.append(item)
    elif item.duplicate_of is not None:
        plan.duplicates.append(item)
    else:
        plan.to_parse.append(item)
    # (LOADED: an archive whose members were read)
    if item.status in (None, QUARANTINED, LOADED) and item.duplicate_of is None:
        taken[item.file_sha256] = item.path
