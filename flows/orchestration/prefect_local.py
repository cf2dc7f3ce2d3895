"""Prefect's local settings and servers, defined once.

- `configure_prefect()`: the environment every Prefect process of ours gets (telemetry
  off, the console's log format, the temporary server's start-up timeout); call it
  before Prefect is imported.
- `running_server(home)`: the API of the server `bulletins serve` keeps on `home`, if up.
- `prefect_api(server_home=None)`: the API a process talks to. PREFECT_API_URL when one
  is configured; else a server started for the block and stopped after it: Prefect's
  temporary server for a run, or, given `server_home`, a real `prefect server start`
  with its database there (`bulletins serve`: only a real server schedules runs).
- `run_flow(settings)`: one run of `bulletin-etl` in this process (`bulletins run`), on the
  API above or on a running `serve`'s, and how it ended: the one entry point the CLI calls.

Prefect is imported inside the functions that need it: importing this module costs
nothing, so the CLI (and the tests' conftest) can set the environment first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# The servers themselves (prefect_servers); the CLI, serve and the tests reach them through this door.
from flows.orchestration.prefect_servers import (
    TELEMETRY_OFF,
    TemporaryServer,
    managed_server,
    running_server,
    startup_timeout_s,
)

if TYPE_CHECKING:  # types only: importing this module stays free of Prefect and DuckDB
    from flows.orchestration.progress import ProgressListener
    from flows.settings import Settings
    from flows.warehouse.summary import RunSummary

__all__ = [
    "CONSOLE_LOGGING",
    "HEARTBEAT_VARIABLES",
    "RESULTS_NOT_PERSISTED",
    "STARTUP_TIMEOUT",
    "TELEMETRY_OFF",
    "FlowRunResult",
    "TemporaryServer",
    "configure_prefect",
    "configured_api_url",
    "drain_workers",
    "flow_run_url",
    "managed_server",
    "pointing_at",
    "prefect_api",
    "run_flow",
    "running_server",
    "without_heartbeats",
]

# Prefect's console shows log lines without their tracebacks (the run's logs in the
# Prefect API keep them); read when Prefect is first imported, also by worker processes.
CONSOLE_LOGGING = {
    "PREFECT_LOGGING_FORMATTERS_STANDARD_": "flows.orchestration.console_logging.TracebackFreeFormatter",
}
# Prefect gives its temporary server 20 s to start; a first run migrates a new database
# and imports the server on a machine that may be busy: that can take longer (seen in CI).
STARTUP_TIMEOUT = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
# A run's result is its summary, returned in process: nothing to persist. Prefect would
# pickle a failed run's result (the exception) into its storage folder all the same.
RESULTS_NOT_PERSISTED = {"PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false"}
# Prefect's home of the commands that start no server of their own (`run`, and serve's
# flow runs): its temporary server's database, memo file and any storage live under the
# warehouse, not in ~/.prefect (README, "Where the data lives").
RUN_HOME = Path("prefect") / "runs"


def configure_prefect(warehouse: Path | None = None) -> None:
    """Set Prefect's local settings in this process's environment, inherited by what it starts.

    Telemetry is always off; the console's log format, the temporary server's start-up
    timeout, results not persisted and, given the warehouse, Prefect's home and storage
    under it (`<warehouse>/prefect/runs`) are defaults a user may override in the
    environment. Call before Prefect is imported: it reads them at import.
    """
    os.environ.update(TELEMETRY_OFF)
    defaults = {**CONSOLE_LOGGING, **STARTUP_TIMEOUT, **RESULTS_NOT_PERSISTED}
    if warehouse is not None:
        home = Path(warehouse).resolve() / RUN_HOME
        home_set = os.environ.get("PREFECT_HOME", "").strip()
        defaults["PREFECT_HOME"] = str(home)
        # Results Prefect persists all the same (a task that asks) stay under the warehouse too.
        defaults["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(home_set) / "storage" if home_set else home / "storage")
        # A profile the user made (`prefect config set ...`) is still read, from where it is.
        profiles = Path("~/.prefect/profiles.toml").expanduser()
        if not home_set and profiles.is_file():
            defaults["PREFECT_PROFILES_PATH"] = str(profiles)
    for name, value in defaults.items():
        if not os.environ.get(name, "").strip():
            os.environ[name] = value
            if name == "PREFECT_HOME":  # Prefect makes it without its parents (a new warehouse)
                Path(value).mkdir(parents=True, exist_ok=True)


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active profile, if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


# Prefect's flow-run heartbeat frequency, by its name and its older one.
HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextmanager
def without_heartbeats(unless_configured: bool = False) -> Iterator[None]:
    """Flow runs in this process send no heartbeats during the block.

    Heartbeats tell a long-lived server that a run is alive (for an automation that marks
    silent runs crashed); Prefect also joins the heartbeat thread at the end of every flow
    run, in 1-s sleeps: half a second a run on average, up to a second (measured).
    `unless_configured`: keep them when the environment sets their frequency.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if unless_configured and any(os.environ.get(name) for name in HEARTBEAT_VARIABLES):
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def pointing_at(api_url: str, heartbeats: bool = True) -> Iterator[str]:
    """Point this process, and the processes it starts, at `api_url` until the block ends.

    `heartbeats=False`: flow runs here send none (`without_heartbeats`), for a server
    that ends with the run.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # inherited by flow-run and worker processes
    # Threads read the process-global settings, made when Prefect was imported: the
    # process pool's message forwarder would otherwise find no API and start a second
    # temporary server of its own at the end of every pooled run (seconds, measured).
    refresh_global_settings_context()
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}), contextlib.ExitStack() as stack:
            if not heartbeats:
                stack.enter_context(without_heartbeats())
            yield api_url
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved
        refresh_global_settings_context()


@contextmanager
def prefect_api(
    server_home: Path | None = None, preload: Sequence[str] = (), host: str = "127.0.0.1", port: int | None = None
) -> Iterator[str]:
    """Yield the API URL this process (and those it starts) should use, for the block.

    PREFECT_API_URL when set (in the environment or the active profile). Else a server
    of our own, pointed at until the block ends, then stopped:

    - `server_home` None: Prefect's temporary server, for one run. Prefect would start
      one by itself, but then each process-pool worker starts another: starting it here
      lets the workers report to the same API, and saves seconds per worker. It starts
      before this process imports Prefect (and the `preload` modules), so that its
      start-up, seconds of imports in its own process, overlaps ours (`TemporaryServer`).
    - `server_home` a folder: `prefect server start` with its database there, in its own
      process group (`managed_server`), on `host` and `port` (None: a free one): schedules
      and run history outlive the block.
    """
    global _private_api_url  # set while the temporary server below runs
    # Prefect already imported (tests, `serve`): its settings say at no cost whether an
    # API is configured; else the environment says it before anything is imported.
    configured = os.environ.get("PREFECT_API_URL") or ("prefect" in sys.modules and configured_api_url())
    if configured:
        _import(preload)
        yield configured
        return
    if server_home is not None:
        with managed_server(server_home, host=host, port=port) as api_url:
            _import(preload)
            with pointing_at(api_url):
                try:
                    yield api_url
                finally:
                    drain_workers()
        return
    server = TemporaryServer()
    server.start()  # in case the active profile names no API: it usually does not
    try:
        configured = configured_api_url()  # imports Prefect meanwhile
        _import(preload)
        if configured:
            server.stop()
            yield configured
            return
        server.wait_until_healthy(startup_timeout_s())
        _private_api_url = server.api_url
        with pointing_at(server.api_url, heartbeats=False):
            try:
                yield server.api_url
            finally:
                drain_workers()  # send buffered logs and events before the API goes away
    finally:
        _private_api_url = None
        server.stop()


# The temporary server `prefect_api` started in this process, while it runs: no other
# process talks to it (publishing.publish_slot has no other publisher to ask it about).
_private_api_url: str | None = None


def on_private_server() -> bool:
    """Whether this process talks to the temporary server it started itself (`bulletins run`)."""
    return _private_api_url is not None and configured_api_url() == _private_api_url


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def drain_workers() -> None:
    """Send this process's buffered logs and events to the API before it goes away (or is left)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()


def flow_run_url(flow_run_id: object) -> str | None:
    """The flow run's page in the Prefect UI of the API in use (None when there is no UI to point at)."""
    from prefect.utilities.urls import url_for

    try:
        return url_for("flow-run", obj_id=str(flow_run_id))
    except Exception:  # no UI configured
        return None


@dataclass(frozen=True)
class FlowRunResult:
    """How one run of `bulletin-etl` that `run_flow` started ended: a summary, not run (Prefect's Skipped state), or failed."""

    summary: RunSummary | None  # None: the run did not run, or failed
    not_run: str | None = None  # the Skipped state's message: another run held the run lock
    error: Exception | None = None  # why the run failed (stopping.LockHolderStuck: skipped behind a stuck run)
    logs_url: str | None = None  # the run's page in the Prefect UI, only on an API that outlives the run
    seconds: dict[str, float] = field(default_factory=dict)  # prefect_start_and_import, flow, prefect_stop


def run_flow(
    settings: Settings,
    *,
    verbose: bool = False,
    progress: Callable[[], AbstractContextManager[ProgressListener]] | None = None,
    started: float | None = None,
) -> FlowRunResult:
    """Run `bulletin-etl` once in this process on `settings`' inbox and warehouse; how it ended.

    The API: PREFECT_API_URL when set; else the server of a `bulletins serve` running on
    this warehouse (the run shows in serve's UI); else Prefect's temporary server, started
    for the run and stopped after it (`prefect_api`). SIGINT, SIGTERM and the run's
    deadline end it with one line (`stopping.Stopper`), even on a stalled API.
    `verbose`: Prefect's console log lines too. `progress`: makes the listener the run
    reports its stages to (`flows.orchestration.progress`). `started`: the
    `time.perf_counter()` the caller's command began at (the timings count from it).
    """
    started = time.perf_counter() if started is None else started
    configure_prefect(settings.warehouse)  # before Prefect is imported
    from flows.orchestration import progress as run_progress
    from flows.orchestration.stopping import Stopper

    with contextlib.ExitStack() as stack:
        # First in, last out: the signals and the deadline cover the server's start and stop too.
        stack.enter_context(Stopper(settings.run_timeout_s))
        # While `bulletins serve` runs on this warehouse, its server takes the run (no
        # temporary server to start; the run shows in serve's UI). PREFECT_API_URL wins.
        serve_api = None if os.environ.get("PREFECT_API_URL") else running_server(settings.serve_prefect_home)
        if serve_api:
            stack.enter_context(_environment_default("PREFECT_API_URL", serve_api))
        # A run's page outlives the run only on a server that outlives it.
        lasting_api = bool(os.environ.get("PREFECT_API_URL"))
        if not verbose:
            # Prefect's console stays silent: a failure is the caller's one `error:` line (its
            # ERROR log lines would only repeat it); the run's logs still reach its API in
            # full. Read when Prefect sets up logging (on import, and in worker processes).
            stack.enter_context(_environment_default("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"))
        # Prefect's temporary server starts first, in its own process, while this one
        # imports Prefect and the flow: one stage, both overlapped.
        with prefect_api(preload=["flows.orchestration.flow"]):
            from flows.orchestration.flow import bulletin_etl

            if progress is not None:
                stack.enter_context(run_progress.listening(stack.enter_context(progress())))
            if serve_api:  # no automation of ours watches heartbeats there; Prefect's setting, if set, wins
                stack.enter_context(without_heartbeats(unless_configured=True))
            seconds = {"prefect_start_and_import": time.perf_counter() - started}
            state = bulletin_etl(
                inbox=str(settings.inbox),
                warehouse=str(settings.warehouse),
                lake=str(settings.lake_dir),
                return_state=True,
            )
            seconds["flow"] = time.perf_counter() - started - sum(seconds.values())
            run_url = flow_run_url(state.state_details.flow_run_id)
        seconds["prefect_stop"] = time.perf_counter() - started - sum(seconds.values())
    logs_url = run_url if run_url and lasting_api else None
    if state.name == "Skipped":
        return FlowRunResult(None, not_run=state.message or "run skipped", logs_url=logs_url, seconds=seconds)
    try:
        summary = state.result()
    except Exception as exc:  # the run itself failed
        return FlowRunResult(None, error=exc, logs_url=logs_url, seconds=seconds)
    return FlowRunResult(summary, logs_url=logs_url, seconds=seconds)


@contextmanager
def _environment_default(name: str, value: str) -> Iterator[None]:
    """Set an environment variable (unless the user set it) for the block only."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
