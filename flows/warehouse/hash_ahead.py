"""Hashing the plan's new files with their reads started ahead.

The plan hashes every new file of the inbox, one after the other, on one core. On an
inbox whose pages are no longer in memory (copied in days before; or, on a machine that
pages out idle file cache, minutes before), each file's read waited for the disk before
its hash began: a 10-year inbox (29,224 files) took 2.8-3.1 s to hash, of which 1.2-1.4 s
was waiting. Here the next READ_AHEAD_FILES files to hash are already open, each with
the kernel asked to read it in (`POSIX_FADV_WILLNEED`, which does not wait), so their
reads overlap: 1.5-1.6 s (measured after dropping the page cache). In memory it costs
next to nothing (0.47-0.50 s against 0.45-0.50 s), as each file is opened once either way.

A file is hashed from the descriptor opened ahead, by the same checks as any read of the
plan (`inbox_walk.open_regular`: never through a link, never blocking); a file replaced
in between is hashed as it was when opened, as one replaced after hashing is: the parse
worker reads and hashes it again (`ingest`), and a file changed since planning is left
for the next run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from pathlib import Path

from flows.settings import InboxLocation
from flows.warehouse import storage
from flows.warehouse.inbox_walk import Entry, open_regular, sha256_fd

READ_AHEAD_FILES = 16


class HashAhead:
    """The walk's entries in order; `sha256(entry)` hashes the entry just yielded.

    `wanted(entry)`: whether the plan will hash it (a guess is enough: a file opened
    ahead and not hashed is closed when the next entry is yielded, and a file hashed
    without being opened ahead is read as before). An S3 inbox is read as before.
    Every descriptor opened ahead is closed by the end of the iteration, however it ends.
    """

    def __init__(
        self,
        inbox: InboxLocation,
        entries: Iterable[Entry],
        wanted: Callable[[Entry], bool],
        window: int = READ_AHEAD_FILES,
    ) -> None:
        self._inbox = inbox
        self._root = inbox if isinstance(inbox, Path) else None
        self._entries = iter(entries)
        self._wanted = wanted
        self._window = window
        self._ahead: deque[tuple[Entry, int | None]] = deque()
        self._current: tuple[Entry, int | None] | None = None

    def __iter__(self) -> Iterator[Entry]:
        try:
            while True:
                self._fill()
                self._release_current()
                if not self._ahead:
                    return
                self._current = self._ahead.popleft()
                yield self._current[0]
        finally:
            self._release_current()
            while self._ahead:
                _close(self._ahead.popleft()[1])

    def sha256(self, entry: Entry) -> str:
        """The entry's sha256, from the descriptor opened ahead when there is one.

        Raises OSError as `storage.sha256_entry` does (the entry could not be read).
        """
        if self._current is not None and self._current[0] is entry and self._current[1] is not None:
            fd = self._current[1]
            self._current = (entry, None)  # sha256_fd closes it
            return sha256_fd(fd)
        return storage.sha256_entry(self._inbox / entry.fs_path)

    def _fill(self) -> None:
        while len(self._ahead) < self._window:
            entry = next(self._entries, None)
            if entry is None:
                return
            self._ahead.append((entry, self._open(entry)))

    def _open(self, entry: Entry) -> int | None:
        if self._root is None or not self._wanted(entry):
            return None
        try:
            fd = open_regular(self._root / entry.fs_path)
        except OSError:
            return None  # read as before when its turn comes, which records why it could not be
        with suppress(OSError):  # a filesystem without the hint: the file is read when hashed, as before
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        return fd

    def _release_current(self) -> None:
        if self._current is not None:
            _close(self._current[1])
            self._current = None


def _close(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)
