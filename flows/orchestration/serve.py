"""Scheduled runs: serve `bulletin-etl` as a deployment on a real Prefect server.

Prefect creates scheduled runs only on a real server (not on its temporary local
API), so `serve()` starts one when `PREFECT_API_URL` is not set: `prefect server
start` on `host` (127.0.0.1) and `port` (`bulletins serve`: 4200, the same address at
every restart), its database under `<warehouse>/prefect`, and stops it on exit (normal,
error, Ctrl-C or SIGTERM); see `flows.orchestration.prefect_local.prefect_api`. The
same process serves the weekly reports over HTTP on `reports_port` (4201), read-only
(`flows.orchestration.report_server`), so the run's artifact links to them.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow
from prefect.schedules import Cron, Interval
from prefect.types.entrypoint import EntrypointType

from flows.orchestration.dask_cluster import serve_parse_workers
from flows.orchestration.prefect_local import prefect_api
from flows.orchestration.report_server import WILDCARD_HOSTS, advertised_host, serving_reports
from flows.settings import SCHEDULE_CRON, SCHEDULE_TIMEZONE, Settings

DEPLOYMENT_NAME = "bulletin-etl-scheduled"
# `bulletins serve`'s addresses: loopback only unless asked (0.0.0.0 exposes both to the
# network, without a password); the Prefect UI on Prefect's own default port, the reports next to it.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
DEFAULT_REPORTS_PORT = 4201


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


# An interval above a week is a mistake: use a cron schedule.
MAX_INTERVAL_S = 7 * 86400.0


class ScheduleError(ValueError):
    """A schedule option Prefect would refuse: which option, and what it takes."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option, self.reason = option, reason


def check_schedule(cron: str, timezone: str, interval: float | None) -> None:
    """Check `serve`'s schedule options as Prefect will read them, before anything starts."""
    import math

    import pydantic
    from prefect.client.schemas.schedules import CronSchedule

    if interval is not None:
        if not (math.isfinite(interval) and 0 < interval <= MAX_INTERVAL_S):
            raise ScheduleError("--interval", f"must be a number of seconds above 0, at most {MAX_INTERVAL_S:g}")
        return
    try:
        CronSchedule(cron=SCHEDULE_CRON, timezone=timezone)
    except pydantic.ValidationError:
        raise ScheduleError(
            "--timezone", f"{timezone!r} is not a time zone: give an IANA name like Asia/Shanghai or Europe/Berlin"
        ) from None
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except pydantic.ValidationError:
        raise ScheduleError(
            "--cron",
            f"{cron!r} is not a cron schedule: five fields, minute hour day month weekday, like {SCHEDULE_CRON!r}",
        ) from None


def ui_url(api_url: str) -> str:
    """The Prefect UI's address for an API URL (`http://127.0.0.1:4200/api` -> without /api)."""
    return api_url[: -len("/api")] if api_url.endswith("/api") else api_url


def build_deployment(
    flow: Flow,
    settings: Settings,
    *,
    cron: str = SCHEDULE_CRON,
    timezone: str = SCHEDULE_TIMEZONE,
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
    cron: str = SCHEDULE_CRON,
    timezone: str = SCHEDULE_TIMEZONE,
    inbox: str | Path | None = None,
    warehouse: str | Path | None = None,
    interval_s: float | None = None,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    reports_port: int | None = None,
) -> None:
    """Serve `flow` on a schedule until Ctrl-C or SIGTERM (see `serve`)."""
    import prefect

    settings = Settings.resolve(inbox, warehouse)
    deployment = build_deployment(flow, settings, cron=cron, timezone=timezone, interval_s=interval_s)
    when = f"every {interval_s:g} s" if interval_s is not None else f"cron {cron!r} ({timezone})"
    # The Prefect server first: a second `serve` on the warehouse is told that one already
    # runs (its lock), not that the reports' port is taken.
    with (
        sigterm_exits(),
        prefect_api(settings.serve_prefect_home, host=host, port=port) as api_url,
        serving_reports(settings.reports_dir, host, reports_port or 0) as reports_url,
        # Warm parse workers for serve's life: no scheduled run waits for workers to start.
        serve_parse_workers(settings) as parse_workers,
    ):
        ui = ui_url(api_url)
        if host in WILDCARD_HOSTS:  # the address another machine opens
            ui = ui.replace("//127.0.0.1:", f"//{advertised_host(host)}:", 1)
        print(f"Prefect UI: {ui}", flush=True)
        print(f"周报 (weekly reports): {reports_url}/", flush=True)
        print(parse_workers, flush=True)
        print(
            f"Serving {flow.name}/{DEPLOYMENT_NAME} {when}: inbox {settings.inbox}, "
            f"warehouse {settings.warehouse}. Ctrl-C stops.",
            flush=True,
        )
        # limit=1: this runner starts one run at a time; the run lock covers other processes.
        prefect.serve(deployment, limit=1)


def serve(
    cron: str = SCHEDULE_CRON,
    timezone: str = SCHEDULE_TIMEZONE,
    inbox: str | Path | None = None,
    warehouse: str | Path | None = None,
    interval_s: float | None = None,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    reports_port: int | None = None,
) -> None:
    """Serve `bulletin-etl` as deployment `bulletin-etl/bulletin-etl-scheduled` until stopped.

    Without PREFECT_API_URL, start a Prefect server on `host:port` (None: a free port;
    database under `<warehouse>/prefect`) for as long as this runs; the reports folder
    is served on `host:reports_port` (None: a free port) meanwhile.
    """
    from flows.orchestration.flow import bulletin_etl

    serve_flow(
        bulletin_etl,
        cron=cron,
        timezone=timezone,
        inbox=inbox,
        warehouse=warehouse,
        interval_s=interval_s,
        host=host,
        port=port,
        reports_port=reports_port,
    )
