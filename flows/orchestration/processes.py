"""Processes we start end with the process that started them, even on `kill -9`.

A `kill -9` of `bulletins run` or `bulletins serve` gives them no chance to stop what they
started: Prefect's server, the process-pool workers, a scheduled run. On Linux each of
those asks the kernel to signal it when its parent ends (`prctl(PR_SET_PDEATHSIG)`):

- programs we start (`prefect server start`, the temporary API's uvicorn) are started
  through `dies_with_parent(argv)`, a few lines of Python that set the signal and then
  `exec` the program (no `preexec_fn`: unsafe in a process with threads);
- pool workers call `die_with_parent(parent_pid)` first thing (the pool's initializer);
- a flow run `serve` started watches its parent from a thread (`exit_when_parent_ends`):
  Prefect's runner starts it from a thread that ends, after which the kernel's signal
  would never come.

The signal is SIGTERM, so a server shuts down cleanly. Linux sends it when the *thread*
that started the child ends; the children here are started by threads that live as
long as their process does (the main thread, the flow's thread, the runner's loop).
Elsewhere than Linux these calls do nothing.

`single_instance(path)` is the other half for `serve`: one server per Prefect home.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PR_SET_PDEATHSIG = 1

# argv: <parent pid> <signal> <program> <args...>; exec's the program with the death signal set.
_EXEC_WITH_PDEATHSIG = (
    "import ctypes, os, sys\n"
    "parent, sig = int(sys.argv[1]), int(sys.argv[2])\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)\n"
    "if os.getppid() != parent:\n"  # the parent ended before prctl: nobody will signal us
    "    sys.exit(0)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def supported() -> bool:
    return sys.platform.startswith("linux")


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Have the kernel send `signum` to this process when its parent ends (Linux)."""
    if not supported():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent ended before the call
        os.kill(os.getpid(), signum)


def pool_worker_dies_with_parent() -> None:
    """A process-pool initializer: the worker ends when the process that spawned it does."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        die_with_parent(parent.pid)


_watching: set[int] = set()


def flow_run_dies_with_runner() -> None:
    """In a flow run a runner (`bulletins serve`) started: end when the runner ends.

    The runner sets PREFECT__FLOW_RUN_ID in the flow run's environment; a flow called in
    the CLI's own process (`bulletins run`) has no runner above it and is left alone.
    The runner starts the run from a short-lived thread, so the kernel's parent-death
    signal would not fire: a watcher thread notices the new parent instead.
    """
    if os.environ.get("PREFECT__FLOW_RUN_ID"):
        exit_when_parent_ends(os.getppid())


def exit_when_parent_ends(parent_pid: int, every_s: float = 1.0, grace_s: float = 10.0) -> None:
    """End this process within `every_s` of its parent ending (a daemon thread).

    SIGTERM first (Prefect's engine catches it to record the run as crashed, and stops
    the pool), SIGKILL after `grace_s`: with its server gone, the engine would otherwise
    retry its API calls for ever.
    """
    if parent_pid in _watching:
        return
    _watching.add(parent_pid)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-when-parent-ends", daemon=True).start()


def dies_with_parent(argv: list[str], signum: int = signal.SIGTERM) -> list[str]:
    """`argv` wrapped so the program ends when this process does (unchanged off Linux).

    >>> dies_with_parent(["/bin/sleep", "5"])[3:]  # doctest: +SKIP
    ['1234', '15', '/bin/sleep', '5']
    """
    if not supported():
        return argv
    program = argv[0] if os.path.isabs(argv[0]) else _which(argv[0])
    # -S: the wrapper needs no site-packages (it only sets the signal and exec's).
    return [sys.executable, "-S", "-c", _EXEC_WITH_PDEATHSIG, str(os.getpid()), str(int(signum)), program, *argv[1:]]


def _which(name: str) -> str:
    import shutil

    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


class AlreadyRunning(RuntimeError):
    """Another process holds the single-instance lock."""


@contextmanager
def single_instance(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock at `path` while the block runs; raise AlreadyRunning if taken.

    The holder writes its pid and start time into the file for the message. The kernel
    drops the lock when the holder ends, however it ends (kill -9 included).
    """
    # Imported here: pool workers import this module, and must not import DuckDB.
    from flows.warehouse.locks import exclusive_lock

    def busy(holder: str) -> AlreadyRunning:
        return AlreadyRunning(f"{what} is already running ({holder}; lock {path})")

    with exclusive_lock(path, 0, busy):
        yield
