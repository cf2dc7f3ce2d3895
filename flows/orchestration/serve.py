"""Scheduled runs: serve `bulletin-etl` as a deployment on a real Prefect server.

Prefect creates scheduled runs only on a real server (not on its temporary local
API), so `serve()` starts one when `PREFECT_API_URL` is not set: `prefect server
start` on 127.0.0.1 and a free port, its database under `<warehouse>/prefect`, and
stops it on exit (normal, error, Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow
from prefect.schedules import Cron, Interval
from prefect.types.entrypoint import EntrypointType

from flows.orchestration.prefect_local import configured_api_url, pointing_at
from flows.settings import Settings

DEPLOYMENT_NAME = "bulletin-etl-scheduled"
DEFAULT_CRON = "0 7 * * *"
DEFAULT_TIMEZONE = "Asia/Shanghai"

# Environment every Prefect process we start gets: no calls beyond loopback.
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

SERVER_LOG_NAME = "server.log"


class ServerStartError(RuntimeError):
    """The Prefect server did not become healthy."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """Whether `<api_url>/health` answers 200 (proxies bypassed: loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url}/health", timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process_group(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM the process's group, wait `grace_s`, then SIGKILL what is left."""
    pgid = process.pid  # started with start_new_session: its pid is the group id
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    # Also whatever the leader left behind in its group.
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()


@contextmanager
def managed_server(
    home: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    startup_timeout_s: float = 60,
) -> Iterator[str]:
    """Run `prefect server start` with PREFECT_HOME=`home`; yield its API URL.

    The server runs in its own process group, which is terminated on exit:

    >>> with managed_server(Path("warehouse/prefect")) as api_url:  # doctest: +SKIP
    ...     api_url
    'http://127.0.0.1:43121/api'
    """
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    api_url = f"http://{host}:{port}/api"
    env = {**os.environ, **QUIET_ENV, "PREFECT_HOME": str(home)}
    # The server must not talk to another server, nor take settings meant for clients.
    env.pop("PREFECT_API_URL", None)
    log_path = home / SERVER_LOG_NAME
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not is_healthy(api_url):
            if process.poll() is not None:
                raise ServerStartError(
                    f"prefect server exited with code {process.returncode} before it was healthy "
                    f"(log {log_path}):\n{_log_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"prefect server at {api_url} not healthy after {startup_timeout_s:g} s "
                    f"(log {log_path}):\n{_log_tail(log_path)}"
                )
            time.sleep(0.5)
        yield api_url
    finally:
        stop_process_group(process)


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so `kill` unwinds context managers (main thread only)."""
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def prefect_api(server_home: Path) -> Iterator[str]:
    """Yield the API URL to use: the configured one, or a managed server's.

    With a managed server, PREFECT_API_URL points this process (and the flow-run
    processes it starts) at it until the block ends.
    """
    configured = configured_api_url()
    if configured:
        yield configured
        return
    with managed_server(server_home) as api_url, pointing_at(api_url):
        yield api_url


def ui_url(api_url: str) -> str:
    """The Prefect UI's address for an API URL (`http://127.0.0.1:4200/api` -> without /api)."""
    return api_url[: -len("/api")] if api_url.endswith("/api") else api_url


def build_deployment(
    flow: Flow,
    settings: Settings,
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    interval_s: float | None = None,
    name: str = DEPLOYMENT_NAME,
) -> RunnerDeployment:
    """The runner deployment of `flow`: Cron in `timezone`, or every `interval_s` seconds."""
    schedule = Interval(interval_s) if interval_s is not None else Cron(cron, timezone=timezone)
    deployment = flow.to_deployment(
        name=name,
        schedule=schedule,
        parameters={"inbox": str(settings.inbox), "warehouse": str(settings.warehouse)},
        description=f"{flow.name} on a schedule: inbox {settings.inbox} into warehouse {settings.warehouse}",
        # Module path: flow runs import `flows.orchestration.flow`, whatever the working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    # Called outside an event loop, `to_deployment` returns the deployment itself.
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def serve_flow(
    flow: Flow,
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    inbox: str | Path | None = None,
    warehouse: str | Path | None = None,
    interval_s: float | None = None,
) -> None:
    """Serve `flow` on a schedule until Ctrl-C or SIGTERM (see `serve`)."""
    import prefect

    settings = Settings.resolve(inbox, warehouse)
    deployment = build_deployment(flow, settings, cron=cron, timezone=timezone, interval_s=interval_s)
    when = f"every {interval_s:g} s" if interval_s is not None else f"cron {cron!r} ({timezone})"
    with sigterm_exits(), prefect_api(settings.warehouse / "prefect") as api_url:
        print(f"Prefect UI: {ui_url(api_url)}", flush=True)
        print(
            f"Serving {flow.name}/{DEPLOYMENT_NAME} {when}: inbox {settings.inbox}, "
            f"warehouse {settings.warehouse}. Ctrl-C stops.",
            flush=True,
        )
        # limit=1: this runner starts one run at a time; the run lock covers other processes.
        prefect.serve(deployment, limit=1)


def serve(
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    inbox: str | Path | None = None,
    warehouse: str | Path | None = None,
    interval_s: float | None = None,
) -> None:
    """Serve `bulletin-etl` as deployment `bulletin-etl/bulletin-etl-scheduled` until stopped.

    Without PREFECT_API_URL, start a Prefect server on loopback (database under
    `<warehouse>/prefect`) for as long as this runs.
    """
    from flows.orchestration.flow import bulletin_etl

    serve_flow(bulletin_etl, cron=cron, timezone=timezone, inbox=inbox, warehouse=warehouse, interval_s=interval_s)
