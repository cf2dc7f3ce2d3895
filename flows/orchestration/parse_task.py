"""The parse task, apart from the flow: what a process-pool worker imports to run it.

A worker unpickles the task by reference and imports this module, not the flow's: so
it loads Prefect, pyarrow and the parser, but not DuckDB, the artifacts and the
reports (a second or so of start-up per worker).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.settings import inbox_location
from flows.warehouse.inbox import InboxFile
from flows.warehouse.ingest import BatchResult, process_batch


class Files:
    """A batch's files as one opaque object: Prefect (in the flow and again in the worker)
    and Dask pass it as it is, without walking thousands of files for futures (about 1 s
    per 10,000 files in the flow, measured). Prefect's `quote` does the same for the
    process pool, but does not survive Dask's transport."""

    __slots__ = ("items", "token")

    def __init__(self, items: list[InboxFile]) -> None:
        self.items = items
        self.token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask's token for the task's key, without pickling every file to hash it (0.1 s
        per 6,000 files in the flow, before the first task is sent: measured). Each batch is
        parsed once, so a token of its own is right: no two submissions should share a key."""
        return (type(self).__name__, self.token)


@task(name="parse-batch", cache_policy=NO_CACHE)
def parse_batch(
    inbox: str, lake_dir: str, batch_id: str, items: list[InboxFile] | Files, seen_at: datetime
) -> BatchResult:
    """Parse one batch of files and write its lake parts (on a Dask worker, in the process pool, or in the flow's process)."""
    # `inbox` is a folder's path or s3://bucket/prefix (a parameter Prefect can show).
    files = items.items if isinstance(items, Files) else items
    # `lake_dir` too: a folder's path or s3://bucket/prefix.
    return process_batch(inbox_location(inbox), inbox_location(lake_dir), batch_id, files, seen_at)
