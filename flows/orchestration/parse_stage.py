"""The flow's parse stage: the new inbox files into lake batches, on the runner that fits.

In the flow's own process when the files are few (`settings.inline_parse_max_bytes`), else
on the Dask cluster of BULLETINS_DASK_ADDRESS, else in a process pool. On Dask and in the
flow's process each batch is one `parse_batch` task (`flows.orchestration.parse_task`). The
process pool runs `ingest.process_batch` itself: its workers never import Prefect, whose
task engine cost each spawned worker seconds of start and some 190 MB before its first
batch (measured), so they start in a few tenths of a second and hold the parser only.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from prefect import get_run_logger
from prefect.task_runners import TaskRunner
from prefect.utilities.annotations import quote

from flows.orchestration import progress
from flows.orchestration.dask_cluster import dask_runner, worker_slots
from flows.orchestration.parse_task import Files, parse_batch
from flows.orchestration.processes import pool_worker_dies_with_parent
from flows.orchestration.stages import Parsed
from flows.settings import Settings
from flows.warehouse.inbox import InboxPlan, batches
from flows.warehouse.ingest import BatchResult, pool_idle_seconds, process_batch, record_unparsed


def batch_id(stamp: str, n: int) -> str:
    """The run's `n`th lake batch: `<run stamp>-<n, 4 digits>`."""
    return f"{stamp}-{n:04d}"


def parse_new_files(settings: Settings, plan: InboxPlan, stamp: str, seen_at: datetime) -> Parsed:
    """Parse the plan's new files into lake batches, then record duplicates and entries not
    read (and entries whose file went missing meanwhile) in a files-only batch."""
    started = time.perf_counter()
    results, idle = _parse(settings, plan, stamp, seen_at)
    new_batches = [result.batch_id for result in results]
    # Duplicates (of originals recorded) and entries not read: a files-only batch.
    recorded_only = plan.recorded_after({path for result in results for path in result.missing})
    if recorded_only:
        unparsed = batch_id(stamp, len(results) + 1)
        record_unparsed(settings.lake_dir, unparsed, recorded_only, seen_at)
        new_batches.append(unparsed)
    return Parsed(results, new_batches, time.perf_counter() - started, idle)


def _parse(
    settings: Settings, plan: InboxPlan, stamp: str, seen_at: datetime
) -> tuple[list[BatchResult], dict[str, float]]:
    """The batches' results in order, and where a pool's or cluster's workers idled.

    The pool lives for the parse stage only, so that its workers (each holding the parser,
    pyarrow and a row group's rows) are gone before the load: the run's peak memory stays
    flat. A Dask cluster's workers outlive the run (`serve` keeps its own warm). Where the workers
    idled goes to the run's timings (`parse_idle_start`, `_between`, `_finish`).
    """
    total = len(plan.to_parse)
    progress.files_parsed(0, total)
    if not plan.to_parse:
        return [], {}
    if sum(item.size_bytes for item in plan.to_parse) <= settings.inline_parse_max_bytes:
        # A day's pages cost less to parse here than to send anywhere: a pool worker's start
        # costs more than parsing them, a Dask task some 0.5 s more per run (measured).
        # quote: Prefect unwraps it before the call, without walking the files for futures.
        inline = (
            parse_batch(str(settings.inbox), str(settings.lake_dir), batch_id(stamp, n), quote(items), seen_at)  # type: ignore[call-overload]
            for n, items in enumerate(batches(plan.to_parse), start=1)
        )
        return _counted(inline, total), {}
    if settings.dask_address is not None:
        # More goes to the cluster the user named: its workers are started already, and an
        # address that does not answer fails the run here, before anything is parsed.
        with dask_runner(settings.dask_address) as runner:
            logger = get_run_logger()
            opened_at = time.time()
            slots = worker_slots(runner)
            logger.info("parsing on the Dask cluster %s (%d worker thread(s))", settings.dask_address, slots)
            results = _submit_all(runner, settings, plan, stamp, seen_at, slots)
        return results, pool_idle_seconds(results, opened_at, time.time())
    # Workers end with the run that spawned them, even when it is killed (processes.py).
    # `spawn`: the run's process has threads (Prefect's), which a forked child would inherit
    # mid-lock; a spawned worker imports only what unpickling `process_batch` needs.
    opened_at = time.time()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(settings.parse_workers, context, initializer=pool_worker_dies_with_parent) as pool:
        futures = [
            pool.submit(process_batch, settings.inbox, settings.lake_dir, batch_id(stamp, n), items, seen_at)
            for n, items in enumerate(batches(plan.to_parse, spread=settings.parse_workers), start=1)
        ]
        results = _counted((future.result() for future in futures), total)
    return results, pool_idle_seconds(results, opened_at, time.time())


def _submit_all(
    runner: TaskRunner, settings: Settings, plan: InboxPlan, stamp: str, seen_at: datetime, spread: int
) -> list[BatchResult]:
    """Submit one parse task per batch (a multiple of `spread` batches of even size); their results in order."""
    futures = [
        runner.submit(
            parse_batch,
            {
                "inbox": str(settings.inbox),
                "lake_dir": str(settings.lake_dir),
                "batch_id": batch_id(stamp, n),
                # Prefect would walk thousands of files looking for futures, in the flow and
                # again in the worker (0.5 s per 7,000 files, measured): the files go in an
                # opaque `Files` (Dask sends Prefect's `quote` on as a plain tuple).
                "items": Files(items),
                "seen_at": seen_at,
            },
        )
        for n, items in enumerate(batches(plan.to_parse, spread=spread), start=1)
    ]
    return _counted((future.result() for future in futures), len(plan.to_parse))


def _counted(results: Iterable[BatchResult], total: int) -> list[BatchResult]:
    """The batches' results in order, each batch's files counted on the progress line as it ends."""
    done: list[BatchResult] = []
    parsed = 0
    for result in results:
        done.append(result)
        parsed += sum(result.statuses.values())
        progress.files_parsed(parsed, total)
    return done
