"""Which recorded inbox entries are still in the inbox: `bulletins status` and a run's summary
leave the others out of their totals (they stay recorded until forgotten)."""

from __future__ import annotations

import os
from collections.abc import Set

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
    totals of `bulletins status`. The inbox is listed once, as a run lists it (`inbox_walk.walk`:
    nothing followed; an S3 inbox by its keys, None when it cannot be listed). `listed`, the
    paths a run's own walk found (`InboxPlan.listed`), stands for the inbox: a run's summary
    says what the run saw, without a second look (looking at every recorded path grew with
    the archive: 0.3 s at 10 years, measured).
    """
    if isinstance(inbox, S3Location):
        from flows.warehouse import storage

        errors: tuple[type[Exception], ...] = (storage.S3Error, storage.S3SettingsError)
    elif not inbox.is_dir():
        return None
    else:
        errors = (OSError,)
    if listed is None:
        from flows.warehouse.inbox_walk import walk

        try:
            listed = {entry.path for entry in walk(inbox)}
        except errors:
            return None
    return _gone_from_listing(con, inbox, listed)


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
