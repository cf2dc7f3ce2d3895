"""The `bulletin-etl` Prefect flow: inbox -> Delta lake -> DuckDB -> marts.

Thin orchestration over pure modules: `inbox` (what is new), `ingest` (parse and
write lake batches), `warehouse` (load), `models` (SQL models and data tests). Each
stage returns a frozen record (`flows.orchestration.stages`); the flow combines them
into the run's summary once, at the end.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.states import Cancelled, State
from prefect.utilities.annotations import quote

from flows.orchestration import progress
from flows.orchestration.artifacts import publish_run_artifacts
from flows.orchestration.parse_stage import parse_new_files
from flows.orchestration.processes import flow_run_dies_with_runner
from flows.orchestration.publishing import ingest_only_plan, publish_slot
from flows.orchestration.report_server import report_url
from flows.orchestration.stages import Discovered, Ingested, Loaded, Maintained, ReportsWritten, combine
from flows.orchestration.stopping import LockHolderStuck, Stopper, stuck_holder
from flows.reporting import notify as notifications
from flows.reporting.report_files import RunReports, write_run_reports
from flows.reporting.run_summary import stale_warning
from flows.settings import Settings, local_today, validate_paths
from flows.warehouse import (
    batch_record,
    build,
    db,
    lake,
    lake_audit,
    lake_store,
    lake_upgrade,
    maintain,
    migrate,
    plans,
    snapshots,
)
from flows.warehouse.db import connection
from flows.warehouse.faults import checkpoint
from flows.warehouse.inbox import known_files, plan_run
from flows.warehouse.locks import RunInProgress, connect_for_write, run_lock
from flows.warehouse.readers.status import batches_outcome, read_freshness
from flows.warehouse.summary import RunSummary, capped

# Every task here has side effects (files, the warehouse): never skip one on matching inputs.


@task(name="discover-new-files", cache_policy=NO_CACHE)
def discover(settings: Settings, seen_at: datetime, run: str) -> Discovered:
    """Check the lake, find unloaded batches and new inbox content; write the run's plan.

    Entries an interrupted run planned keep their ingest_seq (`flows.warehouse.plans`):
    the plan is in the lake before anything is parsed.
    """
    logger = get_run_logger()
    if not settings.publish:  # an ingest-only host never opens the DuckDB file (publishing.py)
        return Discovered(
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
        # Tables written before a column was added get it, once, before their rows are read.
        upgraded, found = lake_upgrade.upgrade_lake(
            settings.lake_dir, lambda: lake_audit.audit(settings.lake_dir, loaded=loaded, full=True, restore=restore)
        )
        problems += found
        for line in upgraded.lines():
            logger.warning(line)
        batch_record.create_tables(settings.lake_dir)  # before parse workers commit to them at once
        pending = db.pending_batches(con, settings.lake_dir)
        pending_rows = lake.read_files_rows(settings.lake_dir, pending)
        recorded = db.recorded_files(con)
        # A batch a killed run's worker completed after a later run parsed its files again.
        if late := lake_audit.set_late_batches_aside(settings.lake_dir, pending_rows, recorded):
            problems += late
            aside = {p.batch_id for p in late}
            pending = [b for b in pending if b not in aside]
            pending_rows = [r for r in pending_rows if r["batch_id"] not in aside]
        for problem in problems:
            logger.warning(problem.line())
        audited = time.perf_counter()
        known = known_files(recorded, pending_rows)
    finally:
        con.close()
    planned = plans.read_plans(settings.lake_dir)
    plan = plan_run(settings.inbox, known, settings.max_file_bytes, planned, seen_at)
    entries = plan.to_parse + plan.recorded_only
    written = plans.write_plan(settings.lake_dir, run, entries) if entries else None
    plans.remove_plans(settings.lake_dir, keep=written)  # what they held is recorded, or in this plan
    checkpoint("planned")
    seconds = {"verify": verified - started, "audit": audited - verified, "plan": time.perf_counter() - audited}
    return Discovered(plan=plan, pending_batches=pending, lake_problems=problems, seconds=seconds)


@task(name="load-and-build", cache_policy=NO_CACHE)
def load_and_commit(settings: Settings, batch_ids: list[str]) -> Loaded:
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
    return Loaded(built, seconds, outcome, copy_problem)


@task(name="notify", cache_policy=NO_CACHE)
def notify(settings: Settings, batch_ids: list[str], weeks_loaded: list[date], reports: list[str]) -> list[str]:
    """Tell BULLETINS_NOTIFY_URL's targets what this run brings, and which alerts began or
    ended (README, "Notifications"); what could not be sent."""
    if settings.notify_url is None or not settings.db_path.exists():  # the flow calls it only with a URL
        return []
    now = notifications.now_utc()
    with connection(settings.db_path, read_only=True) as con:  # read first: no connection held while posting
        notices = notifications.run_notices(
            con, batch_ids, weeks_loaded, settings.notify_streak_weeks, reports, _report_link
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
        settings = Settings.resolve(parameters.get("inbox"), parameters.get("warehouse"), lake=parameters.get("lake"))
    except ValueError:  # a setting that is no number: the run failed on it, there is no URL to trust
        return
    if settings.notify_url is None:
        return
    for problem in notifications.notify_failure(settings.notify_targets, settings.notify_state_path, _failure(state)):
        logging.getLogger(__name__).warning(problem)


def _failure(state: State) -> BaseException | str:
    """What the run raised (the alert's words follow its type), else its state's first line
    (a crashed run's process raised nothing this one can see)."""
    try:
        raised = state.result(raise_on_failure=False)
    except Exception:  # no result to read (a crash): the message is all there is
        raised = None
    if isinstance(raised, BaseException):
        return raised
    return (state.message or "no reason given").splitlines()[0]


@task(name="write-reports", cache_policy=NO_CACHE)
def report_weeks(settings: Settings, weeks_loaded: list[date], rebuilt: bool) -> RunReports:
    """Write the weekly reports of the weeks this run loaded into <warehouse>/reports/."""
    return write_run_reports(settings.db_path, settings.reports_dir, weeks_loaded, rebuilt)


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(settings: Settings, summary: RunSummary, listed: frozenset[str]) -> None:
    """The run's artifacts; `listed`: the paths its walk of the inbox found (quoted: thousands)."""
    publish_run_artifacts(settings.db_path, summary, settings.inbox, listed)


def _weekly_reports(settings: Settings, ingested: Ingested) -> ReportsWritten:
    """Reports after the data is committed: a failure here is a warning, never a failed run."""
    started = time.perf_counter()
    progress.phase("writing the weekly reports")
    built = ingested.loaded is not None and ingested.loaded.built
    try:
        reports = report_weeks(settings, ingested.weeks_loaded, built)
    except Exception as exc:  # the data is in; the report can be written again with `bulletins report`
        warning = f"周报未写成（`bulletins report` 可补写）：{type(exc).__name__}: {exc}".splitlines()[0]
        return ReportsWritten(time.perf_counter() - started, warning=warning)
    written, latest = [str(w.html) for w in reports.written], [str(p) for p in reports.latest]
    return ReportsWritten(time.perf_counter() - started, written, latest)


def _maintain_weekly(settings: Settings) -> Maintained:
    """Compact and vacuum the lake when its last maintenance is a week old (we hold the run lock).

    A failure is a warning, never a failed run: the data is committed; `bulletins maintain` retries.
    """
    if (
        not settings.publish
        or not lake_store.exists(settings.lake_dir)
        or not maintain.maintenance_due(settings.lake_dir)
    ):
        return Maintained()
    progress.phase("maintaining the lake (weekly)")
    started = time.perf_counter()
    try:
        done = maintain.maintain_locked(settings)
    except Exception as exc:
        return Maintained(
            warning=f"每周的湖维护未完成（`bulletins maintain` 可重试）：{type(exc).__name__}: {exc}".splitlines()[0]
        )
    seconds = time.perf_counter() - started
    get_run_logger().info("weekly lake maintenance: %s", "; ".join(done.lines()))
    return Maintained(seconds)


def _stale_warnings(settings: Settings) -> list[str]:
    """A warning for each city with no new week published for longer than BULLETINS_STALE_AFTER_DAYS."""
    if not settings.db_path.exists():
        return []
    with connection(settings.db_path, read_only=True) as con:
        freshness = read_freshness(con, local_today(), settings.stale_after_days)
    return [w for city in freshness if (w := stale_warning(city))]


@flow(name="bulletin-etl", on_failure=[_notify_failed_run], on_crashed=[_notify_failed_run])
def bulletin_etl(inbox: str | None = None, warehouse: str | None = None, lake: str | None = None) -> RunSummary:
    """Take new pages from the inbox into the lake and the warehouse, then rebuild the marts.

    A run that finds another run writing waits for it, then ends in the state `Skipped`
    (a Cancelled state), not Completed: a stuck writer shows in the UI. Each stage returns
    what it did; `stages.combine` makes the run's summary of them, once.
    """
    flow_run_dies_with_runner()  # under `serve`: end when serve ends (processes.py)
    logger = get_run_logger()
    settings = Settings.resolve(inbox, warehouse, lake=lake)
    validate_paths(settings)  # a warehouse inside its inbox would read its own files, every run
    lake_store.check(settings.lake_dir, write=True)  # an S3 lake: a key that may write it, one line
    try:
        progress.phase("waiting for the run lock")
        # The deadline (BULLETINS_RUN_TIMEOUT_S) ends a run that holds the lock and cannot
        # finish, e.g. on a stalled API, so that later runs are not skipped for good (stopping.py).
        with (
            run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s, logger=logger),
            Stopper(settings.run_timeout_s, handle_signals=False),
        ):
            ingested = _ingest(settings)
            reports = _weekly_reports(settings, ingested)
            maintained = _maintain_weekly(settings)
    except RunInProgress as exc:
        if stuck := stuck_holder(settings.run_lock_path, settings.run_timeout_s):
            raise LockHolderStuck(f"run skipped: {stuck}") from None  # a failed run: shown, notified
        logger.warning("run skipped: %s", exc)
        # Prefect makes a returned state the run's final state; calling the flow then raises CancelledRun.
        return Cancelled(name="Skipped", message=RunSummary(not_run=str(exc)).line())  # type: ignore[return-value]
    stale = _stale_warnings(settings)
    unsent: list[str] = []
    if settings.notify_url is not None:  # no webhook, no task run to show for it
        # Small values only: Prefect walks a task's parameters (the plan would be thousands of files).
        unsent = notify(settings, ingested.batch_ids, ingested.weeks_loaded, reports.reports)
    summary = combine(ingested, reports, maintained, stale, unsent)
    for warning in summary.warnings:
        logger.warning(warning)
    progress.phase("publishing the artifacts")
    started = time.perf_counter()
    # quote: Prefect would walk the listing's thousands of paths looking for futures.
    publish_artifacts(settings, summary, quote(frozenset(ingested.discovered.plan.listed)))  # type: ignore[call-overload]
    # The artifacts' own time joins the timings after them (nothing they show reads it).
    summary = replace(summary, seconds={**summary.seconds, "publish": time.perf_counter() - started})
    logger.info(summary.line())
    logger.info(summary.timings_line())
    return summary


def _ingest(settings: Settings) -> Ingested:
    """Discover, parse, and (on the host that publishes) load: what each returned, timed."""
    logger = get_run_logger()
    seen_at = datetime.now(UTC)
    stamp = seen_at.strftime("%Y%m%dT%H%M%S%fZ")
    started = time.perf_counter()
    discovered = discover(settings, seen_at, stamp)
    discover_s = time.perf_counter() - started
    if discovered.pending_batches:
        logger.info(
            "recovering %d lake batch(es) not loaded yet (an interrupted run's, or an ingest-only host's)",
            len(discovered.pending_batches),
        )
    parsed = parse_new_files(settings, discovered.plan, stamp, seen_at)
    if not settings.publish:  # the owner's next run loads these batches as recovered ones
        return Ingested(discovered, discover_s, parsed, loaded=None)
    progress.phase("loading and building the marts")
    started = time.perf_counter()
    # Exactly one publisher across hosts, when the API has the limit `bulletins deploy` made.
    with publish_slot(settings.lock_timeout_s, logger) as waited:
        loaded = load_and_commit(settings, discovered.pending_batches + parsed.batch_ids)
    return Ingested(discovered, discover_s, parsed, loaded, time.perf_counter() - started, waited)
