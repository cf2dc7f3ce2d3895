"""Which Prefect API a process talks to: the configured one, or one started for it."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active profile, if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@contextmanager
def pointing_at(api_url: str) -> Iterator[str]:
    """Point this process, and the processes it starts, at `api_url` until the block ends."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # inherited by flow-run and worker processes
    # Threads read the process-global settings, made when Prefect was imported: the
    # process pool's message forwarder would otherwise find no API and start a second
    # temporary server of its own at the end of every pooled run (seconds, measured).
    refresh_global_settings_context()
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved
        refresh_global_settings_context()


@contextmanager
def local_api(preload: Sequence[str] = ()) -> Iterator[str]:
    """Use PREFECT_API_URL when set; else start Prefect's temporary server for this run.

    Prefect would start a temporary server on its own, but then each process-pool
    worker starts another one: starting it here and setting the URL lets the workers
    report to the same API, and saves seconds per worker.

    The server is started before this process imports Prefect (and the `preload`
    modules), so that its start-up, seconds of imports in its own process, overlaps
    ours; see `TemporaryServer`.
    """
    # Prefect already imported (tests, `serve`): its settings say at no cost whether an
    # API is configured; else the environment says it before anything is imported.
    configured = os.environ.get("PREFECT_API_URL") or ("prefect" in sys.modules and configured_api_url())
    if configured:
        _import(preload)
        yield configured
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
        server.wait_until_healthy(_startup_timeout_s())
        with pointing_at(server.api_url):
            try:
                yield server.api_url
            finally:
                _drain_workers()  # send buffered logs and events before the API goes away
    finally:
        server.stop()


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def _startup_timeout_s() -> float:
    from prefect.settings import get_current_settings

    return float(get_current_settings().server.ephemeral.startup_timeout_seconds)


class ServerDidNotStart(RuntimeError):
    """Prefect's temporary server did not answer its health check in time."""


class TemporaryServer:
    """Prefect's temporary API server (what `SubprocessASGIServer` runs), started cheaply.

    The same command and environment as Prefect's own, but this process does not
    import `prefect.server` to start it (seconds of CPU that SubprocessASGIServer
    spends in the caller) and does not wait for it until it needs the API.
    """

    PORTS = range(8000, 9000)
    PORT_IN_USE = 3  # uvicorn's exit code when the port was taken meanwhile

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Start the server process; return at once."""
        self.port = _free_port(self.PORTS)
        spec = importlib.util.find_spec("prefect")  # finds the package without importing it
        assert spec is not None and spec.submodule_search_locations, "prefect is not installed"
        app_dir = str(Path(next(iter(spec.submodule_search_locations))).parent)
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        app = ["--app-dir", app_dir, "--factory", "prefect.server.api.server:create_app"]
        serve = ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen([sys.executable, "-m", "uvicorn", *app, *serve], env=env)

    def wait_until_healthy(self, timeout_s: float) -> None:
        """Wait for the health check to answer; restart on another port if this one was taken."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code == self.PORT_IN_USE:
                self.start()
            elif code is not None:
                raise ServerDidNotStart(f"Prefect's temporary server exited with code {code}")
            elif _healthy(f"{self.api_url}/health"):
                return
            time.sleep(0.05)
        raise ServerDidNotStart(f"Prefect's temporary server did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the server (it shuts down cleanly on SIGTERM) and reap it."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _free_port(ports: range) -> int:
    """A port in the range nobody listens on now (the server may still lose a race for it)."""
    for port in random.sample(ports, 20):
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}..{ports.stop - 1}")


# Loopback only: no proxy, whatever the environment says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _drain_workers() -> None:
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
