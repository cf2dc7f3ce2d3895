"""Compaction of a raw table's small data files, written the way a batch's are.

delta-rs's `optimize.compact()` rewrites files with its own Parquet writer, which has no
page checksums (and its own compression): bit rot in a compacted file would be read as
data instead of being found by the audit, and compaction itself would copy a rotten
page into a new file with a valid checksum. So the raw tables are compacted here:

- the small files (under TARGET_BYTES) are taken in batch order and packed into groups
  of at most TARGET_BYTES; a group of one is left alone;
- a group is read a row group at a time with page checksums verified (a file that fails
  leaves its group as it was: the audit sets it aside) and written as one file with
  zstd and page checksums, its row groups as they were;
- one commit adds the new file and removes the group's files (`data_change` false: the
  rows are the same), with the batch-id range as statistics, so a batch still loads by
  id through file pruning.

A kill before the commit leaves an unreferenced file: no reader sees it, and vacuum (or
the audit, as a stray) removes it. Only the run lock's holder compacts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from deltalake.transaction import AddAction, RemoveAction

from flows.warehouse import lake
from flows.warehouse.lake_read import DataFile, data_files
from flows.warehouse.schema import LAKE_TABLES

# A compacted file's largest size: big enough that a decade of weekly batches is a few
# files per table, small enough that one is read in a moment.
TARGET_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Compacted:
    files_before: int
    files_after: int
    unreadable: tuple[str, ...] = ()  # files left alone: a page failed its checksum, or the file its schema


def groups(files: Sequence[DataFile], target_bytes: int = TARGET_BYTES) -> Iterator[list[DataFile]]:
    """Consecutive small files (in batch order), packed up to `target_bytes`; groups of two or more.

    >>> f = lambda n, size: DataFile("t", f"part-{n}.parquet", size, f"b{n}", f"b{n}")
    >>> [[x.path for x in g] for g in groups([f(1, 10), f(2, 10), f(3, 100), f(4, 10), f(5, 10), f(6, 10)], 25)]
    [['part-1.parquet', 'part-2.parquet'], ['part-4.parquet', 'part-5.parquet']]
    """
    current: list[DataFile] = []
    size = 0
    for file in sorted(files, key=lambda f: (f.min_batch or "", f.path)):
        if file.size >= target_bytes or (current and size + file.size > target_bytes):
            if len(current) > 1:
                yield current
            current, size = [], 0
        if file.size < target_bytes:
            current.append(file)
            size += file.size
    if len(current) > 1:
        yield current


def compact_table(lake_dir: lake.Lake, table: str, target_bytes: int = TARGET_BYTES) -> Compacted:
    """Compact one raw table's small files (the caller holds the run lock)."""
    files = data_files(lake_dir, table)
    after = len(files)
    unreadable: list[str] = []
    for group in groups(files, target_bytes):
        bad = _rewrite(lake_dir, table, group)
        if bad is None:
            after -= len(group) - 1
        else:
            unreadable.append(bad)
    return Compacted(len(files), after, tuple(unreadable))


def _rewrite(lake_dir: lake.Lake, table: str, group: Sequence[DataFile]) -> str | None:
    """Write the group as one file and commit it in place of the group's files. Returns the
    path of a file that could not be read (then nothing is committed and the new file is
    deleted), or None."""
    name = f"part-compacted-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{len(group)}.parquet"
    rows, unreadable = lake.copy_row_groups(lake_dir, table, group, name, require_schema=LAKE_TABLES[table])
    if unreadable is not None:
        return unreadable
    batches = [b for f in group for b in (f.min_batch, f.max_batch) if b is not None]
    now = int(datetime.now(UTC).timestamp() * 1000)
    actions: list[AddAction | RemoveAction] = [lake.added_file(lake_dir, table, name, batches, rows, data_change=False)]
    actions += [RemoveAction(f.path, False, now, f.size) for f in group]
    lake.ensure_table(lake_dir, table).create_write_transaction(actions, "append", LAKE_TABLES[table])
    return None
