"""Exactly one publisher: who loads the lake into DuckDB, and one at a time across hosts.

Runs on several machines (Prefect workers, docs/workers.md) share the inbox and the
lake; one host owns the DuckDB file. Three locks keep the load-build-test-commit step
(`flow.load_and_commit`, the only DuckDB writer) to one process at a time:

- the Prefect global concurrency limit `bulletins-publish`, one slot (`publish_slot`),
  created by `bulletins deploy`: it holds across hosts, whatever their file systems do
  with file locks. `bulletins run`'s temporary server is not even asked (no other
  process talks to it); a server without the limit (`bulletins serve`'s) is asked once
  (a few ms) and the step runs as before, with no warning (Prefect's `concurrency()`
  would ask for a slot all the same and warn, in English, that the limit does not exist);
- the run lock (`flows.warehouse.locks.run_lock`), held by every run on the warehouse;
- DuckDB's own file lock on the writer file.

A host that does not own the DuckDB file runs with BULLETINS_PUBLISH=0 (`Settings.publish`):
its run plans from the published snapshot (read-only; the writer file is never opened),
parses into lake batches and stops (`ingest_only_plan`; its summary: `stages.combine`). The
owner's next run finds those batches complete in the lake and not loaded: it loads them
as "recovered" batches, as it does an interrupted run's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime

import duckdb

from flows.settings import Settings
from flows.warehouse import db, lake, plans
from flows.warehouse.faults import checkpoint
from flows.warehouse.inbox import InboxPlan, known_files, plan_run
from flows.warehouse.locks import Logger, connect_for_read

PUBLISH_LIMIT = "bulletins-publish"
# A slot's lease: renewed while the step runs; a publisher killed with -9 frees the slot
# when its lease runs out. 60 s is the least Prefect's server takes.
LEASE_S = 60.0


@contextmanager
def publish_slot(wait_s: float, logger: Logger) -> Iterator[float | None]:
    """Hold the one slot of `bulletins-publish` for the block, when the API has that limit.

    Waits up to `wait_s` for another host's publish (then Prefect's TimeoutError: the
    run fails, its batches stay in the lake for the next run). Yields the seconds waited
    (None: no such limit, no slot taken).
    """
    from prefect.concurrency.sync import concurrency

    from flows.orchestration.prefect_local import on_private_server

    if on_private_server() or not _limit_exists():  # nobody else publishes through this server
        yield None
        return
    started = time.monotonic()
    # strict: a limit deleted meanwhile is an error, not a publish without the slot. A lease
    # renewal that fails (the API blinked) does not stop a load half-way: the run lock and
    # DuckDB's file lock still hold, and the transaction is all or nothing.
    with concurrency(
        PUBLISH_LIMIT,
        occupy=1,
        timeout_seconds=wait_s,
        lease_duration=LEASE_S,
        strict=True,
        raise_on_lease_renewal_failure=False,
    ):
        waited = time.monotonic() - started
        logger.info("holding the %s slot (waited %.1f s)", PUBLISH_LIMIT, waited)
        yield waited


def _limit_exists() -> bool:
    """Whether the API has `bulletins-publish` (asked with the flow run's client when in one: ~5 ms)."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext
    from prefect.exceptions import ObjectNotFound

    context = FlowRunContext.get()
    with get_client(sync_client=True) if context is None else nullcontext(context.client) as client:
        try:
            client.read_global_concurrency_limit_by_name(PUBLISH_LIMIT)
        except ObjectNotFound:
            return False
    return True


def ingest_only_plan(settings: Settings, seen_at: datetime, run: str, logger: Logger) -> InboxPlan:
    """Plan an ingest-only run (BULLETINS_PUBLISH=0): write its plan into the lake.

    What is recorded comes from the published snapshot (read-only; absent before the
    owner's first publish), what is parsed but not loaded from the lake: neither is
    parsed again. The writer file is never opened: it is the owner's.
    """
    recorded: list[dict] = []
    loaded: set[str] = set()
    if settings.db_path.exists():
        con = connect_for_read(settings.db_path, settings.lock_timeout_s, logger=logger)
        try:
            recorded, loaded = db.recorded_files(con), db.loaded_batches(con)
        except duckdb.CatalogException:  # a snapshot of a warehouse that never loaded anything
            pass
        finally:
            con.close()
    lake.make(settings.lake_dir)
    pending = [b for b in lake.complete_batches(settings.lake_dir) if b not in loaded]
    pending_rows = [row for b in pending for row in lake.read_files_part(settings.lake_dir, b)]
    plan = plan_run(
        settings.inbox,
        known_files(recorded, pending_rows),
        settings.max_file_bytes,
        plans.read_plans(settings.lake_dir),
        seen_at,
    )
    entries = plan.to_parse + plan.recorded_only
    written = plans.write_plan(settings.lake_dir, run, entries) if entries else None
    plans.remove_plans(settings.lake_dir, keep=written)  # what they held is in the lake, or in this plan
    checkpoint("planned")
    if pending:
        logger.info("%d lake batch(es) wait for the owner of the DuckDB file to load them", len(pending))
    return plan
