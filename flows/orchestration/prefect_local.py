"""Which Prefect API a process talks to: the configured one, or one started for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active profile, if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@contextmanager
def pointing_at(api_url: str) -> Iterator[str]:
    """Point this process, and the processes it starts, at `api_url` until the block ends."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # inherited by flow-run and worker processes
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


@contextmanager
def local_api() -> Iterator[str]:
    """Use PREFECT_API_URL when set; else start Prefect's temporary server for this run.

    Prefect would start a temporary server on its own, but then each process-pool
    worker starts another one: starting it here and setting the URL lets the workers
    report to the same API, and saves seconds per worker.
    """
    configured = configured_api_url()
    if configured:
        yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    try:
        with pointing_at(server.api_url):
            try:
                yield server.api_url
            finally:
                _drain_workers()  # send buffered logs and events before the API goes away
    finally:
        server.stop()


def _drain_workers() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()
