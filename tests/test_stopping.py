"""The run's deadline and signals (flows/orchestration/stopping.py), in this process."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.orchestration.stopping import Stopper, lock_holder, stuck_holder


def test_the_deadline_prints_one_line_and_interrupts_the_run() -> None:
    printed: list[str] = []
    exits: list[int] = []
    stopper = Stopper(0.3, print_error=printed.append, hard_exit=exits.append, grace_s=5)
    with pytest.raises(SystemExit) as ended, stopper, contextlib.suppress(KeyboardInterrupt):
        time.sleep(10)  # interrupted by the deadline
    assert ended.value.code == 1
    assert printed == [
        "run did not finish within 0.3 s (BULLETINS_RUN_TIMEOUT_S) and was stopped; its lock is released, "
        "and the next run finishes its work"
    ]
    assert exits == []  # it ended by itself within the grace


def test_a_run_stuck_past_the_grace_is_ended_hard() -> None:
    """The main thread never returns (a call to a stalled API): the process ends anyway."""
    exited = threading.Event()
    codes: list[int] = []

    def hard_exit(code: int) -> None:
        codes.append(code)
        exited.set()

    stopper = Stopper(0.2, print_error=lambda _: None, hard_exit=hard_exit, grace_s=0.3, handle_signals=False)
    with pytest.raises(SystemExit), stopper:
        try:
            time.sleep(3)
        except KeyboardInterrupt:  # swallowed, as a stuck call would
            assert exited.wait(5)
    assert codes == [1]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_prints_one_line_and_exits_128_plus_its_number(signum: int, code: int) -> None:
    printed: list[str] = []
    before = signal.getsignal(signum)
    stopper = Stopper(None, print_error=printed.append, hard_exit=lambda c: None)
    with pytest.raises(SystemExit) as ended, stopper, contextlib.suppress(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
        time.sleep(5)
    assert ended.value.code == code
    assert printed == [f"interrupted ({signal.Signals(signum).name}): the next run finishes what this one started"]
    assert signal.getsignal(signum) == before  # restored


def test_a_run_that_finishes_in_time_is_untouched() -> None:
    printed: list[str] = []
    with Stopper(5, print_error=printed.append, hard_exit=lambda c: None) as stopper:
        pass
    assert stopper.code is None and printed == []


def test_the_lock_file_says_who_holds_it_and_since_when(tmp_path: Path) -> None:
    lock = tmp_path / ".bulletins-run.lock"
    assert lock_holder(lock) is None and stuck_holder(lock, 60) is None
    lock.write_text("pid=4242 started=2026-12-04T08:00:00+00:00\n", encoding="utf-8")
    assert lock_holder(lock) == (4242, datetime(2026, 12, 4, 8, tzinfo=UTC))
    assert stuck_holder(lock, 3600, now=datetime(2026, 12, 4, 8, 59, tzinfo=UTC)) is None
    stuck = stuck_holder(lock, 3600, now=datetime(2026, 12, 4, 10, 1, tzinfo=UTC))
    assert stuck is not None and "(pid 4242) has held it for 2 h 1 min" in stuck and "kill 4242" in stuck
    lock.write_text("pid=1 started=yesterday\n", encoding="utf-8")
    assert lock_holder(lock) is None
