"""Issue 16, part 5: a run that cannot finish ends with one line and lets the next run go.

Real `bulletins run` processes against a Prefect API that stops answering (a TCP proxy
to the session's server that stalls once the run holds its lock, or a listener that
never answers), signals, a lock holder that has held the lock for hours, a damaged
Prefect database, a disk that fills up right before the commit, and the traceback hint.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ops_helpers import bulletins, make_inbox

from flows.settings import PROJECT_DIR

pytestmark = pytest.mark.usefixtures("prefect_harness")


class StallingProxy:
    """A TCP proxy to a Prefect API that stops forwarding, for good, once `stall()` says so."""

    def __init__(self, target_port: int, stall: Callable[[], bool]) -> None:
        self.target = ("127.0.0.1", target_port)
        self._stall = stall
        self.stalled = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.stalled.is_set() or self._stall():
                    self.stalled.set()
                    time.sleep(0.2)
                dst.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class SilentApi:
    """A listener that accepts and never answers: a Prefect API stalled from the start."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.connected.set()

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_api() -> Iterator[SilentApi]:
    api = SilentApi()
    yield api
    api.close()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_inbox(tmp_path_factory.mktemp("bounds") / "inbox")


def lock_is_free(lock: Path) -> bool:
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def start_run(inbox: Path, wh: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "run", "--inbox", str(inbox), "--warehouse", str(wh)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def test_a_stalled_api_ends_the_run_at_its_deadline(
    prefect_harness: str, inbox: Path, tmp_path: Path, reliability
) -> None:
    """The probe's case: the API stalls mid-run; the run used to hold its lock with no deadline."""
    wh = tmp_path / "wh"
    lock = wh / ".bulletins-run.lock"

    def holds_the_lock() -> bool:
        try:
            return "pid=" in lock.read_text(encoding="utf-8")
        except OSError:
            return False

    proxy = StallingProxy(urlsplit(prefect_harness).port or 80, holds_the_lock)
    deadline_s = 20
    started = time.monotonic()
    try:
        result = bulletins(
            "run",
            "--inbox",
            str(inbox),
            "--warehouse",
            str(wh),
            env={"PREFECT_API_URL": f"http://127.0.0.1:{proxy.port}/api", "BULLETINS_RUN_TIMEOUT_S": str(deadline_s)},
            timeout=240,
        )
    finally:
        proxy.close()
    seconds = time.monotonic() - started
    lines = (result.stdout + result.stderr).strip().splitlines()
    ok = (
        proxy.stalled.is_set()
        and result.returncode == 1
        and len(lines) == 1
        and lines[-1].startswith(f"error: run did not finish within {deadline_s} s (BULLETINS_RUN_TIMEOUT_S)")
        and seconds < deadline_s + 30
        and lock_is_free(lock)
    )
    reliability.record(
        "16 a run that cannot finish ends error: and releases its lock",
        f"the Prefect API stalls once the run holds its lock; BULLETINS_RUN_TIMEOUT_S={deadline_s}",
        f"exit {result.returncode} after {seconds:.0f} s: {(lines or [''])[-1][:90]}; lock free: {lock_is_free(lock)}",
        ok,
    )
    assert ok, result.stdout + result.stderr
    # The next run (the API answering again) finishes the stopped run's work.
    again = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh), env={"PREFECT_API_URL": prefect_harness})
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_run_with_one_line(
    silent_api: SilentApi, inbox: Path, tmp_path: Path, signum: int, code: int, reliability
) -> None:
    """SIGINT / SIGTERM used to end `run` with no line at all (or not at all, on a stalled API)."""
    run = start_run(inbox, tmp_path / "wh", {"PREFECT_API_URL": f"http://127.0.0.1:{silent_api.port}/api"})
    try:
        assert silent_api.connected.wait(120), "the run never called its API"
        time.sleep(0.5)
        sent = time.monotonic()
        run.send_signal(signum)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    seconds = time.monotonic() - sent
    lines = (stdout + stderr).strip().splitlines()
    name = signal.Signals(signum).name
    ok = run.returncode == code and len(lines) == 1 and lines[0].startswith(f"error: interrupted ({name})")
    reliability.record(
        "16 failures name their real cause",
        f"{name} to `bulletins run` waiting on a stalled Prefect API",
        f"exit {run.returncode} after {seconds:.1f} s: {(lines or [''])[0][:90]}",
        ok,
    )
    assert ok, stdout + stderr
    assert seconds < 15


def hold_lock(lock: Path, started: datetime) -> subprocess.Popen[str]:
    """Another process holding the run lock, its file saying since when."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    script = (
        "import fcntl, os, sys, time\n"
        "h = open(sys.argv[1], 'a+'); fcntl.flock(h.fileno(), fcntl.LOCK_EX)\n"
        "h.seek(0); h.truncate(); h.write(f'pid={os.getpid()} started={sys.argv[2]}\\n'); h.flush()\n"
        "print('held', flush=True); time.sleep(300)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock), started.isoformat(timespec="seconds")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_stuck_lock_holder_is_reported_not_skipped_for_ever(
    prefect_harness: str, inbox: Path, tmp_path: Path, reliability
) -> None:
    """Later runs said "skipped" and exited 0 while a stuck run held the lock for good."""
    wh = tmp_path / "wh"
    env = {"PREFECT_API_URL": prefect_harness, "BULLETINS_LOCK_TIMEOUT_S": "0", "BULLETINS_RUN_TIMEOUT_S": "3600"}
    for held_for, expected in ((timedelta(minutes=5), 0), (timedelta(hours=2, minutes=5), 75)):
        holder = hold_lock(wh / ".bulletins-run.lock", datetime.now(UTC) - held_for)
        try:
            result = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh), env=env)
        finally:
            holder.kill()
            holder.wait()
        lines = (result.stdout + result.stderr).strip().splitlines()
        if expected == 0:
            ok = result.returncode == 0 and len(lines) == 1 and lines[0].startswith("run skipped: another bulletin-etl")
        else:
            ok = (
                result.returncode == 75
                and len(lines) == 1
                and lines[0].startswith("error: run skipped: the run holding ")
                and f"(pid {holder.pid}) has held it for 2 h 5 min, longer than a run may last" in lines[0]
                and f"kill {holder.pid}" in lines[0]
            )
        reliability.record(
            "16 repeated skips are reported",
            f"a run while another has held the lock for {held_for}",
            f"exit {result.returncode}: {(lines or [''])[0][:100]}",
            ok,
        )
        assert ok, result.stdout + result.stderr


def test_a_damaged_prefect_database_is_named(inbox: Path, tmp_path: Path, reliability) -> None:
    """It made `run` restart Prefect's server for 93 s, then blame a timeout."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "prefect.db").write_bytes(os.urandom(100_000))
    started = time.monotonic()
    result = bulletins(
        "run",
        "--inbox",
        str(inbox),
        "--warehouse",
        str(tmp_path / "wh"),
        drop=("PREFECT_",),
        env={"PREFECT_HOME": str(home)},
    )
    seconds = time.monotonic() - started
    lines = (result.stdout + result.stderr).strip().splitlines()
    ok = (
        result.returncode == 1
        and len(lines) == 1
        and lines[0].startswith(f"error: Prefect's database {home / 'prefect.db'} is damaged (not an SQLite database)")
        and seconds < 30
    )
    reliability.record(
        "16 failures name their real cause",
        "`bulletins run` with $PREFECT_HOME/prefect.db of random bytes",
        f"exit {result.returncode} after {seconds:.1f} s: {(lines or [''])[0][:100]}",
        ok,
    )
    assert ok, result.stdout + result.stderr


def test_the_traceback_hint_prints_the_traceback_under_run(
    prefect_harness: str, inbox: Path, tmp_path: Path, reliability
) -> None:
    """`BULLETINS_TRACEBACK=1` printed nothing more under `run`."""
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / "lake").write_text("not a folder", encoding="utf-8")  # the run fails on it, unexpectedly
    env = {"PREFECT_API_URL": prefect_harness}
    plain = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh), env=env)
    traced = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh), env={**env, "BULLETINS_TRACEBACK": "1"})
    first = traced.stderr.splitlines()[0] if traced.stderr else ""
    ok = (
        plain.returncode == traced.returncode == 1
        and len(plain.stderr.splitlines()) == 1
        and first.split(" (the run's logs")[0] == plain.stderr.strip().split(" (the run's logs")[0]
        and "Traceback (most recent call last):" in traced.stderr
        and "flows/" in traced.stderr
    )
    reliability.record(
        "16 failures name their real cause",
        "BULLETINS_TRACEBACK=1 bulletins run (a run that fails)",
        f"exit {traced.returncode}: {len(traced.stderr.splitlines())} lines of traceback under {first[:60]}",
        ok,
    )
    assert ok, plain.stderr + "\n---\n" + traced.stderr


def test_a_full_disk_at_commit_is_named(prefect_harness: str, inbox: Path, tmp_path: Path, reliability) -> None:
    """It was reported as `cannot rollback - no transaction is active`.

    The warehouse is on a 64 MB tmpfs mounted in a private mount namespace (`unshare`;
    as a user namespace's root when not root), which the fault hook fills right before
    the commit (`BULLETINS_FILL_DISK_AT=tested:<file>`).
    """
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to mount a small disk"
    disk = tmp_path / "disk"
    disk.mkdir()
    wh = disk / "wh"
    mount = 'mount -t tmpfs -o size=64m tmpfs "$0" && shift && exec "$@"'
    command = [unshare, "-m", *([] if os.geteuid() == 0 else ["-r"]), "sh", "-c", mount, str(disk)]
    result = subprocess.run(
        [*command, "x", sys.executable, "-m", "flows", "run", "--inbox", str(inbox), "--warehouse", str(wh)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT_DIR,
        env={**os.environ, "PREFECT_API_URL": prefect_harness, "BULLETINS_FILL_DISK_AT": f"tested:{disk}/filler"},
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    ok = (
        result.returncode == 1
        and len(lines) == 1
        and lines[0].startswith(f"error: run failed: no space left on device ({wh}")
        and "rollback" not in lines[0]
    )
    reliability.record(
        "16 failures name their real cause",
        "the disk of the warehouse fills up right before the commit",
        f"exit {result.returncode}: {(lines or [''])[0][:110]}",
        ok,
    )
    assert ok, result.stdout + result.stderr
