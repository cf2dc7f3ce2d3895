"""Python's cycle collector, run less often while a batch is parsed or a run plans.

A parse allocates millions of short-lived objects and next to no reference cycles. At
Python's default first threshold (700 container allocations) the collector ran 445 times
over a batch of 7,300 pages, three of them over the whole heap: some 0.15-0.2 CPU-s, 4-5%
of the batch (measured with `gc.callbacks`). At 50,000 it ran twice, for 0.02 s, and the
process's peak memory was the same (184 MB). A 10-year backfill's plan (`inbox.plan_run`,
in the run's own process, whose heap holds Prefect) is the same kind of work: at the
default the collector ran 143 times there, one over the whole heap, for 0.10-0.12 s of
the serial stage; paced, the plan itself set off none.

The threshold is the process's, so a worker running several batches at once (a Dask
worker's threads) raises it for the first and puts it back after the last.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_FIRST_THRESHOLD = 50_000

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold while the block runs (in any number of threads)."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(BATCH_FIRST_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_saved)
