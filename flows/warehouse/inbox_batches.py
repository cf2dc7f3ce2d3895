"""Parse batches: the new files of a run, in order, grouped under bounds of count and bytes
(and spread over the parse workers).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # inbox imports this module: the name only, for the annotations
    from flows.warehouse.inbox import InboxFile

# A batch closes at whichever limit comes first. Memory does not grow with a batch (its
# rows are written a row group at a time), so batches are large: each is a task with
# a fixed cost in Prefect, and a lake part per table that the load reads.
BATCH_MAX_FILES = 8192
BATCH_MAX_BYTES = 64 * 1024 * 1024


def batches(
    items: Sequence[InboxFile], max_files: int = BATCH_MAX_FILES, max_bytes: int = BATCH_MAX_BYTES, spread: int = 1
) -> Iterator[list[InboxFile]]:
    """Group files, in order, into batches bounded by count and bytes.

    With `spread` > 1 (the number of workers), make a multiple of `spread` batches of
    even size, so that the workers finish together (fewer when there are fewer files).

    >>> from flows.warehouse.inbox import InboxFile
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
