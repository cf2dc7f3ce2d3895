"""Issue 7, item 10: `kill -9` of `bulletins run` or `bulletins serve` leaves no process behind,
and a second `serve` never starts a second Prefect server on the same prefect.db.

Real processes, real SIGKILLs: each test starts the command in its own session, waits
until it has started what it starts (a Prefect server, pool workers, a scheduled run),
kills the command's own process with SIGKILL and waits (bounded) for everything it had
started to end.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cluster_processes import start_logged
from ops_helpers import wait_for

from flows.devtools.corpus import write_corpus
from flows.settings import PROJECT_DIR

pytestmark = pytest.mark.slow


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, with its command line."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None:
            children.setdefault(stat[1], []).append(int(name))
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and alive(child):
                found[child] = cmdline(child)
                todo.append(child)
    return found


def environ_has(pid: int, key: str, value: str) -> bool:
    try:
        entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{key}={value}".encode() in entries


def prefect_servers_on(home: Path) -> set[int]:
    """Processes serving a Prefect API with PREFECT_HOME=home (a `prefect server start` or uvicorn)."""
    return {
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit()
        and alive(int(name))
        and ("prefect server start" in (cmd := cmdline(int(name))) or "uvicorn" in cmd)
        and environ_has(int(name), "PREFECT_HOME", str(home))
    }


def start(args: list[str], log: Path, home: Path, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        # A fresh Prefect home migrates its database first: slow on a busy machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        # Parse in the process pool whatever the size (small runs parse in the flow's process).
        "BULLETINS_INLINE_PARSE_MAX_BYTES": "0",
        **env,
    }
    for name in ("PREFECT_API_URL", "BULLETINS_INBOX", "BULLETINS_WAREHOUSE"):
        environment.pop(name, None)
    return start_logged([sys.executable, "-m", "flows", *args], log, append=True, cwd=PROJECT_DIR, env=environment)


def kill_and_wait_for_orphans(process: subprocess.Popen, started: dict[int, str], timeout_s: float) -> list[str]:
    """SIGKILL the command itself (not its group); what it had started that is still alive after."""
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + timeout_s
    while (left := {p: c for p, c in started.items() if alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.25)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    return [f"{pid} {cmd[:100]}" for pid, cmd in left.items()]


@pytest.fixture(autouse=True)
def reaper(tmp_path: Path) -> Iterator[None]:
    """Whatever a failed test leaves (any process whose command line or environment names
    its tmp_path) is killed, so that it does not outlive the test."""
    yield
    me = os.getpid()
    for name in os.listdir("/proc"):
        pid = int(name) if name.isdigit() else me
        if pid == me or not alive(pid):
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if str(tmp_path).encode() in environ or str(tmp_path) in cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def big_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough pages that a run is still parsing when it is killed."""
    inbox = tmp_path_factory.mktemp("big") / "inbox"
    write_corpus(inbox, start=date(2020, 1, 6), days=120, pages_per_day=8, seed=7)
    return inbox


def test_run_killed_leaves_no_server_and_no_workers(big_inbox: Path, tmp_path: Path, reliability) -> None:
    kills = reliability.scale(1, 3)
    orphans_total = 0
    for n in range(kills):
        wh, home, log = tmp_path / f"wh{n}", tmp_path / f"home{n}", tmp_path / f"run{n}.log"

        process = start(["run", "--inbox", str(big_inbox), "--warehouse", str(wh)], log, home)

        def started_all(process: subprocess.Popen = process, log: Path = log) -> dict[int, str] | None:
            found = descendants(process.pid)
            workers = [c for c in found.values() if "spawn_main" in c]
            servers = [c for c in found.values() if "uvicorn" in c]
            if process.poll() is not None:
                pytest.fail(f"run ended before it was killed:\n{log.read_text()}")
            return found if len(workers) >= 2 and servers else None

        started = wait_for(started_all, 120, "the run's server and pool workers", every_s=0.2)
        orphans = kill_and_wait_for_orphans(process, started, timeout_s=20)
        orphans_total += len(orphans)
        reliability.record(
            "10 kill -9 leaves no process behind",
            f"kill -9 of `bulletins run` while parsing (kill {n + 1} of {kills})",
            f"started {len(started)} processes (temporary API, {sum('spawn_main' in c for c in started.values())} "
            f"workers, ...); alive 20 s after the kill: {len(orphans)}",
            not orphans,
        )
        assert not orphans, "\n".join(orphans)


def _free_ports() -> list[str]:
    """`--port` and `--reports-port` nobody listens on: serve's defaults (4200, 4201) may be taken here."""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(str(probe.getsockname()[1]))
    return ["--port", ports[0], "--reports-port", ports[1]]


def _ui_address(log: Path, process: subprocess.Popen) -> str | None:
    if process.poll() is not None:
        pytest.fail(f"serve exited early:\n{log.read_text()}")
    match = re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", log.read_text())
    return match[1] if match else None


def test_serve_killed_and_restarted_one_server_per_prefect_db(tmp_path: Path, reliability) -> None:
    inbox, wh, home = tmp_path / "inbox", tmp_path / "wh", tmp_path / "home"
    inbox.mkdir()
    server_home = wh / "prefect"
    args = ["serve", "--inbox", str(inbox), "--warehouse", str(wh), "--interval", "3600", *_free_ports()]

    first = start(args, tmp_path / "serve1.log", home)
    wait_for(lambda: _ui_address(tmp_path / "serve1.log", first), 120, "the first serve's UI address", every_s=0.5)
    started = descendants(first.pid)
    servers = prefect_servers_on(server_home)
    assert len(servers) == 1, started

    # A second serve on the same warehouse while the first runs: refused, one line, no server started.
    second = start(args, tmp_path / "serve2.log", home)
    second.wait(timeout=60)
    refusal = (tmp_path / "serve2.log").read_text().strip()
    ok = second.returncode == 1 and refusal.startswith("error: ") and len(refusal.splitlines()) == 1
    ok = ok and prefect_servers_on(server_home) == servers
    reliability.record(
        "10 one Prefect server per prefect.db",
        "a second `bulletins serve` on the same warehouse while the first serves",
        f"exit {second.returncode}: {refusal[:120]}; servers on the prefect.db: {len(prefect_servers_on(server_home))}",
        ok,
    )
    assert ok, refusal

    orphans = kill_and_wait_for_orphans(first, started, timeout_s=30)
    reliability.record(
        "10 kill -9 leaves no process behind",
        "kill -9 of `bulletins serve` (its own Prefect server running)",
        f"started {len(started)} process(es); alive 30 s after the kill: {len(orphans)}",
        not orphans,
    )
    assert not orphans, "\n".join(orphans)

    third = start(args, tmp_path / "serve3.log", home)
    try:
        wait_for(lambda: _ui_address(tmp_path / "serve3.log", third), 120, "the restarted serve", every_s=0.5)
        servers = prefect_servers_on(server_home)
        reliability.record(
            "10 one Prefect server per prefect.db",
            "`bulletins serve` restarted after its kill -9",
            f"servers on the prefect.db: {len(servers)}",
            len(servers) == 1,
        )
        assert len(servers) == 1
    finally:
        started = descendants(third.pid)
        third.send_signal(signal.SIGTERM)
        third.wait(timeout=60)
        wait_for(lambda: not any(alive(p) for p in started), 30, "the third serve's processes to end")


def test_serve_killed_during_a_scheduled_run_leaves_nothing(big_inbox: Path, tmp_path: Path, reliability) -> None:
    """The flow run serve started (and its pool workers) end with serve too."""
    wh, home, log = tmp_path / "wh", tmp_path / "home", tmp_path / "serve.log"
    args = ["serve", "--inbox", str(big_inbox), "--warehouse", str(wh), "--interval", "5", *_free_ports()]
    process = start(args, log, home)

    def run_started() -> dict[int, str] | None:
        _ui_address(log, process)
        found = descendants(process.pid)
        return found if sum("spawn_main" in c for c in found.values()) >= 2 else None

    started = wait_for(run_started, 180, "a scheduled run's pool workers", every_s=0.5)
    orphans = kill_and_wait_for_orphans(process, started, timeout_s=30)
    reliability.record(
        "10 kill -9 leaves no process behind",
        "kill -9 of `bulletins serve` during a scheduled run",
        f"started {len(started)} processes (server, flow run, workers, ...); alive 30 s after the kill: {len(orphans)}",
        not orphans,
    )
    assert not orphans, "\n".join(orphans)
