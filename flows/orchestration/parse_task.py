"""The parse task, apart from the flow: what a process-pool worker imports to run it.

A worker unpickles the task by reference and imports this module, not the flow's: so
it loads Prefect, pyarrow and the parser, but not DuckDB, the artifacts and the
reports (a second or so of start-up per worker).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.settings import inbox_location
from flows.warehouse.inbox import InboxFile
from flows.warehouse.ingest import BatchResult, process_batch


@task(name="parse-batch", cache_policy=NO_CACHE)
def parse_batch(inbox: str, lake_dir: str, batch_id: str, items: list[InboxFile], seen_at: datetime) -> BatchResult:
    """Parse one batch of files and write its lake parts (in the process pool, or in the flow's process)."""
    # `inbox` is a folder's path or s3://bucket/prefix (a parameter Prefect can show).
    return process_batch(inbox_location(inbox), Path(lake_dir), batch_id, items, seen_at)
