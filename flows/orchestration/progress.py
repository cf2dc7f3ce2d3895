"""Where a run in this process reports its progress: nowhere, unless the CLI listens.

The flow calls `phase` and `files_parsed`; `bulletins run` on a terminal installs a
listener that draws a progress line. Nothing is passed through the flow's parameters, so
a served or deployed run is unaffected (it has no listener).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressListener(Protocol):
    def phase(self, text: str) -> None:
        """A new stage of the run began (waiting for the lock, loading, writing reports)."""

    def files_parsed(self, done: int, total: int) -> None:
        """`done` of the run's `total` new files are parsed."""


_listener: ProgressListener | None = None


@contextmanager
def listening(listener: ProgressListener) -> Iterator[None]:
    """Send this process's run progress to `listener` until the block ends."""
    global _listener
    saved, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = saved


def phase(text: str) -> None:
    if _listener is not None:
        _listener.phase(text)


def files_parsed(done: int, total: int) -> None:
    if _listener is not None:
        _listener.files_parsed(done, total)
