"""What a run says and writes besides the data: progress, quiet output, reports that never fail a run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pipeline_helpers import bulletins, make_inbox, query

from flows.orchestration import progress


class Recorder:
    def __init__(self) -> None:
        self.phases: list[str] = []
        self.parsed: list[tuple[int, int]] = []

    def phase(self, text: str) -> None:
        self.phases.append(text)

    def files_parsed(self, done: int, total: int) -> None:
        self.parsed.append((done, total))


def test_a_run_reports_files_parsed_out_of_the_total(prefect_harness, tmp_path: Path) -> None:
    from flows.orchestration.flow import bulletin_etl

    recorder = Recorder()
    with progress.listening(recorder):
        bulletin_etl(inbox=str(make_inbox(tmp_path / "inbox")), warehouse=str(tmp_path / "wh"))
    assert recorder.parsed[0] == (0, 6) and recorder.parsed[-1] == (6, 6)
    assert [done for done, _ in recorder.parsed] == sorted(done for done, _ in recorder.parsed)
    assert recorder.phases == [
        "waiting for the run lock",
        "loading and building the marts",
        "writing the weekly reports",
        "publishing the artifacts",
    ]
    # Nobody listening: nothing is called.
    progress.files_parsed(1, 2)
    assert recorder.parsed[-1] == (6, 6)


def test_a_report_that_cannot_be_written_is_a_warning_not_a_failed_run(
    prefect_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.orchestration import flow

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(flow, "write_run_reports", disk_full)
    state = flow.bulletin_etl(
        inbox=str(make_inbox(tmp_path / "inbox")), warehouse=str(tmp_path / "wh"), return_state=True
    )
    assert state.is_completed()
    summary = state.result()
    assert summary.files_loaded == 6 and summary.reports == [] and summary.latest_reports == []
    assert "周报未写成（`bulletins report` 可补写）：OSError: [Errno 28] No space left on device" in summary.warnings
    assert query(tmp_path / "wh" / "bulletins.duckdb", "select count(*) from marts.city_week_performance") == [(6,)]


def _bulletins(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own Prefect home (the temporary server's database), Prefect's defaults for the API
    # and logging; a loaded machine starts the temporary server slowly.
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    return bulletins(*args, env=env, drop=("PREFECT_LOGGING", "PREFECT_API"), timeout=300)


@pytest.mark.slow
def test_run_in_a_pipe_prints_its_summary_and_warnings_only(tmp_path: Path) -> None:
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    result = _bulletins(tmp_path / "prefect", "run", "--inbox", str(inbox), "--warehouse", str(wh))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "新文件 6 个（已入库 6，部分入库 0，已隔离 0），重复 0，未变化 0；入库的周：6 周（2020-12-07 至 2021-01-18）",
        f"周报：{wh / 'reports' / 'report-2021-01-18.html'}",
    ]
    # No progress bar, no Prefect log lines: the warnings alone.
    [warning] = result.stderr.splitlines()
    assert warning.startswith("warning: 通报可能已停止更新，驻马店：最新一周截至 2021-01-24，之后 ")

    verbose = _bulletins(tmp_path / "prefect", "run", "--verbose", "--inbox", str(inbox), "--warehouse", str(wh))
    assert verbose.returncode == 0, verbose.stderr
    assert "| INFO    | Flow run " in verbose.stderr
    assert verbose.stdout.splitlines()[0].startswith("新文件 0 个（已入库 0，部分入库 0，已隔离 0）")
