"""`stages.combine`: the run's summary from what the flow's stages returned (pure, no Prefect run)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from flows.orchestration.stages import (
    Discovered,
    Ingested,
    Loaded,
    Maintained,
    Parsed,
    ReportsWritten,
    combine,
    parse_statuses,
)
from flows.warehouse.inbox import InboxPlan
from flows.warehouse.ingest import BatchResult
from flows.warehouse.lake_audit import RESTORED, LakeProblem
from flows.warehouse.readers.status import BatchesOutcome
from flows.warehouse.summary import ProblemFile

PROBLEM = ProblemFile("partial", "b.txt", ["units not unique"])
LAKE = LakeProblem("r-0001", "files part missing", RESTORED)


def _discovered(pending: list[str]) -> Discovered:
    return Discovered(
        InboxPlan(seen=7, unchanged=3),
        pending_batches=pending,
        lake_problems=[LAKE],
        seconds={"verify": 0.5, "audit": 0.25, "plan": 1.0},
    )


def _parsed() -> Parsed:
    results = [
        BatchResult("s-0001", {"loaded": 2, "partial": 1}, [], seconds={"read": 1.0, "parse": 2.0, "write": 0.5}),
        BatchResult("s-0002", {"loaded": 1, "quarantined": 1}, [], seconds={"read": 0.5, "parse": 1.0, "write": 0.25}),
    ]
    return Parsed(results, ["s-0001", "s-0002", "s-0003"], seconds=4.0, idle_seconds={"start": 0.75})


def _loaded(copy_problem: str | None = None) -> Loaded:
    outcome = BatchesOutcome(
        {"loaded": 3, "partial": 1, "duplicate": 2, "skipped": 1}, [date(2021, 1, 18), date(2021, 1, 11)], [PROBLEM]
    )
    steps = {"load": 1.0, "models": 2.0, "data_tests": 0.5, "commit": 0.25, "snapshot": 0.5, "export_marts": 0.75}
    return Loaded(True, steps, outcome, copy_problem)


def test_a_publishing_run_counts_what_the_loaded_batches_became() -> None:
    ingested = Ingested(_discovered(["r-0001"]), 0.5, _parsed(), _loaded(), load_s=6.0, publish_wait_s=1.25)
    reports = ReportsWritten(2.0, ["wh/reports/report-2021-01-18.html"], ["wh/reports/report-2021-01-18.html"])
    summary = combine(ingested, reports, Maintained(3.0), stale=["城市 A 停更"], notify_problems=["未发出"])

    assert (summary.files_seen, summary.files_unchanged) == (7, 3)
    assert (summary.files_new, summary.files_loaded, summary.files_partial, summary.files_quarantined) == (4, 3, 1, 0)
    assert (summary.files_duplicate, summary.files_skipped) == (2, 1)
    assert summary.weeks_loaded == [date(2021, 1, 18), date(2021, 1, 11)]
    assert summary.problems == [PROBLEM] and summary.lake_problems == [LAKE]
    assert summary.models_built is True and summary.not_run is None
    assert summary.batch_ids == ["r-0001", "s-0001", "s-0002", "s-0003"]  # recovered first
    assert summary.batches_recovered == 1 and summary.parse_tasks == 2
    assert summary.reports == summary.latest_reports == ["wh/reports/report-2021-01-18.html"]
    assert summary.warnings == ["城市 A 停更", "未发出"]
    # In the order the stages ran; parse steps summed over batches; the load's own time
    # without the slot's wait, the snapshot and the marts' copy (6 - 1.25 - 0.5 - 0.75).
    assert list(summary.seconds.items()) == [
        ("discover", 0.5),
        ("verify", 0.5),
        ("audit", 0.25),
        ("plan", 1.0),
        ("parse_idle_start", 0.75),
        ("parse_read", 1.5),
        ("parse_parse", 3.0),
        ("parse_write", 0.75),
        ("parse", 4.0),
        ("load_and_build", 3.5),
        ("publish_wait", 1.25),
        ("load", 1.0),
        ("models", 2.0),
        ("data_tests", 0.5),
        ("commit", 0.25),
        ("snapshot", 0.5),
        ("export_marts", 0.75),
        ("reports", 2.0),
        ("maintain", 3.0),
    ]
    assert summary.timings_line().startswith("timings: discover=0.50s verify=0.50s audit=0.25s plan=1.00s")
    assert summary.timings_line().endswith("reports=2.00s maintain=3.00s parse_tasks=2")


def test_warnings_come_in_the_order_the_stages_ran() -> None:
    ingested = Ingested(_discovered([]), 0.5, _parsed(), _loaded(copy_problem="disk full"), load_s=6.0)
    reports = ReportsWritten(0.1, warning="周报未写成（`bulletins report` 可补写）：OSError: disk full")
    maintained = Maintained(warning="每周的湖维护未完成（`bulletins maintain` 可重试）：OSError: disk full")
    summary = combine(ingested, reports, maintained, stale=["stale"], notify_problems=["not sent"])

    assert summary.warnings == [
        "统计表在湖中的副本（Delta 表）未写入（下次构建会重写）：disk full",
        "周报未写成（`bulletins report` 可补写）：OSError: disk full",
        "每周的湖维护未完成（`bulletins maintain` 可重试）：OSError: disk full",
        "stale",
        "not sent",
    ]
    assert summary.reports == [] and summary.latest_reports == []
    # No slot waited for (no such limit): no publish_wait, the load's time is its own; maintenance failed: no time.
    assert summary.seconds["load_and_build"] == pytest.approx(6.0 - 0.5 - 0.75)
    assert "publish_wait" not in summary.seconds and "maintain" not in summary.seconds


def test_an_ingest_only_run_counts_what_its_parse_tasks_recorded() -> None:
    ingested = Ingested(_discovered([]), 0.5, _parsed(), loaded=None)
    summary = combine(ingested, ReportsWritten(0.1), Maintained())

    assert (summary.files_new, summary.files_loaded, summary.files_partial, summary.files_quarantined) == (5, 3, 1, 1)
    assert summary.weeks_loaded == [] and summary.problems == [] and summary.models_built is False
    assert summary.batch_ids == ["s-0001", "s-0002", "s-0003"]
    assert summary.warnings == [
        "仅采集（BULLETINS_PUBLISH=0）：本次向湖写入 3 个批次，未载入数据库；持有 DuckDB 文件的主机下次运行时载入并发布"
    ]
    assert list(summary.seconds)[-2:] == ["parse", "reports"]  # nothing loaded: no load, snapshot or copy times
    assert not {"load_and_build", "snapshot", "export_marts"} & set(summary.seconds)


def test_a_run_with_nothing_new_counts_nothing() -> None:
    nothing = Parsed([], [], seconds=0.0)
    empty = BatchesOutcome({}, [], [])
    loaded = Loaded(False, {"snapshot": 0.0, "export_marts": 0.0}, empty, None)
    summary = combine(Ingested(_discovered([]), 0.1, nothing, loaded, load_s=0.2), ReportsWritten(0.0), Maintained())

    assert summary.files_new == 0 and summary.batch_ids == [] and summary.parse_tasks == 0
    assert not summary.changed and summary.models_built is False
    assert not any(key.startswith("parse_") for key in summary.seconds)  # no parse task, no step times


def test_combine_leaves_the_stages_records_as_they_were() -> None:
    loaded = _loaded()
    ingested = Ingested(_discovered(["r-0001"]), 0.5, _parsed(), loaded, load_s=6.0)
    summary = combine(ingested, ReportsWritten(1.0, ["a.html"], ["a.html"]), Maintained())
    summary.problems.append(PROBLEM)
    summary.batch_ids.append("x")
    summary.weeks_loaded.append(date(2020, 1, 6))

    assert loaded.outcome.problems == [PROBLEM]
    assert ingested.discovered.pending_batches == ["r-0001"] and ingested.parsed.batch_ids[-1] == "s-0003"
    assert loaded.outcome.weeks == [date(2021, 1, 18), date(2021, 1, 11)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ingested.loaded = None  # type: ignore[misc]


def test_parse_statuses_sums_the_batches() -> None:
    assert parse_statuses(_parsed().results) == {"loaded": 3, "partial": 1, "quarantined": 1}
    assert parse_statuses([]) == {}
