"""Scheduled runs end to end: a real Prefect server on loopback, `serve()` in a subprocess.

Each test starts real processes, waits a bounded time for what it expects, stops
everything and checks that no process it started is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from testdata import SAMPLE_PAGE

from flows.orchestration.artifacts import UNIT_TABLE_KEY, WEEKLY_REPORT_LINK_KEY
from flows.orchestration.prefect_local import TELEMETRY_OFF, managed_server
from flows.orchestration.serve import DEPLOYMENT_NAME
from flows.reporting.run_summary import read_unit_table
from flows.warehouse.db import connection
from flows.warehouse.locks import is_lock_conflict

SAMPLE_WEEK = "2020-12-14"
FULL_NAME = f"bulletin-etl/{DEPLOYMENT_NAME}"


# --- processes --------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        stat = _stat(other)
        if stat is not None:
            children.setdefault(stat[1], []).append(other)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {p for p in found if _alive(p)}


def group_members(pgid: int) -> set[int]:
    """Live processes in process group `pgid` (orphans keep their group).

    Zombies are left out: they have ended, and this machine's init reaps orphans late.
    """
    return {p for p in _all_pids() if (s := _stat(p)) is not None and s[2] == pgid and s[0] != "Z"}


def _describe(pids: set[int]) -> str:
    lines = []
    for pid in sorted(pids):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = "?"
        lines.append(f"{pid} {_stat(pid)} {cmdline}")
    return "\n".join(lines)


def wait_gone(find: Callable[[], set[int]], timeout_s: float, what: str) -> None:
    """Wait until `find()` finds no process; fail listing what is left."""
    deadline = time.monotonic() + timeout_s
    while left := find():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} still running after {timeout_s:g} s:\n{_describe(left)}")
        time.sleep(0.5)


def processes_with_arg(text: str) -> set[int]:
    found = set()
    for pid in _all_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and _alive(pid):
            found.add(pid)
    return found


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 1.0) -> Any:
    """Call `check` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


def serve_env(tmp_path: Path, api_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        **TELEMETRY_OFF,
        "PREFECT_HOME": str(tmp_path / "serve-prefect-home"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("PREFECT_API_URL", "BULLETINS_INBOX", "BULLETINS_WAREHOUSE"):
        env.pop(name, None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@contextmanager
def serving(tmp_path: Path, api_url: str | None, **kwargs: Any) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`flows.orchestration.serve.serve(**kwargs)` in its own session; SIGTERM it on exit and check it is all gone."""
    log_path = tmp_path / "serve.log"
    code = f"from flows.orchestration.serve import serve\nserve(**{kwargs!r})\n"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            env=serve_env(tmp_path, api_url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started: set[int] = set()
    try:
        yield process, log_path
    finally:
        started = descendants(process.pid)
        process.send_signal(signal.SIGTERM)  # what `kill` of `bulletins serve` does
        try:
            returncode = process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"serve did not stop within 45 s of SIGTERM; log:\n{log_path.read_text()}")
    assert returncode == 0, log_path.read_text()
    wait_gone(lambda: {p for p in started if _alive(p)}, 20, "processes serve started")
    wait_gone(lambda: group_members(process.pid), 20, "processes in serve's process group")


# --- Prefect API ------------------------------------------------------------------


@contextmanager
def api_client(api_url: str):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


def read_deployment(api_url: str):
    """The served deployment, or None while it does not exist yet."""
    from prefect.exceptions import ObjectNotFound

    with api_client(api_url) as client:
        try:
            return client.read_deployment_by_name(FULL_NAME)
        except ObjectNotFound:
            return None


def latest_artifact_data(api_url: str, key: str) -> Any:
    """The data of the newest artifact with this key, or None."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with api_client(api_url) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    return artifacts[0].data if artifacts else None


def http_get(url: str) -> tuple[int, bytes]:
    """GET with the path sent as written (`..` included), no proxy: the status and the body."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def latest_table_artifact(api_url: str) -> list[dict[str, Any]] | None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with api_client(api_url) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[UNIT_TABLE_KEY])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    if not artifacts:
        return None
    data = artifacts[0].data
    return json.loads(data) if isinstance(data, str) else data


# --- warehouse --------------------------------------------------------------------


def read_only(db_path: Path, read: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    """`read(con)` on a brief read-only connection; None while a run holds the file."""
    if not db_path.exists():
        return None
    try:
        with connection(db_path, read_only=True) as con:
            return read(con)
    except duckdb.Error as exc:
        if is_lock_conflict(exc) or isinstance(exc, duckdb.CatalogException):
            return None  # a run is writing, or the marts are not built yet
        raise


def sample_week_loaded(db_path: Path) -> bool:
    rows = read_only(
        db_path,
        lambda con: con.execute(
            "select count(*) from marts.unit_week_performance where week_start = ?", [SAMPLE_WEEK]
        ).fetchall(),
    )
    return bool(rows and rows[0][0] > 0)


# --- tests ------------------------------------------------------------------------


def test_deployment_definition(tmp_path: Path) -> None:
    from flows.orchestration.flow import bulletin_etl
    from flows.orchestration.serve import build_deployment, ui_url
    from flows.settings import Settings

    settings = Settings.resolve(tmp_path / "inbox", tmp_path / "wh")
    deployment = build_deployment(bulletin_etl, settings, cron="0 7 * * *", timezone="Asia/Shanghai")
    assert deployment.name == DEPLOYMENT_NAME
    assert deployment.entrypoint == "flows.orchestration.flow.bulletin_etl"
    assert deployment.parameters == {"inbox": str(tmp_path / "inbox"), "warehouse": str(tmp_path / "wh")}
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * *", "Asia/Shanghai")

    every = build_deployment(bulletin_etl, settings, interval_s=5)
    assert every.schedules[0].schedule.interval == timedelta(seconds=5)
    assert ui_url("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200"


def test_runs_of_the_shell_on_a_server_that_outlives_them_send_no_heartbeats_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from flows.orchestration.prefect_local import HEARTBEAT_VARIABLES, without_heartbeats

    for name in HEARTBEAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # Heartbeats on, as Prefect has them by default (the tests' own session turns them off).
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        with without_heartbeats(unless_configured=True):
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == 180
        monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")  # the user's choice wins
        with without_heartbeats(unless_configured=True):
            assert get_current_settings().flows.heartbeat_frequency == 180
        with without_heartbeats():  # the temporary server's runs: never
            assert get_current_settings().flows.heartbeat_frequency is None


@pytest.mark.slow
def test_scheduled_run_loads_a_new_page(tmp_path: Path) -> None:
    """Serve every 5 s on a server we started; a page dropped in the inbox reaches the marts, its report a link served over HTTP."""
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    inbox.mkdir()
    with managed_server(tmp_path / "server-home") as api_url:
        port = api_url.rsplit(":", 1)[1].split("/")[0]
        server_pids = processes_with_arg(f"--port {port}")
        assert server_pids, "the server process should be visible"

        with serving(tmp_path, api_url, interval_s=5, inbox=str(inbox), warehouse=str(warehouse)) as (
            process,
            log_path,
        ):
            deployment = wait_for(lambda: read_deployment(api_url), 60, "the deployment")
            (schedule,) = deployment.schedules
            assert schedule.schedule.interval == timedelta(seconds=5)
            assert schedule.active
            assert deployment.parameters == {"inbox": str(inbox), "warehouse": str(warehouse)}
            assert deployment.entrypoint == "flows.orchestration.flow.bulletin_etl"

            shutil.copyfile(SAMPLE_PAGE, inbox / SAMPLE_PAGE.name)
            db_path = warehouse / "bulletins.duckdb"
            wait_for(
                lambda: sample_week_loaded(db_path) or process.poll() is not None,
                75,
                f"week {SAMPLE_WEEK} in marts.unit_week_performance",
            )
            assert process.poll() is None, log_path.read_text()

            # The run that loaded it published the latest week's table, with the marts' figures.
            expected = wait_for(lambda: read_only(db_path, read_unit_table), 20, "the unit table")
            assert expected[0]["周起始日"] == SAMPLE_WEEK
            wait_for(lambda: latest_table_artifact(api_url) == expected, 30, "the table artifact")

            # The report's link artifact is an http:// address serve answers (not a file:// one
            # a browser refuses from the UI's page), and nothing beside the reports is served.
            link_markdown = wait_for(
                lambda: latest_artifact_data(api_url, WEEKLY_REPORT_LINK_KEY), 30, "the report's link artifact"
            )
            link = re.fullmatch(r"\[.*\]\((.*)\)", link_markdown)[1]
            assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/reports/report-{SAMPLE_WEEK}\.html", link), link
            status, body = http_get(link)
            assert status == 200 and body == (warehouse / "reports" / f"report-{SAMPLE_WEEK}.html").read_bytes()
            base = link.rsplit("/", 1)[0]
            assert f"周报 (weekly reports): {base}/" in log_path.read_text()
            for outside in ("/../bulletins.duckdb", "/../prefect/prefect.db", "/%2e%2e/bulletins.duckdb"):
                assert http_get(base + outside)[0] == 404
        assert "Prefect UI: " + api_url.removesuffix("/api") in log_path.read_text()
        # Issue 19: the scheduled runs parsed on serve's warm local Dask cluster.
        assert re.search(r"解析进程：\d+ 个，常驻预热（本机 Dask 集群 tcp://127\.0\.0\.1:\d+）", log_path.read_text())
    wait_gone(lambda: {p for p in server_pids if _alive(p)}, 20, "the Prefect server")


@pytest.mark.slow
def test_serve_starts_its_own_server_with_the_cron_schedule(tmp_path: Path) -> None:
    """Without PREFECT_API_URL, serve starts a server under the warehouse; cron and timezone read back."""
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    inbox.mkdir()
    with serving(
        tmp_path, None, cron="0 7 * * *", timezone="Asia/Shanghai", inbox=str(inbox), warehouse=str(warehouse)
    ) as (process, log_path):

        def ui_line() -> str | None:
            match = re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", log_path.read_text())
            if process.poll() is not None:
                pytest.fail(f"serve exited early:\n{log_path.read_text()}")
            return match and match[1]

        api_url = wait_for(ui_line, 75, "serve to print the UI address") + "/api"
        assert (warehouse / "prefect" / "prefect.db").exists()  # the server's database

        deployment = wait_for(lambda: read_deployment(api_url), 45, "the deployment")
        (schedule,) = deployment.schedules
        assert schedule.schedule.cron == "0 7 * * *"
        assert schedule.schedule.timezone == "Asia/Shanghai"
        assert deployment.parameters == {"inbox": str(inbox), "warehouse": str(warehouse)}

        # The server schedules the next runs at 07:00 in Shanghai (23:00 UTC).
        def scheduled_runs():
            from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

            with api_client(api_url) as client:
                return client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])), limit=3
                )

        runs = wait_for(scheduled_runs, 30, "scheduled runs")
        for run in runs:
            local = run.expected_start_time.astimezone(ZoneInfo("Asia/Shanghai"))
            assert (local.hour, local.minute) == (7, 0)

        # A run from the shell meanwhile uses serve's server: no temporary server of its
        # own, and the run is in serve's API (so in its UI) next to the scheduled ones.
        shutil.copyfile(SAMPLE_PAGE, inbox / SAMPLE_PAGE.name)
        bulletins = Path(sys.executable).with_name("bulletins")
        result = subprocess.run(
            [str(bulletins), "run", "--inbox", str(inbox), "--warehouse", str(warehouse), "--timings"],
            env=serve_env(tmp_path, None),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "新文件 1 个（已入库 1" in result.stdout
        assert float(re.search(r"prefect_stop=([\d.]+)s", result.stdout)[1]) < 0.1  # nothing of its own to stop

        def shell_runs():
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

            with api_client(api_url) as client:
                return client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(is_null_=True))
                )

        (shell_run,) = shell_runs()
        # The lake it used too (BULLETINS_LAKE, or the warehouse's): the run's page says where it read and wrote.
        lake = str(warehouse / "lake")
        assert shell_run.parameters == {"inbox": str(inbox), "warehouse": str(warehouse), "lake": lake}
        assert shell_run.state is not None and shell_run.state.is_completed()
