"""The `bulletin-etl` Prefect flow: inbox -> Delta lake -> DuckDB -> marts.

Thin orchestration over pure modules: `inbox` (what is new), `ingest` (parse and
write lake batches), `warehouse` (load), `models` (SQL models and data tests).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.states import Cancelled, State
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner
from prefect.utilities.annotations import quote

from flows.orchestration import progress
from flows.orchestration.artifacts import publish_run_artifacts
from flows.orchestration.dask_cluster import dask_runner, worker_slots
from flows.orchestration.parse_task import Files, parse_batch
from flows.orchestration.processes import flow_run_dies_with_runner, pool_worker_dies_with_parent
from flows.orchestration.publishing import ingest_only_plan, ingest_only_summary, publish_slot
from flows.orchestration.report_server import report_url
from flows.orchestration.stopping import LockHolderStuck, Stopper, stuck_holder
from flows.reporting import notify as notifications
from flows.reporting.report_files import RunReports, write_run_reports
from flows.reporting.run_summary import stale_warning
from flows.settings import Settings, local_today, validate_paths
from flows.warehouse import batch_record, build, db, lake, lake_audit, maintain, migrate, plans, snapshots
from flows.warehouse.db import connection
from flows.warehouse.faults import checkpoint
from flows.warehouse.inbox import Plan, batches, known_files, plan_run
from flows.warehouse.ingest import BatchResult, pool_idle_seconds, record_unparsed
from flows.warehouse.lake_audit import LakeProblem
from flows.warehouse.locks import RunInProgress, connect_for_write, run_lock
from flows.warehouse.readers.status import BatchesOutcome, batches_outcome, read_freshness
from flows.warehouse.summary import RunSummary, capped

# Every task here has side effects (files, the warehouse): never skip one on matching inputs.


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    pending_batches: list[str]
    lake_problems: list[LakeProblem]
    # verify (read every block of the warehouse), audit (the lake), plan (list, stat, hash the inbox)
    seconds: dict[str, float]


@task(name="discover-new-files", cache_policy=NO_CACHE)
def discover(settings: Settings, seen_at: datetime, run: str) -> Prepared:
    """Check the lake, find unloaded batches and new inbox content; write the run's plan.

    Entries an interrupted run planned keep their ingest_seq (`flows.warehouse.plans`):
    the plan is in the lake before anything is parsed.
    """
    logger = get_run_logger()
    if not settings.publish:  # an ingest-only host never opens the DuckDB file (publishing.py)
        return Prepared(
            ingest_only_plan(settings, seen_at, run, logger), pending_batches=[], lake_problems=[], seconds={}
        )
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    for path in build.remove_rebuild_leftovers(settings):  # a killed rebuild's (we hold the run lock)
        logger.warning("removed %s, left by a rebuild that did not finish", path)
    snapshots.remove_leftovers(settings.db_path)  # a killed publish's temporary copy
    settings.writer_db_path.parent.mkdir(parents=True, exist_ok=True)
    if snapshots.adopt_legacy(settings.writer_db_path, settings.db_path):
        logger.info("took %s as the writer file (README: Snapshot reads)", settings.db_path)
    # The run's own file: readers open the published snapshot, so none can make this wait.
    con = connect_for_write(settings.writer_db_path, settings.lock_timeout_s, logger=logger)
    try:
        started = time.perf_counter()
        db.verify_readable(con, settings.writer_db_path)  # damage anywhere stops the run before it writes
        verified = time.perf_counter()
        db.create_raw_tables(con)
        loaded = db.loaded_batches(con)
        restore = lambda table, batch_id: db.batch_rows(con, table, batch_id)  # noqa: E731
        # A lake of the versions before Delta is converted once, here (flows.warehouse.migrate).
        converted = migrate.migrate(settings.lake_dir, loaded=loaded, restore=restore)
        if converted is not None:
            logger.warning(converted.line())
        problems = converted.problems if converted is not None else []
        problems += lake_audit.audit(settings.lake_dir, loaded=loaded, full=False, restore=restore)
        batch_record.create_tables(settings.lake_dir)  # before parse workers commit to them at once
        for problem in problems:
            logger.warning(problem.line())
        audited = time.perf_counter()
        pending = db.pending_batches(con, settings.lake_dir)
        pending_rows = lake.read_files_rows(settings.lake_dir, pending)
        known = known_files(db.recorded_files(con), pending_rows)
    finally:
        con.close()
    planned = plans.read_plans(settings.lake_dir)
    plan = plan_run(settings.inbox, known, settings.max_file_bytes, planned, seen_at)
    entries = plan.to_parse + plan.recorded_only
    written = plans.write_plan(settings.lake_dir, run, entries) if entries else None
    plans.remove_plans(settings.lake_dir, keep=written)  # what they held is recorded, or in this plan
    checkpoint("planned")
    seconds = {"verify": verified - started, "audit": audited - verified, "plan": time.perf_counter() - audited}
    return Prepared(plan=plan, pending_batches=pending, lake_problems=problems, seconds=seconds)


@dataclass(frozen=True)
class Built:
    built: bool  # anything loaded (models built, data tests passed, committed)
    seconds: dict[str, float]  # by step
    outcome: BatchesOutcome  # what the batches' entries became
    marts_copy_problem: str | None  # why the marts' Parquet copy could not be written


@task(name="load-and-build", cache_policy=NO_CACHE)
def load_and_build(settings: Settings, batch_ids: list[str]) -> Built:
    """Load batches, build the models and run the data tests in one transaction; then
    write the marts' Delta copy (lake/marts/<table>/, for readers without the DuckDB file).

    What the batches' entries became is read back after the load (the warehouse's rules
    applied). Nothing is committed unless every data test passes, so a failure anywhere
    leaves the warehouse as it was. The copy comes after the commit: a failure to write
    it is a reason returned, never a failed run (the next build writes it again).
    """
    logger = get_run_logger()
    seconds: dict[str, float] = {}
    con = connect_for_write(settings.writer_db_path, settings.lock_timeout_s, logger=get_run_logger())
    try:
        built = build.load_and_build(con, settings.lake_dir, batch_ids, seconds)
        outcome = batches_outcome(con, batch_ids)
    finally:
        con.close()  # DuckDB checkpoints on close: the file holds every committed change
    plans.remove_plans(settings.lake_dir)  # everything planned is recorded in the warehouse now
    batch_record.record_loaded(settings.lake_dir, batch_ids)
    started = time.perf_counter()
    published = snapshots.publish(settings.writer_db_path, settings.db_path)
    seconds["snapshot"] = time.perf_counter() - started
    if published is not None:
        logger.info("published the snapshot readers open: %s (%d bytes)", settings.db_path, published.bytes)
    if built:
        logger.info("loaded %d lake batch(es); models built and data tests passed", len(batch_ids))
    else:
        logger.info("nothing new: warehouse unchanged")
    for line in capped([str(problem) for problem in outcome.problems]):  # `bulletins status` has them all
        logger.warning(line)
    started = time.perf_counter()
    copy_problem = None
    if built or build.marts_missing_in_lake(settings.lake_dir):
        copy_problem = build.refresh_marts_copy(settings.db_path, settings.lake_dir)
    seconds["export_marts"] = time.perf_counter() - started
    return Built(built, seconds, outcome, copy_problem)


@task(name="notify", cache_policy=NO_CACHE)
def notify(settings: Settings, summary: RunSummary) -> list[str]:
    """Tell BULLETINS_NOTIFY_URL's targets what this run brings, and which alerts began or
    ended (README, "Notifications"); what could not be sent."""
    if settings.notify_url is None or not settings.db_path.exists():  # the flow calls it only with a URL
        return []
    now = notifications.now_utc()
    with connection(settings.db_path, read_only=True) as con:  # read first: no connection held while posting
        notices = notifications.run_notices(
            con, summary.batch_ids, summary.weeks_loaded, settings.notify_streak_weeks, summary.reports, _report_link
        )
        stale = notifications.stale_feeds(read_freshness(con, notifications.local_day(now), settings.stale_after_days))
    # Each post, and all of them together, time-bounded.
    problems = notifications.notify_run(settings.notify_targets, settings.notify_state_path, notices, stale, now)
    get_run_logger().info("notifications: %d message(s) of this run, %d not sent", len(notices), len(problems))
    return problems


def _report_link(path: str) -> str:
    """A report as a message names it: its http:// address while `serve` serves the reports (it
    opens on a phone in the office's network), else its path on this machine (a file:// link
    opens nowhere else)."""
    url = report_url(Path(path))
    return url if url.startswith(("http://", "https://")) else path


def _notify_failed_run(flow: object, flow_run: FlowRun, state: State) -> None:
    """The flow's failure hook: tell the targets runs are failing, at most once a day (never raises)."""
    try:
        parameters = flow_run.parameters or {}
        settings = Settings.resolve(parameters.get("inbox"), parameters.get("warehouse"))
    except ValueError:  # a setting that is no number: the run failed on it, there is no URL to trust
        return
    if settings.notify_url is None:
        return
    reason = (state.message or "no reason given").splitlines()[0]
    for problem in notifications.notify_failure(settings.notify_targets, settings.notify_state_path, reason):
        logging.getLogger(__name__).warning(problem)


@task(name="write-reports", cache_policy=NO_CACHE)
def write_reports(settings: Settings, weeks_loaded: list[date], rebuilt: bool) -> RunReports:
    """Write the weekly reports of the weeks this run loaded into <warehouse>/reports/."""
    return write_run_reports(settings.db_path, settings.reports_dir, weeks_loaded, rebuilt)


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish(settings: Settings, summary: RunSummary) -> None:
    publish_run_artifacts(settings.db_path, summary, settings.inbox)


def _write_reports(settings: Settings, summary: RunSummary) -> None:
    """Reports after the data is committed: a failure here is a warning, never a failed run."""
    progress.phase("writing the weekly reports")
    try:
        reports = write_reports(settings, summary.weeks_loaded, summary.models_built)
    except Exception as exc:  # the data is in; the report can be written again with `bulletins report`
        summary.warnings.append(f"周报未写成（`bulletins report` 可补写）：{type(exc).__name__}: {exc}".splitlines()[0])
        return
    summary.reports = [str(w.html) for w in reports.written]
    summary.latest_reports = [str(p) for p in reports.latest]


def _maintain_weekly(settings: Settings, summary: RunSummary) -> None:
    """Compact and vacuum the lake when its last maintenance is a week old (we hold the run lock).

    A failure is a warning, never a failed run: the data is committed; `bulletins maintain` retries.
    """
    if not settings.publish or not settings.lake_dir.is_dir() or not maintain.maintenance_due(settings.lake_dir):
        return
    progress.phase("maintaining the lake (weekly)")
    started = time.perf_counter()
    try:
        done = maintain.maintain_locked(settings)
    except Exception as exc:
        summary.warnings.append(
            f"每周的湖维护未完成（`bulletins maintain` 可重试）：{type(exc).__name__}: {exc}".splitlines()[0]
        )
        return
    summary.seconds["maintain"] = time.perf_counter() - started
    get_run_logger().info("weekly lake maintenance: %s", "; ".join(done.lines()))


def _check_freshness(settings: Settings, summary: RunSummary) -> None:
    """Warn for each city with no new week published for longer than BULLETINS_STALE_AFTER_DAYS."""
    if not settings.db_path.exists():
        return
    with connection(settings.db_path, read_only=True) as con:
        freshness = read_freshness(con, local_today(), settings.stale_after_days)
    summary.warnings += [w for city in freshness if (w := stale_warning(city))]


def _batch_id(stamp: str, n: int) -> str:
    return f"{stamp}-{n:04d}"


@flow(name="bulletin-etl", on_failure=[_notify_failed_run], on_crashed=[_notify_failed_run])
def bulletin_etl(inbox: str | None = None, warehouse: str | None = None) -> RunSummary:
    """Take new pages from the inbox into the lake and the warehouse, then rebuild the marts.

    A run that finds another run writing waits for it, then ends in the state `Skipped`
    (a Cancelled state), not Completed: a stuck writer shows in the UI.
    """
    flow_run_dies_with_runner()  # under `serve`: end when serve ends (processes.py)
    logger = get_run_logger()
    settings = Settings.resolve(inbox, warehouse)
    validate_paths(settings)  # a warehouse inside its inbox would read its own files, every run
    summary = RunSummary()
    try:
        progress.phase("waiting for the run lock")
        # The deadline (BULLETINS_RUN_TIMEOUT_S) ends a run that holds the lock and cannot
        # finish, e.g. on a stalled API, so that later runs are not skipped for good (stopping.py).
        with (
            run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s, logger=logger),
            Stopper(settings.run_timeout_s, handle_signals=False),
        ):
            _run(settings, summary)
            started = time.perf_counter()
            _write_reports(settings, summary)
            summary.seconds["reports"] = time.perf_counter() - started
            _maintain_weekly(settings, summary)
    except RunInProgress as exc:
        if stuck := stuck_holder(settings.run_lock_path, settings.run_timeout_s):
            raise LockHolderStuck(f"run skipped: {stuck}") from None  # a failed run: shown, notified
        summary.not_run = str(exc)
        logger.warning("run skipped: %s", exc)
        # Prefect makes a returned state the run's final state; calling the flow then raises CancelledRun.
        return Cancelled(name="Skipped", message=summary.line())  # type: ignore[return-value]
    _check_freshness(settings, summary)
    if settings.notify_url is not None:  # no webhook, no task run to show for it
        summary.warnings += notify(settings, summary)
    for warning in summary.warnings:
        logger.warning(warning)
    progress.phase("publishing the artifacts")
    started = time.perf_counter()
    publish(settings, summary)
    summary.seconds["publish"] = time.perf_counter() - started
    logger.info(summary.line())
    logger.info(summary.timings_line())
    return summary


def _run(settings: Settings, summary: RunSummary) -> None:
    logger = get_run_logger()
    seen_at = datetime.now(UTC)
    stamp = seen_at.strftime("%Y%m%dT%H%M%S%fZ")
    started = time.perf_counter()
    prepared = discover(settings, seen_at, stamp)
    summary.seconds["discover"] = time.perf_counter() - started
    summary.seconds.update(prepared.seconds)
    plan = prepared.plan
    summary.files_seen, summary.files_unchanged = plan.seen, plan.unchanged
    summary.batches_recovered = len(prepared.pending_batches)
    summary.lake_problems = list(prepared.lake_problems)
    if prepared.pending_batches:
        logger.info(
            "recovering %d lake batch(es) not loaded yet (an interrupted run's, or an ingest-only host's)",
            len(prepared.pending_batches),
        )

    started = time.perf_counter()
    results = _parse(settings, summary, plan, stamp, seen_at)
    new_batches: list[str] = []
    for result in results:
        new_batches.append(result.batch_id)
        for step, seconds in result.seconds.items():  # worker-seconds, summed over batches
            summary.seconds[f"parse_{step}"] = summary.seconds.get(f"parse_{step}", 0.0) + seconds
    # Duplicates (of originals recorded) and entries not read: a files-only batch.
    recorded_only = plan.recorded_after({path for result in results for path in result.missing})
    if recorded_only:
        batch_id = _batch_id(stamp, len(results) + 1)
        record_unparsed(settings.lake_dir, batch_id, recorded_only, seen_at)
        new_batches.append(batch_id)
    summary.seconds["parse"] = time.perf_counter() - started
    summary.parse_tasks = len(results)

    if not settings.publish:  # the owner's next run loads these batches as recovered ones
        ingest_only_summary(summary, results, new_batches)
        return
    progress.phase("loading and building the marts")
    started = time.perf_counter()
    summary.batch_ids = prepared.pending_batches + new_batches
    # Exactly one publisher across hosts, when the API has the limit `bulletins deploy` made.
    with publish_slot(settings.lock_timeout_s, logger) as waited:
        loaded = load_and_build(settings, summary.batch_ids)
    summary.models_built = loaded.built
    summary.seconds["load_and_build"] = (
        time.perf_counter() - started - loaded.seconds["export_marts"] - loaded.seconds["snapshot"] - (waited or 0.0)
    )
    if waited is not None:
        summary.seconds["publish_wait"] = waited
    summary.seconds.update(loaded.seconds)
    if loaded.marts_copy_problem:  # the warehouse is committed; the next build writes the copy again
        summary.warnings.append(f"统计表在湖中的副本（Delta 表）未写入（下次构建会重写）：{loaded.marts_copy_problem}")
    # What this run's batches (recovered ones included) became, the warehouse's rules applied.
    outcome = loaded.outcome
    summary.count(outcome.statuses, outcome.weeks, outcome.problems)


def _parse(settings: Settings, summary: RunSummary, plan: Plan, stamp: str, seen_at: datetime) -> list[BatchResult]:
    """Parse the new files into lake batches: on the Dask cluster of BULLETINS_DASK_ADDRESS,
    else in a process pool, or here when they are few (up to `settings.inline_parse_max_bytes`).

    The pool lives for the parse stage only, so that its workers (each holding Prefect,
    some 200 MB) are gone before the load: the run's peak memory stays flat. A Dask
    cluster's workers outlive the run (`serve` keeps its own warm). Where the workers
    idled goes to the run's timings (`parse_idle_start`, `_between`, `_finish`).
    """
    total = len(plan.to_parse)
    progress.files_parsed(0, total)
    if not plan.to_parse:
        return []
    if settings.dask_address is not None:
        # Every parse goes to the cluster the user named: its workers are started already,
        # and an address that does not answer fails the run here, before anything is parsed.
        with dask_runner(settings.dask_address) as runner:
            logger = get_run_logger()
            opened_at = time.time()
            slots = worker_slots(runner)
            logger.info("parsing on the Dask cluster %s (%d worker thread(s))", settings.dask_address, slots)
            results = _submit_all(runner, settings, plan, stamp, seen_at, slots, dask=True)
        return _with_idle(summary, results, opened_at)
    if sum(item.size_bytes for item in plan.to_parse) <= settings.inline_parse_max_bytes:
        inline: list[BatchResult] = []
        for n, items in enumerate(batches(plan.to_parse), start=1):
            # quote (as below): Prefect unwraps it before the call, without walking the files.
            inline.append(
                parse_batch(str(settings.inbox), str(settings.lake_dir), _batch_id(stamp, n), quote(items), seen_at)  # type: ignore[call-overload]
            )
            progress.files_parsed(sum(sum(r.statuses.values()) for r in inline), total)
        return inline
    # Workers end with the run that spawned them, even when it is killed (processes.py).
    opened_at = time.time()
    with ProcessPoolTaskRunner(max_workers=settings.parse_workers, initializer=pool_worker_dies_with_parent) as pool:
        results = _submit_all(pool, settings, plan, stamp, seen_at, settings.parse_workers, dask=False)
    return _with_idle(summary, results, opened_at)


def _submit_all(
    runner: TaskRunner, settings: Settings, plan: Plan, stamp: str, seen_at: datetime, spread: int, *, dask: bool
) -> list[BatchResult]:
    """Submit one parse task per batch (a multiple of `spread` batches of even size); their results in order."""
    total = len(plan.to_parse)
    futures = [
        runner.submit(
            parse_batch,
            {
                "inbox": str(settings.inbox),
                "lake_dir": str(settings.lake_dir),
                "batch_id": _batch_id(stamp, n),
                # quote: Prefect would walk thousands of files looking for futures, in the
                # flow and again in the worker (0.5 s per 7,000 files, measured). Dask sends
                # a quote on as a plain tuple: there, the files go in an opaque `Files`.
                "items": Files(items) if dask else quote(items),
                "seen_at": seen_at,
            },
        )
        for n, items in enumerate(batches(plan.to_parse, spread=spread), start=1)
    ]
    results: list[BatchResult] = []
    for future in futures:
        results.append(future.result())
        progress.files_parsed(sum(sum(r.statuses.values()) for r in results), total)
    return results


def _with_idle(summary: RunSummary, results: list[BatchResult], opened_at: float) -> list[BatchResult]:
    for where, seconds in pool_idle_seconds(results, opened_at, time.time()).items():
        summary.seconds[f"parse_idle_{where}"] = seconds
    return results
