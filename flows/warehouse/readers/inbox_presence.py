"""Which recorded inbox entries are still in the inbox: `bulletins status` and a run's summary
leave the others out of their totals (they stay recorded until forgotten)."""

from __future__ import annotations

import os
from collections.abc import Set
from pathlib import Path

import duckdb

from flows.settings import InboxLocation, S3Location
from flows.warehouse.readers.shared import files_relation
from flows.warehouse.summary import ProblemFile


def gone_from_inbox(
    con: duckdb.DuckDBPyConnection, inbox: InboxLocation, listed: Set[str] | None = None
) -> list[ProblemFile] | None:
    """Recorded entries whose path is no longer in the inbox (removed or renamed), by path;
    None when `inbox` is not a folder (then nothing can be said about its entries).

    Their rows stay in the warehouse until forgotten (`bulletins forget`); they leave the
    totals of `bulletins status`. The inbox is looked at now, without following links.
    An S3 inbox is listed once (None when it cannot be: nothing can be said either).
    `listed`, the paths a run's own walk of the inbox found (`InboxPlan.listed`), stands
    for the inbox: a run's summary says what the run saw, without a second look at every
    recorded path (a cost that grew with the archive: 0.3 s at 10 years, measured).
    """
    if listed is not None and (isinstance(inbox, S3Location) or inbox.is_dir()):
        return _gone_from_listing(con, inbox, listed)
    if isinstance(inbox, S3Location):
        return _gone_from_s3(con, inbox)
    relation = files_relation(con)
    if not inbox.is_dir():
        return None
    if relation is None:
        return []
    rows = con.execute(f"select status, path, reasons from {relation} order by path").fetchall()
    archives: dict[str, frozenset[str]] = {}  # each archive's members, read once
    return [
        ProblemFile(status, path, list(reasons))
        for status, path, reasons in rows
        if not in_inbox(inbox, path, archives)
    ]


def _gone_from_s3(con: duckdb.DuckDBPyConnection, inbox: S3Location) -> list[ProblemFile] | None:
    """`gone_from_inbox` for an inbox in S3: a recorded path is there while its key is (a
    hidden "folder", while a key is under it; a member, while its archive holds it)."""
    from flows.warehouse import storage
    from flows.warehouse.archives import member_names, split_member_path

    try:
        keys = set(storage.keys(inbox))
    except (storage.S3Error, storage.S3SettingsError):
        return None
    folders = {key.rsplit("/", n)[0] for key in keys for n in range(1, key.count("/") + 1)}
    relation = files_relation(con)
    if relation is None:
        return []
    members: dict[str, frozenset[str]] = {}

    def there(path: str) -> bool:
        if any(name in keys or name in folders for name in _fs_names(path)):
            return True
        for archive, member in split_member_path(path):
            if archive not in members:
                names = [n for n in _fs_names(archive) if n in keys]
                members[archive] = member_names(inbox / names[0], storage.open_entry) if names else frozenset()
            if member in members[archive]:
                return True
        return False

    rows = con.execute(f"select status, path, reasons from {relation} order by path").fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows if not there(path)]


def _gone_from_listing(con: duckdb.DuckDBPyConnection, inbox: InboxLocation, listed: Set[str]) -> list[ProblemFile]:
    """`gone_from_inbox` against a listing: a path is there while it is listed, or a folder
    above it is (a folder the walk lists is one it did not look into: hidden, or one that
    could not be listed); a member of a zip archive while its archive is listed and holds
    it (each such archive read once)."""
    from flows.warehouse import storage
    from flows.warehouse.archives import member_names, split_member_path

    relation = files_relation(con)
    if relation is None:
        return []
    members: dict[str, frozenset[str]] = {}

    def there(path: str) -> bool:
        if path in listed:
            return True
        parts = path.split("/")
        if any("/".join(parts[:n]) in listed for n in range(1, len(parts))):
            return True
        for archive, member in split_member_path(path):
            if archive not in listed:
                continue
            if archive not in members:
                names = (member_names(inbox / name, storage.open_entry) for name in _fs_names(archive))
                members[archive] = next((found for found in names if found), frozenset())
            if member in members[archive]:
                return True
        return False

    rows = con.execute(f"select status, path, reasons from {relation} order by path").fetchall()
    return [ProblemFile(status, path, list(reasons)) for status, path, reasons in rows if not there(path)]


def _fs_names(path: str) -> list[str]:
    """The names a recorded path may have on disk: its escaped bytes, else itself."""
    from flows.warehouse.inbox_walk import fs_name

    try:
        return [os.fsdecode(fs_name(path)), path]
    except (UnicodeEncodeError, ValueError):
        return [path]


def in_inbox(inbox: Path, path: str, archives: dict[str, frozenset[str]] | None = None) -> bool:
    """Whether a recorded path (escaped as `inbox_walk.display_path` records it) names an entry of the inbox now.

    A member of a zip archive (`a.zip!page.txt`) is there while its archive holds it
    (`archives` caches the names each archive holds).
    """
    from flows.warehouse.archives import member_names, split_member_path
    from flows.warehouse.storage import open_entry

    splits = split_member_path(path)
    if splits and not os.path.lexists(inbox / path):
        cache = archives if archives is not None else {}
        for archive, member in splits:
            if archive not in cache:
                on_disk = [inbox / name for name in _fs_names(archive) if os.path.isfile(inbox / name)]
                cache[archive] = member_names(on_disk[0], open_entry) if on_disk else frozenset()
            if member in cache[archive]:
                return True
        return False
    return any(os.path.lexists(inbox / name) for name in _fs_names(path))
