"""`prefect_local.run_flow`: the one entry point that starts the flow (`bulletins run` calls it).

In this process, on the session's Prefect API (PREFECT_API_URL wins over any server of
our own); the CLI's own output is tests/test_cli.py's and tests/test_run_output.py's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_run_output import Recorder
from testdata import SAMPLE_PAGE

from flows.orchestration.prefect_local import run_flow
from flows.settings import Settings
from flows.warehouse.locks import run_lock

CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"


@pytest.fixture
def settings(prefect_harness, tmp_path: Path) -> Iterator[Settings]:
    """A warehouse and an inbox holding the sample page; this process's environment as it was, after."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE_PAGE.read_bytes())
    saved = dict(os.environ)  # run_flow sets Prefect's local settings in it (configure_prefect)
    try:
        yield Settings.resolve(str(inbox), tmp_path / "wh")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_run_flow_returns_the_runs_summary_and_the_callers_timings(settings: Settings) -> None:
    recorder = Recorder()

    @contextmanager
    def listening() -> Iterator[Recorder]:
        yield recorder

    assert CONSOLE_LEVEL not in os.environ
    ran = run_flow(settings, progress=listening)

    assert ran.error is None and ran.not_run is None
    assert ran.summary is not None and ran.summary.files_loaded == 1 and ran.summary.models_built
    assert list(ran.seconds) == ["prefect_start_and_import", "flow", "prefect_stop"]
    assert recorder.phases[0] == "waiting for the run lock" and recorder.phases[-1] == "publishing the artifacts"
    assert recorder.parsed[-1] == (1, 1)
    assert CONSOLE_LEVEL not in os.environ  # Prefect's console silenced for the run only


def test_a_skipped_run_is_a_result_not_an_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "0.5")
    with run_lock(settings.run_lock_path, wait_s=0):  # another run holds the warehouse
        ran = run_flow(settings)

    assert ran.summary is None and ran.error is None
    assert ran.not_run is not None and ran.not_run.startswith("run skipped: another bulletin-etl run holds ")


def test_a_failed_run_returns_its_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.warehouse import build

    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("the load broke")

    monkeypatch.setattr(build, "load_and_build", broken)
    ran = run_flow(settings)

    assert ran.summary is None and ran.not_run is None
    assert isinstance(ran.error, RuntimeError) and str(ran.error) == "the load broke"
