"""Never two writers: the run lock, and a write connection that waits for readers.

Two different locks guard the warehouse:

- `run_lock`: an advisory file lock (`fcntl.flock`) held by the one `bulletin-etl`
  run that writes. A second run waits for it a bounded time, then gives up with
  `RunInProgress`.
- DuckDB's own file lock: a read-only connection in another process (an analyst's
  `duckdb -readonly` shell) stops any writer from opening the file.
  `connect_for_write` retries with backoff for a bounded time, then raises
  `WarehouseLocked` naming the process that holds the file.

Plain functions, no Prefect: they log to the logger they are given (the flow passes its
run logger, so the waits show in the run's logs), else to `flows.warehouse.locks`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from flows.warehouse.db import connect

log = logging.getLogger(__name__)

Logger = logging.Logger | logging.LoggerAdapter

# First wait after a lock conflict; each next wait doubles, up to the cap.
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 10.0

# DuckDB 2.x: IO Error: Could not set lock on file "/x/bulletins.duckdb": Conflicting
# lock is held in /usr/bin/python3.11 (PID 4657). However, ...
_DUCKDB_LOCK_RE = re.compile(r'Could not set lock on file "(?P<path>[^"]*)"')
_DUCKDB_HOLDER_RE = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class RunInProgress(RuntimeError):
    """Another run holds the run lock and did not finish within the wait."""


class WarehouseLocked(RuntimeError):
    """Another process kept the DuckDB file locked past the bound."""


def _read_holder(handle) -> str:
    """What the lock file says about the run holding it ('' when it says nothing)."""
    try:
        handle.seek(0)
        return handle.read().strip()
    except OSError:
        return ""


@contextmanager
def run_lock(
    path: Path,
    wait_s: float,
    *,
    poll_s: float = 0.2,
    logger: Logger | None = None,
) -> Iterator[None]:
    """Hold the exclusive run lock at `path`, waiting up to `wait_s` for another run.

    The holder writes its pid and start time into the file, so a run that gives up
    can say which run is going:

    >>> with run_lock(Path("warehouse/.bulletins-run.lock"), wait_s=0):  # doctest: +SKIP
    ...     ...  # the only writer
    RunInProgress: another bulletin-etl run holds warehouse/.bulletins-run.lock (pid=4242 ...)
    """

    def busy(holder: str) -> RunInProgress:
        return RunInProgress(f"another bulletin-etl run holds {path} ({holder}); gave up after waiting {wait_s:g} s")

    with exclusive_lock(path, wait_s, busy, poll_s=poll_s, logger=logger):
        yield


@contextmanager
def exclusive_lock(
    path: Path,
    wait_s: float,
    busy: Callable[[str], BaseException],
    *,
    poll_s: float = 0.2,
    logger: Logger | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock at `path`, waiting up to `wait_s`; raise `busy(holder)` if still taken.

    The holder writes its pid and start time into the file (`holder` in the error). The
    kernel drops the lock when the holder ends, however it ends (kill -9 included).
    """
    logger = logger or log
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a+" creates the file without truncating what the holder wrote.
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held across the yield, closed in finally)
    try:
        deadline = time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(handle) or "holder unknown"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise busy(holder) from None
                if not waited:
                    logger.info("Another run holds %s (%s); waiting up to %g s", path, holder, wait_s)
                    waited = True
                time.sleep(min(poll_s, remaining))
        if waited:
            logger.info("Run lock %s acquired", path)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid={os.getpid()} started={started}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def is_lock_conflict(exc: BaseException) -> bool:
    """True for DuckDB's error when another process holds the database file."""
    return isinstance(exc, duckdb.IOException) and _DUCKDB_LOCK_RE.search(str(exc)) is not None


def describe_lock_conflict(exc: BaseException, db_path: Path) -> str:
    """Name the process holding the file, from DuckDB's message.

    >>> describe_lock_conflict(duckdb.IOException(
    ...     'IO Error: Could not set lock on file "/w/b.duckdb": Conflicting lock is held in '
    ...     '/usr/bin/python3 (PID 42). However, ...'), Path("/w/b.duckdb"))
    '/w/b.duckdb is locked by another process: PID 42 (/usr/bin/python3)'
    """
    match = _DUCKDB_HOLDER_RE.search(str(exc))
    if match is None:
        return f"{db_path} is locked by another process"
    return f"{db_path} is locked by another process: PID {match['pid']} ({match['program']})"


def connect_for_write(
    db_path: Path,
    timeout_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    logger: Logger | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting up to `timeout_s` for other processes.

    Retries only DuckDB's lock conflict (e.g. an analyst's read-only connection in
    another process), waiting 0.5 s, 1 s, 2 s, ... (at most 10 s) between tries.
    Any other error is raised at once. Past the bound: `WarehouseLocked`.
    """
    return _connect_waiting(db_path, timeout_s, read_only=False, sleep=sleep, clock=clock, logger=logger)


def connect_for_read(
    db_path: Path,
    timeout_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    logger: Logger | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (sandboxed), waiting up to `timeout_s` while a run writes it.

    Readers share the file with each other, but not with a writer: a query that starts
    while a run loads waits for the run, with the same backoff as `connect_for_write`.
    """
    return _connect_waiting(
        db_path, timeout_s, read_only=True, sleep=sleep, clock=clock, logger=logger, memory_limit=memory_limit
    )


def _connect_waiting(
    db_path: Path,
    timeout_s: float,
    *,
    read_only: bool,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    logger: Logger | None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    logger = logger or log
    deadline = clock() + timeout_s
    delay = BACKOFF_FIRST_S
    while True:
        try:
            return connect(db_path, read_only=True, memory_limit=memory_limit) if read_only else connect(db_path)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc):
                raise
            cause = describe_lock_conflict(exc, db_path)
            remaining = deadline - clock()
            if remaining <= 0:
                if read_only:
                    raise WarehouseLocked(
                        f"{cause}, e.g. a run loading it; gave up after {timeout_s:g} s: "
                        "try again when it has finished (BULLETINS_LOCK_TIMEOUT_S sets the wait)"
                    ) from exc
                raise WarehouseLocked(
                    f"{cause}, e.g. an open read-only connection; gave up after {timeout_s:g} s. "
                    "Close it; the next run loads the files not loaded now."
                ) from exc
            wait = min(delay, remaining)
            logger.warning("%s; retrying in %.1f s (%.1f s left)", cause, wait, remaining)
            sleep(wait)
            delay = min(delay * 2, BACKOFF_CAP_S)
