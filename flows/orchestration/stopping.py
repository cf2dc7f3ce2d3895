"""How a run ends when it cannot finish: a signal, or its wall-clock deadline.

A run holds the run lock (an `flock` of its process) until its process ends, so a run
that hangs (a stalled Prefect API, a disk that stopped answering) would make every later
run skip, for good. `Stopper` gives the run a deadline (BULLETINS_RUN_TIMEOUT_S) and
turns SIGINT / SIGTERM into one `error:` line:

1. the line is printed at once (stderr), whatever the run is blocked on;
2. the main thread gets a KeyboardInterrupt, so Prefect can record the run as crashed
   and the `finally` blocks release what they hold;
3. if the process has not ended `grace_s` later (the main thread is stuck in a call that
   never returns, e.g. to the stalled API), it ends with `os._exit`: the kernel releases
   the lock, and the processes the run started end with it (`processes.dies_with_parent`).
   Ending there is as safe as `kill -9`, which every run survives (README, "Failures and
   reruns").

The exit code: 1 for the deadline, 128 + the signal for a signal (130 SIGINT, 143 SIGTERM).
No Prefect import: plain threads and signals.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType

# How long the run gets to end by itself once it has been told to stop.
GRACE_S = 5.0

RUN_TIMEOUT_ENV = "BULLETINS_RUN_TIMEOUT_S"


def _print_error(message: str) -> None:
    try:
        sys.stderr.write(f"error: {' '.join(message.split())}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the exit code still says it
        pass


class Stopper:
    """Within the block: a deadline, and SIGINT / SIGTERM handled as above (main thread only).

    `code` is None until the run is told to stop; the block then ends with SystemExit(code).
    """

    def __init__(
        self,
        timeout_s: float | None,
        *,
        what: str = "run",
        grace_s: float = GRACE_S,
        handle_signals: bool = True,
        print_error: Callable[[str], None] = _print_error,
        hard_exit: Callable[[int], None] = os._exit,
    ) -> None:
        self.timeout_s = timeout_s
        self.what = what
        self.grace_s = grace_s
        self.handle_signals = handle_signals and threading.current_thread() is threading.main_thread()
        self.code: int | None = None
        self._print = print_error
        self._hard_exit = hard_exit
        self._lock = threading.Lock()
        self._interrupting = False  # the deadline asked the main thread to stop
        self._done = threading.Event()
        self._saved: dict[int, object] = {}

    def __enter__(self) -> Stopper:
        if self.handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved[signum] = signal.signal(signum, self._on_signal)
        if self.timeout_s is not None:
            threading.Thread(target=self._watch, name="run-deadline", daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self._done.set()
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved.clear()
        if self.code is not None:
            raise SystemExit(self.code) from None  # the line is printed: nothing else to say
        return None

    def _watch(self) -> None:
        assert self.timeout_s is not None
        if self._done.wait(self.timeout_s):
            return
        message = (
            f"{self.what} did not finish within {self.timeout_s:g} s ({RUN_TIMEOUT_ENV}) and was stopped; "
            "its lock is released, and the next run finishes its work"
        )
        if self._begin(1, message):
            self._interrupting = True
            # A real SIGINT to the main thread: unlike `_thread.interrupt_main`, it also
            # wakes a blocking call (a sleep, a socket read) there.
            main = threading.main_thread().ident
            if main is not None:
                signal.pthread_kill(main, signal.SIGINT)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._interrupting:  # our own interrupt, from the deadline
            self._interrupting = False
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        if not self._begin(128 + signum, f"interrupted ({name}): the next run finishes what this one started"):
            self._hard_exit(self.code if self.code is not None else 128 + signum)  # a second signal: now
            return
        raise KeyboardInterrupt

    def _begin(self, code: int, message: str) -> bool:
        """Print the line and arm the hard exit; False when already stopping."""
        with self._lock:
            if self.code is not None:
                return False
            self.code = code
        self._print(message)
        threading.Thread(target=self._exit_after_grace, name="run-stop-grace", daemon=True).start()
        return True

    def _exit_after_grace(self) -> None:
        if not self._done.wait(self.grace_s):
            assert self.code is not None
            self._hard_exit(self.code)


class LockHolderStuck(RuntimeError):
    """The run lock's holder has held it longer than a run may last: skipping would go on for good."""


_HOLDER_RE = re.compile(r"pid=(?P<pid>\d+) started=(?P<started>\S+)")


def lock_holder(lock_path: Path) -> tuple[int, datetime] | None:
    """The pid and start time the run lock file records (`locks.exclusive_lock`), if any.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.lock"
    >>> _ = path.write_text("pid=42 started=2026-12-04T16:00:00+00:00\\n")
    >>> lock_holder(path)
    (42, datetime.datetime(2026, 12, 4, 16, 0, tzinfo=datetime.timezone.utc))
    """
    try:
        text = lock_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _HOLDER_RE.search(text)
    if match is None:
        return None
    try:
        started = datetime.fromisoformat(match["started"])
    except ValueError:
        return None
    return int(match["pid"]), started if started.tzinfo else started.replace(tzinfo=UTC)


def stuck_holder(lock_path: Path, run_timeout_s: float, now: datetime | None = None) -> str | None:
    """Why the run holding `lock_path` is stuck: it has held it longer than a run may last; else None.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.lock"
    >>> _ = path.write_text("pid=42 started=2026-12-04T16:00:00+00:00\\n")
    >>> stuck_holder(path, 3600, now=datetime(2026, 12, 4, 17, 30, tzinfo=UTC))  # doctest: +ELLIPSIS
    'the run holding ... (pid 42) has held it for 1 h 30 min, longer than a run may last (BULLETINS_RUN_TIMEOUT_S=3600 s): it is stuck; stop it (kill 42) and run again'
    >>> stuck_holder(path, 3600, now=datetime(2026, 12, 4, 16, 30, tzinfo=UTC)) is None
    True
    """
    holder = lock_holder(lock_path)
    if holder is None:
        return None
    pid, started = holder
    held_s = ((now or datetime.now(UTC)) - started).total_seconds()
    if held_s <= run_timeout_s:
        return None
    return (
        f"the run holding {lock_path} (pid {pid}) has held it for {_duration(held_s)}, longer than a run may last "
        f"({RUN_TIMEOUT_ENV}={run_timeout_s:g} s): it is stuck; stop it (kill {pid}) and run again"
    )


def _duration(seconds: float) -> str:
    """Hours and minutes, or seconds under a minute.

    >>> _duration(5400), _duration(59), _duration(90061)
    ('1 h 30 min', '59 s', '25 h 1 min')
    """
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
