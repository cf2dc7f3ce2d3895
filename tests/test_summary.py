"""What a run did, in one line: the lake check's part counts batches by what was done to them."""

from __future__ import annotations

from flows.reporting.run_summary import run_line
from flows.warehouse.lake_audit import RESTORED, SET_ASIDE, LakeProblem
from flows.warehouse.summary import RunSummary


def test_lake_line_counts_batches_by_their_action_not_by_their_reason() -> None:
    # A reason that quotes the words of the other action: only `action` says what was done.
    summary = RunSummary(
        lake_problems=[
            LakeProblem("b1", "files part unreadable (was restored from the warehouse before)", SET_ASIDE, 3),
            LakeProblem("b2", "bulletins part missing", RESTORED),
            LakeProblem("b3", "moved to lake/_quarantine, not loaded: units part truncated", RESTORED),
        ]
    )
    assert summary.lake_line() == (
        "lake: 2 batch(es) restored from the warehouse, 1 set aside in lake/_quarantine (quarantine.log says why)"
    )
    assert summary.line().endswith("; " + summary.lake_line())
    assert run_line(summary).endswith(
        "；湖检查：2 个批次已从数据库恢复，1 个批次已移出、不入库（lake/_quarantine，原因见 quarantine.log）"
    )


def test_a_sound_lake_says_nothing() -> None:
    summary = RunSummary(files_new=1, files_loaded=1)
    assert summary.lake_line() == ""
    assert "lake" not in summary.line() and "湖检查" not in run_line(summary)
