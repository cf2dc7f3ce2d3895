"""Prefect's local settings and servers, defined once.

- `configure_prefect()`: the environment every Prefect process of ours gets (telemetry
  off, the console's log format, the temporary server's start-up timeout); call it
  before Prefect is imported.
- `running_server(home)`: the API of the server `bulletins serve` keeps on `home`, if up.
- `prefect_api(server_home=None)`: the API a process talks to. PREFECT_API_URL when one
  is configured; else a server started for the block and stopped after it: Prefect's
  temporary server for a run, or, given `server_home`, a real `prefect server start`
  with its database there (`bulletins serve`: only a real server schedules runs).

Prefect is imported inside the functions that need it: importing this module costs
nothing, so the CLI (and the tests' conftest) can set the environment first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from flows.orchestration.processes import dies_with_parent, single_instance

# Nothing leaves the machine: no analytics from the servers we start, no tracking by clients.
TELEMETRY_OFF = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
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

SERVER_LOG_NAME = "server.log"
SERVE_LOCK_NAME = "serve.lock"  # held by the one process running a server on a home
SERVER_PID_NAME = "server.pid"  # "<pid> <port>" of that server while it runs


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
        server.wait_until_healthy(_startup_timeout_s())
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


def _startup_timeout_s() -> float:
    from prefect.settings import get_current_settings

    return float(get_current_settings().server.ephemeral.startup_timeout_seconds)


class ServerDidNotStart(RuntimeError):
    """A Prefect server we started did not answer its health check in time (or exited)."""


class PrefectDatabaseDamaged(ServerDidNotStart):
    """Prefect's SQLite database is not one: its server cannot start on it."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"Prefect's database {path} is damaged ({detail}): move it away or delete it (it holds only "
            "Prefect's run history, not the warehouse's data) and run again"
        )


_SQLITE_MAGIC = b"SQLite format 3\x00"


def prefect_database() -> Path | None:
    """The SQLite file a Prefect server started now would use (None: another database).

    PREFECT_SERVER_DATABASE_CONNECTION_URL when it names SQLite, else `$PREFECT_HOME/prefect.db`
    (Prefect's defaults), read from the environment without importing Prefect.
    """
    url = os.environ.get("PREFECT_SERVER_DATABASE_CONNECTION_URL", "").strip()
    if url:
        prefix = next((p for p in ("sqlite+aiosqlite:///", "sqlite:///") if url.startswith(p)), None)
        return Path(url.removeprefix(prefix).split("?", 1)[0]).expanduser() if prefix else None
    home = os.environ.get("PREFECT_HOME", "").strip() or "~/.prefect"
    return Path(home).expanduser() / "prefect.db"


def check_prefect_database(path: Path | None) -> None:
    """Raise PrefectDatabaseDamaged when `path` exists but is no SQLite database.

    Its server would exit at start-up, again on every restart, until the start-up
    timeout blamed the time. An absent or empty file is fine: the server creates it.
    """
    if path is None:
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PrefectDatabaseDamaged(path, f"cannot be read: {exc.strerror or exc}") from exc
    if head and head != _SQLITE_MAGIC:
        raise PrefectDatabaseDamaged(path, "not an SQLite database")


class TemporaryServer:
    """Prefect's temporary API server (what `SubprocessASGIServer` runs), started cheaply.

    The same command and environment as Prefect's own, but this process does not
    import `prefect.server` to start it (seconds of CPU that SubprocessASGIServer
    spends in the caller) and does not wait for it until it needs the API.
    """

    PORTS = range(8000, 9000)
    PORT_IN_USE = 3  # uvicorn's exit code when the port was taken meanwhile

    def __init__(self, database: Path | None = None) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.database = database  # a SQLite file of its own; None: the Prefect home's

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    # Restarts on another port when the chosen one was taken meanwhile; more means the
    # server fails for another reason that exits with the same code.
    MAX_RESTARTS = 5

    def start(self) -> None:
        """Start the server process; return at once."""
        check_prefect_database(self.database if self.database is not None else prefect_database())
        self.port = free_port(self.PORTS)
        spec = importlib.util.find_spec("prefect")  # finds the package without importing it
        assert spec is not None and spec.submodule_search_locations, "prefect is not installed"
        app_dir = str(Path(next(iter(spec.submodule_search_locations))).parent)
        env = {
            **os.environ,
            **TELEMETRY_OFF,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        if self.database is not None:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{self.database}"
        app = ["--app-dir", app_dir, "--factory", "prefect.server.api.server:create_app"]
        serve = ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        # It ends with this process, kill -9 included (processes.dies_with_parent).
        self.process = subprocess.Popen(dies_with_parent([sys.executable, "-m", "uvicorn", *app, *serve]), env=env)

    def wait_until_healthy(self, timeout_s: float) -> None:
        """Wait for the health check to answer; restart on another port if this one was taken."""
        deadline = time.monotonic() + timeout_s
        restarts = 0
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code == self.PORT_IN_USE and restarts < self.MAX_RESTARTS:
                restarts += 1
                self.start()
            elif code is not None:
                database = self.database if self.database is not None else prefect_database()
                raise ServerDidNotStart(
                    f"Prefect's temporary server exited with code {code} (its database: {database}; "
                    "the lines above say why)"
                )
            elif is_healthy(self.api_url):
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


def free_port(ports: range | None = None, host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now: one of `ports`, or the system's choice.

    The server that is to listen on it may still lose a race for it (see TemporaryServer).
    """
    for port in random.sample(ports, min(20, len(ports))) if ports else [0]:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in {ports}")


# Loopback only: no proxy, whatever the environment says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_healthy(api_url: str, timeout_s: float = 1.0) -> bool:
    """Whether `<api_url>/health` answers 200."""
    try:
        with _DIRECT.open(f"{api_url}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except OSError:
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

    One server per home (its prefect.db): this process holds `home/serve.lock` while the
    server runs, and a second caller gets `AlreadyRunning`. The server runs in its own
    process group, terminated on exit, and ends with this process even on `kill -9`
    (`processes.dies_with_parent`); a server `home/server.pid` names that outlived the
    process that started it is stopped first. Its UI is told where its API is
    (PREFECT_UI_API_URL): else it calls 127.0.0.1:4200 and says "Unable to connect".

    >>> with managed_server(Path("warehouse/prefect")) as api_url:  # doctest: +SKIP
    ...     api_url
    'http://127.0.0.1:43121/api'
    """
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    check_prefect_database(home / "prefect.db")
    from flows.orchestration.report_server import WILDCARD_HOSTS, advertised_host, check_port_free

    with single_instance(home / SERVE_LOCK_NAME, f"a Prefect server on {home / 'prefect.db'}"):
        stop_orphaned_server(home)
        if port:  # asked for (`serve --port`): taken is one clear error, not a server that exits
            check_port_free(host, port, "--port", wait_s=5)
        port = port or free_port(host=host)
        # Clients here call it on loopback when it listens on every address; the UI, maybe in
        # a browser on another machine, at this machine's name.
        api_url = f"http://{'127.0.0.1' if host in WILDCARD_HOSTS else advertised_host(host)}:{port}/api"
        ui_api_url = f"http://{advertised_host(host)}:{port}/api"
        env = {**os.environ, **TELEMETRY_OFF, "PREFECT_HOME": str(home), "PREFECT_UI_API_URL": ui_api_url}
        # The server must not talk to another server, nor take settings meant for clients.
        env.pop("PREFECT_API_URL", None)
        log_path = home / SERVER_LOG_NAME
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                dies_with_parent(command),
                env=env,
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file = home / SERVER_PID_NAME
        pid_file.write_text(f"{process.pid} {port}\n", encoding="utf-8")
        try:
            deadline = time.monotonic() + startup_timeout_s
            while not is_healthy(api_url, timeout_s=2.0):
                if process.poll() is not None:
                    raise ServerDidNotStart(
                        f"prefect server exited with code {process.returncode} before it was healthy "
                        f"(log {log_path}):\n{_log_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise ServerDidNotStart(
                        f"prefect server at {api_url} not healthy after {startup_timeout_s:g} s "
                        f"(log {log_path}):\n{_log_tail(log_path)}"
                    )
                time.sleep(0.5)
            yield api_url
        finally:
            stop_process_group(process)
            pid_file.unlink(missing_ok=True)


def running_server(home: Path) -> str | None:
    """The API of the server `managed_server` keeps on `home` (`bulletins serve`), if it answers now.

    A run from the shell uses it rather than start a temporary server: seconds saved, and
    the run shows in serve's UI next to the scheduled ones.
    """
    recorded = _recorded_server(Path(home))
    if recorded is None:
        return None
    pid, port = recorded
    api_url = f"http://127.0.0.1:{port}/api"
    return api_url if _running(pid) and is_healthy(api_url) else None


def _recorded_server(home: Path) -> tuple[int, str] | None:
    """The pid and port `home/server.pid` records, if it is there and readable."""
    try:
        pid_text, port = (home / SERVER_PID_NAME).read_text(encoding="utf-8").split()
        return int(pid_text), port
    except (OSError, ValueError):
        return None


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_orphaned_server(home: Path) -> int | None:
    """Stop the server `home/server.pid` names if it still runs; its pid, or None.

    Only a process that is that server is stopped: its command line is `prefect server
    start` on the recorded port and its PREFECT_HOME is `home` (a pid can be reused).
    Call it holding `home/serve.lock`: then no live process owns that server.
    """
    pid_file = home / SERVER_PID_NAME
    recorded = _recorded_server(home)
    if recorded is None:
        return None
    pid, port = recorded
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        cmdline, environ = [], []
    ours = (
        _running(pid)
        and b"server" in cmdline
        and b"start" in cmdline
        and port.encode() in cmdline
        and f"PREFECT_HOME={home}".encode() in environ
    )
    if ours:
        print(f"warning: stopping the Prefect server (pid {pid}) left running on {home}", file=sys.stderr)
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)  # started with start_new_session: its pid is its group
        deadline = time.monotonic() + 15
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return pid if ours else None


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
