"""What each stage of the `bulletin-etl` flow returns, and `combine`: the one place they
become the run's `RunSummary`.

Every stage returns a small frozen record; nothing passes a summary around to fill in.
The flow calls `combine` once, after the last stage that feeds the summary (notify).
Pure: no Prefect, no DuckDB, no files (the unit tests build the records by hand).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flows.warehouse.summary import RunSummary, file_counts

if TYPE_CHECKING:  # types only: the flow imports the modules that define them anyway
    from datetime import date

    from flows.warehouse.inbox import InboxPlan
    from flows.warehouse.ingest import BatchResult
    from flows.warehouse.lake_audit import LakeProblem
    from flows.warehouse.readers.status import BatchesOutcome


@dataclass(frozen=True)
class Discovered:
    """What `discover` found: the run's plan, lake batches not loaded yet, what the lake check did."""

    plan: InboxPlan
    pending_batches: list[str]  # complete lake batches not loaded (an interrupted run's, an ingest-only host's)
    lake_problems: list[LakeProblem]
    # verify (read every block of the warehouse), audit (the lake), plan (list, stat, hash the inbox)
    seconds: dict[str, float]


@dataclass(frozen=True)
class Parsed:
    """What the parse stage wrote into the lake: one result per parse task, and the batches."""

    results: list[BatchResult]
    batch_ids: list[str]  # one per parse task, then the files-only batch (duplicates, entries not read), if any
    seconds: float  # the stage's wall time, the files-only batch included
    idle_seconds: dict[str, float] = field(default_factory=dict)  # a pool's or cluster's: start, between, finish


@dataclass(frozen=True)
class Loaded:
    """What loading the batches did: the transaction, the snapshot and the marts' copy."""

    built: bool  # anything loaded (models built, data tests passed, committed)
    seconds: dict[str, float]  # by step: load, models, data_tests, commit, snapshot, export_marts
    outcome: BatchesOutcome  # what the batches' entries became
    marts_copy_problem: str | None  # why the marts' Delta copy could not be written


@dataclass(frozen=True)
class Ingested:
    """Discover, parse and (on the host that publishes) load: the run's data, as the flow timed it."""

    discovered: Discovered
    discover_s: float
    parsed: Parsed
    loaded: Loaded | None  # None: an ingest-only host (BULLETINS_PUBLISH=0) loads nothing
    load_s: float = 0.0  # the load stage's wall time: the publish slot's wait, the snapshot and the copy included
    publish_wait_s: float | None = None  # waited for the `bulletins-publish` slot (None: no such limit)

    @property
    def batch_ids(self) -> list[str]:
        """The lake batches this run loaded (recovered ones first), or wrote for the owner to load."""
        if self.loaded is None:
            return list(self.parsed.batch_ids)
        return self.discovered.pending_batches + self.parsed.batch_ids

    @property
    def weeks_loaded(self) -> list[date]:
        return list(self.loaded.outcome.weeks) if self.loaded is not None else []


@dataclass(frozen=True)
class ReportsWritten:
    """The weekly reports the run wrote (HTML paths), or why it wrote none."""

    seconds: float
    reports: list[str] = field(default_factory=list)  # written now, oldest week first
    latest: list[str] = field(default_factory=list)  # each city's latest week's report (now or before)
    warning: str | None = None


@dataclass(frozen=True)
class Maintained:
    """The weekly lake maintenance, when it was due: its time, or why it did not finish."""

    seconds: float | None = None  # None: not due, or failed
    warning: str | None = None


def combine(
    ingested: Ingested,
    reports: ReportsWritten,
    maintained: Maintained,
    stale: Sequence[str] = (),
    notify_problems: Sequence[str] = (),
) -> RunSummary:
    """The run's summary from what its stages returned.

    Counts come from what the loaded batches' entries became (the warehouse's rules
    applied); on an ingest-only host, from the parser's statuses. Warnings in the order
    the stages ran; timings by stage in the order they ran (`RunSummary.timings_line`).
    """
    discovered, parsed, loaded = ingested.discovered, ingested.parsed, ingested.loaded
    if loaded is not None:
        statuses, problems = loaded.outcome.statuses, list(loaded.outcome.problems)
    else:
        statuses, problems = parse_statuses(parsed.results), []
    return RunSummary(
        files_seen=discovered.plan.seen,
        files_unchanged=discovered.plan.unchanged,
        **file_counts(statuses),
        batches_recovered=len(discovered.pending_batches),
        weeks_loaded=ingested.weeks_loaded,
        problems=problems,
        models_built=loaded.built if loaded is not None else False,
        batch_ids=ingested.batch_ids,
        reports=list(reports.reports),
        latest_reports=list(reports.latest),
        warnings=[*_ingest_warnings(ingested), *_warnings(reports, maintained), *stale, *notify_problems],
        lake_problems=list(discovered.lake_problems),
        seconds=_seconds(ingested, reports, maintained),
        parse_tasks=len(parsed.results),
    )


def parse_statuses(results: Sequence[BatchResult]) -> dict[str, int]:
    """Files by status as the parse tasks recorded them (summed over batches)."""
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return statuses


def _ingest_warnings(ingested: Ingested) -> list[str]:
    loaded = ingested.loaded
    if loaded is None:  # the owner's next run loads these batches as recovered ones (publishing.py)
        return [
            f"仅采集（BULLETINS_PUBLISH=0）：本次向湖写入 {len(ingested.parsed.batch_ids)} 个批次，未载入数据库；"
            "持有 DuckDB 文件的主机下次运行时载入并发布"
        ]
    if loaded.marts_copy_problem:  # the warehouse is committed; the next build writes the copy again
        return [f"统计表在湖中的副本（Delta 表）未写入（下次构建会重写）：{loaded.marts_copy_problem}"]
    return []


def _warnings(reports: ReportsWritten, maintained: Maintained) -> list[str]:
    return [w for w in (reports.warning, maintained.warning) if w]


def _seconds(ingested: Ingested, reports: ReportsWritten, maintained: Maintained) -> dict[str, float]:
    """Where the run's time went, by stage, in the order the stages ran.

    Parse steps are worker-seconds summed over batches; `load_and_build` is the load
    stage's time without the slot's wait, the snapshot and the marts' copy (each their own).
    """
    seconds: dict[str, float] = {"discover": ingested.discover_s, **ingested.discovered.seconds}
    parsed = ingested.parsed
    seconds.update({f"parse_idle_{where}": s for where, s in parsed.idle_seconds.items()})
    for result in parsed.results:
        _add(seconds, {f"parse_{step}": s for step, s in result.seconds.items()})
    seconds["parse"] = parsed.seconds
    loaded = ingested.loaded
    if loaded is not None:
        steps = loaded.seconds
        waited = ingested.publish_wait_s
        seconds["load_and_build"] = ingested.load_s - steps["export_marts"] - steps["snapshot"] - (waited or 0.0)
        if waited is not None:
            seconds["publish_wait"] = waited
        seconds.update(steps)
    seconds["reports"] = reports.seconds
    if maintained.seconds is not None:
        seconds["maintain"] = maintained.seconds
    return seconds


def _add(total: dict[str, float], more: Mapping[str, float]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0.0) + value
