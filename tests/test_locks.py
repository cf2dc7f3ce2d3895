"""Never two writers: the run lock, and a write connection that waits for readers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from testdata import SAMPLE_PAGE

from flows.warehouse import locks
from flows.warehouse.locks import RunInProgress, WarehouseLocked, connect_for_write, run_lock

# Holds a read-only connection to argv[1] until the file argv[2] exists, like an
# analyst's `duckdb -readonly` shell left open.
READER = """
import pathlib, sys, time
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
release = pathlib.Path(sys.argv[2])
deadline = time.monotonic() + 30
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
con.close()
"""


def _make_db(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create table t (a integer)")
    con.close()


class Reader:
    """A read-only DuckDB connection held in another process."""

    def __init__(self, db_path: Path, tmp_path: Path):
        self.release_file = tmp_path / "release-reader"
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(db_path), str(self.release_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def release(self) -> None:
        self.release_file.touch()

    def stop(self) -> None:
        self.release()
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process.stdout.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "bulletins.duckdb"
    _make_db(path)
    return path


@pytest.fixture
def reader(db_path: Path, tmp_path: Path):
    holder = Reader(db_path, tmp_path)
    yield holder
    holder.stop()


# --- run_lock -------------------------------------------------------------------


def test_second_run_waits_then_says_another_run_holds_the_lock(tmp_path: Path) -> None:
    lock_path = tmp_path / "wh" / ".bulletins-run.lock"
    with run_lock(lock_path, wait_s=0):
        started = time.monotonic()
        with pytest.raises(RunInProgress) as info, run_lock(lock_path, wait_s=0.6, poll_s=0.05):
            pytest.fail("two holders of the run lock")
        waited = time.monotonic() - started
    assert 0.6 <= waited < 3
    message = str(info.value)
    assert message.startswith(f"another bulletin-etl run holds {lock_path} (pid=")
    assert f"pid={os.getpid()} started=" in message
    assert message.endswith("gave up after waiting 0.6 s")


def test_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    lock_path = tmp_path / ".bulletins-run.lock"
    with run_lock(lock_path, wait_s=0):
        pass
    with run_lock(lock_path, wait_s=0):
        pass
    assert lock_path.read_text() == ""  # the holder's pid is cleared on release


def test_lock_is_released_when_the_run_fails(tmp_path: Path) -> None:
    lock_path = tmp_path / ".bulletins-run.lock"
    with pytest.raises(ValueError), run_lock(lock_path, wait_s=0):
        raise ValueError("run failed")
    with run_lock(lock_path, wait_s=0):
        pass


def test_waiting_run_goes_ahead_when_the_first_one_finishes(tmp_path: Path) -> None:
    lock_path = tmp_path / ".bulletins-run.lock"
    first_holds = threading.Event()
    release_first = threading.Event()

    def first_run() -> None:
        with run_lock(lock_path, wait_s=0):
            first_holds.set()
            release_first.wait(5)

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert first_holds.wait(5)
        threading.Timer(0.3, release_first.set).start()
        started = time.monotonic()
        with run_lock(lock_path, wait_s=4, poll_s=0.05):
            waited = time.monotonic() - started
    finally:
        release_first.set()
        thread.join(5)
    assert 0.25 <= waited < 4


def test_run_lock_excludes_another_process(tmp_path: Path) -> None:
    lock_path = tmp_path / ".bulletins-run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from flows.warehouse.locks import run_lock\n"
            "with run_lock(Path(sys.argv[1]), wait_s=0):\n"
            "    print('holding', flush=True)\n"
            "    sys.stdin.readline()\n",
            str(lock_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with (
            pytest.raises(RunInProgress, match=rf"\(pid={holder.pid} started="),
            run_lock(lock_path, wait_s=0.2, poll_s=0.05),
        ):
            pass
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert holder.wait(timeout=10) == 0
        with run_lock(lock_path, wait_s=0):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdin.close()
        holder.stdout.close()


# --- connect_for_write: a reader in another process ------------------------------


def test_write_connect_retries_until_the_reader_lets_go(db_path: Path, reader: Reader) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    threading.Timer(1.0, reader.release).start()
    con = connect_for_write(db_path, timeout_s=4, sleep=sleep)
    try:
        con.execute("insert into t values (1)").fetchall()
        assert con.execute("select count(*) from t").fetchall() == [(1,)]
    finally:
        con.close()
    assert waits, "the reader should have made the writer wait"
    assert waits == [0.5, 1.0, 2.0][: len(waits)]


def test_write_connect_held_past_the_bound_fails_naming_the_cause(db_path: Path, reader: Reader) -> None:
    started = time.monotonic()
    with pytest.raises(WarehouseLocked) as info:
        connect_for_write(db_path, timeout_s=1.2)
    assert 1.2 <= time.monotonic() - started < 4
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{db_path} is locked by another process: PID {reader.process.pid} (")
    assert "gave up after 1.2 s" in message
    # Once the reader lets go, the next attempt writes.
    reader.stop()
    con = connect_for_write(db_path, timeout_s=1)
    con.close()


# --- connect_for_write: the backoff, with a fake clock -----------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


LOCK_ERROR = (
    'IO Error: Could not set lock on file "/w/bulletins.duckdb": Conflicting lock is held in '
    "/usr/bin/python3.11 (PID 4242). However, you would be able to open this database in "
    "read-only mode"
)


def test_backoff_doubles_up_to_the_cap_and_stops_at_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    calls: list[Path] = []

    def always_locked(path):
        calls.append(path)
        raise duckdb.IOException(LOCK_ERROR)

    monkeypatch.setattr(locks, "connect", always_locked)
    with pytest.raises(WarehouseLocked) as info:
        connect_for_write(Path("/w/bulletins.duckdb"), 40, sleep=fake.sleep, clock=fake.clock)
    assert fake.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 4.5]
    assert fake.now == 40
    assert len(calls) == len(fake.waits) + 1
    assert str(info.value) == (
        "/w/bulletins.duckdb is locked by another process: PID 4242 (/usr/bin/python3.11), "
        "e.g. an open read-only connection; gave up after 40 s. "
        "Close it; the next run loads the files not loaded now."
    )


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()

    def broken(path):
        raise duckdb.IOException("IO Error: Cannot open file: Permission denied")

    monkeypatch.setattr(locks, "connect", broken)
    with pytest.raises(duckdb.IOException, match="Permission denied"):
        connect_for_write(Path("/w/bulletins.duckdb"), 40, sleep=fake.sleep, clock=fake.clock)
    assert fake.waits == []


def test_connects_at_once_when_nobody_holds_the_file(tmp_path: Path) -> None:
    fake = FakeTime()
    con = connect_for_write(tmp_path / "new.duckdb", 5, sleep=fake.sleep, clock=fake.clock)
    con.close()
    assert fake.waits == []


# --- the flow: a second run, and a reader holding the warehouse --------------------


def _sample_week_rows(db_path: Path) -> list[tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(
            "select count(*) from marts.unit_week_performance where week_start = date '2020-12-14'"
        ).fetchall()
    finally:
        con.close()


def _held_snapshots(pid: int, db_path: Path) -> list[str]:
    """The files named like the snapshot that process `pid` has open ("(deleted)": replaced since)."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(db_path)):
            held.append(target)
    return held


@pytest.fixture
def warehouse_with_reader(prefect_harness, tmp_path: Path):
    """An existing warehouse, a new page in the inbox, and a reader holding the published snapshot."""
    from flows.orchestration.flow import bulletin_etl

    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    bulletin_etl(inbox=str(inbox), warehouse=str(wh))  # creates the warehouse
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE_PAGE.read_bytes())
    holder = Reader(wh / "bulletins.duckdb", tmp_path)
    yield inbox, wh, holder
    holder.stop()


@pytest.mark.scenario
def test_a_reader_of_the_snapshot_never_makes_the_run_wait(
    warehouse_with_reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.orchestration.flow import bulletin_etl

    inbox, wh, holder = warehouse_with_reader
    db = wh / "bulletins.duckdb"
    # No wait at all: before snapshots the reader held the file the run writes, and the
    # run failed with WarehouseLocked after this long.
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "0")
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert summary.files_loaded == 1
    assert _sample_week_rows(db)[0][0] > 0  # a new connection sees the new snapshot
    # The reader still has the snapshot it opened: replaced under it, not written into.
    assert _held_snapshots(holder.process.pid, db) == [f"{db} (deleted)"]
    holder.stop()  # its last reader gone, the kernel frees the old snapshot
    assert [p.name for p in wh.iterdir() if p.name.startswith(("bulletins.duckdb", ".bulletins.duckdb"))] == [
        "bulletins.duckdb"
    ]


@pytest.mark.slow  # end to end; fast: test_write_connect_held_past_the_bound_fails_naming_the_cause
def test_a_process_holding_the_writer_file_fails_the_run_by_name_and_a_later_run_loads_the_files(
    warehouse_with_reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only someone who opens the run's own file on purpose can make it wait; then the bound holds."""
    from flows.orchestration.flow import bulletin_etl

    inbox, wh, holder = warehouse_with_reader
    holder.stop()
    (wh.parent / "writer-holder").mkdir()
    writer_holder = Reader(wh / ".writer" / "bulletins.duckdb", wh.parent / "writer-holder")
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "1")
    try:
        with pytest.raises(WarehouseLocked, match=rf"is locked by another process: PID {writer_holder.process.pid} "):
            bulletin_etl(inbox=str(inbox), warehouse=str(wh))
        assert _sample_week_rows(wh / "bulletins.duckdb")[0][0] == 0  # the last snapshot stands
    finally:
        writer_holder.stop()
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert summary.files_loaded == 1
    assert _sample_week_rows(wh / "bulletins.duckdb")[0][0] > 0


@pytest.mark.scenario
def test_second_run_is_skipped_and_shows_as_skipped_in_prefect(
    prefect_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType

    from flows.orchestration.flow import bulletin_etl
    from flows.settings import Settings

    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE_PAGE.read_bytes())
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "0.5")
    with run_lock(Settings.resolve(inbox, wh).run_lock_path, wait_s=0):  # a run going on
        state = bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True)
    assert not (wh / "bulletins.duckdb").exists()  # nothing written
    assert not (wh / ".writer").exists()

    # Read back from the API: not Completed, but a named Skipped (Cancelled) state, saying why.
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    assert flow_run.state is not None
    assert (flow_run.state.type, flow_run.state.name) == (StateType.CANCELLED, "Skipped")
    assert flow_run.state.message is not None
    assert flow_run.state.message.startswith("run skipped: another bulletin-etl run holds ")
    assert str(Settings.resolve(inbox, wh).run_lock_path) in flow_run.state.message

    assert bulletin_etl(inbox=str(inbox), warehouse=str(wh)).files_loaded == 1


def test_a_second_serve_on_one_prefect_home_stops_at_once_naming_the_holder(tmp_path: Path) -> None:
    from flows.orchestration.processes import AlreadyRunning, single_instance

    lock = tmp_path / "prefect" / "serve.lock"
    with single_instance(lock, "a Prefect server on prefect.db"):
        with pytest.raises(AlreadyRunning) as raised, single_instance(lock, "a Prefect server on prefect.db"):
            pass
        assert str(raised.value).startswith(
            f"a Prefect server on prefect.db is already running (pid={os.getpid()} started="
        )
        assert str(raised.value).endswith(f"; lock {lock})")
    with single_instance(lock, "a Prefect server on prefect.db"):  # released: taken again
        assert lock.read_text(encoding="utf-8").startswith(f"pid={os.getpid()} ")
    assert lock.read_text(encoding="utf-8") == ""
