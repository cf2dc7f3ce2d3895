"""Parsing on Dask (issue 19, part 3): an existing cluster, a worker killed mid-task, an
unreachable scheduler, and `serve`'s warm local cluster.

The cluster tests start real processes: `dask scheduler` and two `dask worker`s on
127.0.0.1 (no nanny: the pid we hold is the worker itself), torn down by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cluster_processes import (
    DaskCluster,
    alive,
    dask_cluster,
    executing,
    free_port,
    wait_for,
    wait_for_dask_workers,
    worker_address,
    worker_tasks,
)
from pipeline_helpers import ingest_counts, make_inbox, snapshot

from flows.devtools.corpus import write_corpus
from flows.orchestration.dask_cluster import DaskUnreachable, dask_runner, serve_parse_workers
from flows.settings import DASK_ADDRESS_ENV, PROJECT_DIR, Settings
from flows.warehouse import lake, lake_audit, plans
from flows.warehouse.inbox import batches, known_files, plan_run
from flows.warehouse.ingest import process_batch
from flows.warehouse.schema import LAKE_TABLES

BULLETINS = Path(sys.executable).with_name("bulletins")


def worker_env() -> dict[str, str]:
    # The workers import this worktree's `flows`, whatever is installed.
    return {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A scheduler and two single-thread workers on 127.0.0.1, started for the test and ended by pid."""
    with dask_cluster(tmp_path / "dask-logs") as found:
        wait_for_dask_workers(found)
        yield found


def run_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """A `bulletins run`'s environment: its own Prefect home and temporary server, `env` on top."""
    full = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    full["BULLETINS_INLINE_PARSE_MAX_BYTES"] = "0"  # every file to the runner under test, however few
    full.pop("PREFECT_API_URL", None)
    full.pop(DASK_ADDRESS_ENV, None)
    full.update(env or {})
    return full


def bulletins_run(
    inbox: Path, wh: Path, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BULLETINS), "run", "--inbox", str(inbox), "--warehouse", str(wh), "--timings"],
        env=run_env(home, env),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_DIR,
    )


@pytest.fixture(scope="module")
def corpus_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled inbox and eight weeks of generated pages (448 files, about 3 MB)."""
    inbox = make_inbox(tmp_path_factory.mktemp("dask") / "inbox")
    write_corpus(inbox / "archive", start=date(2020, 3, 2), days=56, pages_per_day=8, seed=5)
    return inbox


@pytest.fixture(scope="module")
def local_run(corpus_inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same inbox run on this machine alone (no Dask): the reference warehouse's file."""
    root = tmp_path_factory.mktemp("local")
    result = bulletins_run(corpus_inbox, root / "wh", root / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "wh" / "bulletins.duckdb"


# --------------------------------------------------------------------------- fast


def test_an_unreachable_scheduler_is_one_line_in_chinese() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(DaskUnreachable) as raised, dask_runner(address, connect_timeout_s=1):
        pytest.fail("connected to nothing")
    message = str(raised.value)
    assert message.startswith(f"连不上 Dask 调度器 {address}：1 秒内未连上（")
    assert "本次未解析任何文件" in message and "\n" not in message
    assert time.monotonic() - started < 30


def test_a_scheduler_without_workers_is_one_line_too() -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as empty:
        address = empty.scheduler_address
        with pytest.raises(DaskUnreachable) as raised, dask_runner(address, connect_timeout_s=1):
            pytest.fail("a cluster without workers was taken")
    assert str(raised.value).startswith(f"Dask 调度器 {address} 没有工作进程（1 秒内无一连上）；")


def test_a_batch_s_dask_token_does_not_pickle_its_files() -> None:
    """Dask hashes a task's arguments for its key; a batch's files are not pickled for it
    (thousands of them, before the first task is sent), and no two batches share a key."""
    from dask.base import tokenize

    from flows.orchestration.parse_task import Files

    pickled: list[object] = []

    class File:
        def __reduce__(self) -> tuple[type, tuple[()]]:
            pickled.append(self)
            return (File, ())

    first, second = Files([File()]), Files([File()])  # type: ignore[list-item]
    assert tokenize(first) == tokenize(first)
    assert tokenize(first) != tokenize(second)
    assert pickled == []


def _parts(lake_dir: Path, batch_id: str) -> dict[str, list[dict[str, Any]]]:
    """A batch's rows in each lake table that has it (read through the Delta tables)."""
    rows = {}
    for table in LAKE_TABLES:
        dt = lake.open_table(lake_dir, table)
        if dt is not None and lake.has_batch(dt, batch_id):
            rows[table] = lake.read_batch(lake_dir, table, batch_id).to_pylist()
    return rows


_WRITE_BATCH = """
import pickle, sys
from pathlib import Path
from flows.warehouse.ingest import process_batch
inbox, lake_dir, batch_id, items, seen_at = pickle.loads(Path(sys.argv[1]).read_bytes())
process_batch(inbox, lake_dir, batch_id, items, seen_at)
"""


@pytest.mark.parametrize("killed_at", ["part:0001:bulletin_units", "batch:0001"])
def test_a_batch_written_again_after_a_kill_equals_one_written_once(tmp_path: Path, killed_at: str) -> None:
    """What Dask does with the task of a worker that died: run it again, same batch id, on
    another worker. Killed (SIGKILL) mid-batch or right after its `files` part, the batch
    written again holds exactly the rows of a batch written once; no temporary file is
    left and the lake audit finds nothing wrong."""
    import pickle

    inbox = make_inbox(tmp_path / "inbox")
    plan = plan_run(inbox, known_files([]), 2 * 1024 * 1024, (), datetime.now(UTC))
    (items,) = list(batches(plan.to_parse))
    seen_at = datetime(2026, 1, 5, tzinfo=UTC)
    batch_id = "20260105T000000000000Z-0001"
    once, again = tmp_path / "once", tmp_path / "again"
    process_batch(inbox, once, batch_id, items, seen_at)

    job = tmp_path / "job.pickle"
    job.write_bytes(pickle.dumps((inbox, again, batch_id, items, seen_at)))
    killed = subprocess.run(
        [sys.executable, "-c", _WRITE_BATCH, str(job)],
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR), "BULLETINS_KILL_AT": killed_at},
        start_new_session=True,  # the kill point kills its process group: this one only
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if killed_at.startswith("part:"):  # killed mid-batch: the batch is not complete
        assert "files" not in _parts(again, batch_id)
    process_batch(inbox, again, batch_id, items, seen_at)  # the task again, on "another worker"
    assert _parts(again, batch_id) == _parts(once, batch_id)  # each table holds the batch once
    # Nothing the killed attempt wrote is left over: the lake audit finds nothing wrong.
    assert lake_audit.audit(again, loaded=set(), full=True) == []
    assert _parts(again, batch_id) == _parts(once, batch_id)


# --------------------------------------------------------------------------- real clusters


@pytest.mark.slow
def test_a_run_on_the_cluster_equals_a_local_run(
    cluster: DaskCluster, corpus_inbox: Path, local_run: Path, tmp_path: Path
) -> None:
    with cluster.client() as client:
        # The scheduler was started as docs/several-machines.md says: it has imported what it
        # unpickles (each task holds the flow run's context), before any run sends it one.
        assert client.run_on_scheduler(lambda: "flows.orchestration.flow" in sys.modules)
        assert not any(
            client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values()
        )  # the workers' profiler off, as the docs start them
        before = worker_tasks(client)
        result = bulletins_run(corpus_inbox, tmp_path / "wh", tmp_path / "home", {DASK_ADDRESS_ENV: cluster.address})
        after = worker_tasks(client)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parse_tasks=2" in result.stdout  # one batch per worker thread
    # Both workers ran parse tasks (nothing parsed in the run's own process).
    assert all(after[worker] > before[worker] for worker in before), (before, after)
    db_path = tmp_path / "wh" / "bulletins.duckdb"
    assert snapshot(db_path) == snapshot(local_run)
    assert ingest_counts(db_path) == ingest_counts(local_run)


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_and_doubles_nothing(
    cluster: DaskCluster, corpus_inbox: Path, local_run: Path, tmp_path: Path
) -> None:
    wh = tmp_path / "wh"
    env = run_env(tmp_path / "home", {DASK_ADDRESS_ENV: cluster.address})
    victim = cluster.workers[0]
    with cluster.client() as client:
        victim_address = worker_address(client, victim.pid)  # the worker whose pid we hold

        run = subprocess.Popen(
            [str(BULLETINS), "run", "--inbox", str(corpus_inbox), "--warehouse", str(wh), "--timings"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_DIR,
        )
        try:
            wait_for(lambda: executing(client, victim_address), 300, "a parse task on the worker to kill", every_s=0.1)
            victim.kill()  # kill -9, mid-task
            victim.wait(timeout=20)
            stdout, stderr = run.communicate(timeout=600)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    print(f"the run with a worker killed mid-task ended with exit code {run.returncode}")  # which path, with -s
    if run.returncode != 0:  # the run may fail with the worker: then the next one recovers
        again = bulletins_run(corpus_inbox, wh, tmp_path / "home", {DASK_ADDRESS_ENV: cluster.address})
        assert again.returncode == 0, again.stdout + again.stderr
    else:
        assert "新文件 " in stdout, stdout + stderr
    db_path = wh / "bulletins.duckdb"
    assert snapshot(db_path) == snapshot(local_run)
    assert ingest_counts(db_path) == ingest_counts(local_run)


@pytest.mark.slow
def test_a_day_s_pages_are_parsed_in_the_run_s_own_process_without_asking_the_cluster(
    corpus_inbox: Path, local_run: Path, tmp_path: Path
) -> None:
    """Under BULLETINS_INLINE_PARSE_MAX_BYTES of new content the run parses in its own
    process, as without a cluster: a scheduler that is down does not stop a day's run."""
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    inline = {DASK_ADDRESS_ENV: address, "BULLETINS_INLINE_PARSE_MAX_BYTES": str(16 * 1024 * 1024)}
    result = bulletins_run(corpus_inbox, tmp_path / "wh", tmp_path / "home", inline)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dask" not in result.stdout + result.stderr
    assert "parse_tasks=1" in result.stdout  # one batch, in the run's process
    db_path = tmp_path / "wh" / "bulletins.duckdb"
    assert snapshot(db_path) == snapshot(local_run)
    assert ingest_counts(db_path) == ingest_counts(local_run)


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_the_run_with_one_line_and_the_next_run_recovers(
    corpus_inbox: Path, local_run: Path, tmp_path: Path
) -> None:
    wh, home = tmp_path / "wh", tmp_path / "home"
    address = f"tcp://127.0.0.1:{free_port()}"
    result = bulletins_run(corpus_inbox, wh, home, {DASK_ADDRESS_ENV: address})
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: run failed: 连不上 Dask 调度器 {address}：10 秒内未连上（"), line
    # Nothing parsed, nothing written but the run's plan (in the batch record): no table holds a batch.
    lake_dir = wh / "lake"
    assert {table: lake.batch_ids_in(lake_dir, table) for table in LAKE_TABLES} == {t: set() for t in LAKE_TABLES}
    assert len(plans.read_plans(lake_dir)) == len(list(corpus_inbox.rglob("*.txt")))
    recovered = bulletins_run(corpus_inbox, wh, home)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    db_path = wh / "bulletins.duckdb"
    assert snapshot(db_path) == snapshot(local_run)
    assert ingest_counts(db_path) == ingest_counts(local_run)


def test_a_malformed_address_is_a_settings_error(tmp_path: Path) -> None:
    result = bulletins_run(tmp_path, tmp_path / "wh", tmp_path / "home", {DASK_ADDRESS_ENV: "127.0.0.1:8786"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: BULLETINS_DASK_ADDRESS must be a Dask scheduler's address like tcp://10.0.0.5:8786 "
        "(tcp://host:port), not '127.0.0.1:8786'"
    )


# --------------------------------------------------------------------------- serve's warm cluster


def spawned_children(parent: int) -> dict[int, float]:
    """The processes `parent` spawned with multiprocessing (Dask's workers, not its resource
    tracker): pid -> start time (clock ticks since boot)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            spawned = b"spawn_main" in (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and spawned:
            found[int(entry.name)] = float(fields[19])
    return found


def listening_hosts(pids: list[int]) -> set[str]:
    """The addresses the processes' TCP sockets listen on."""
    import psutil

    return {
        c.laddr.ip
        for pid in pids
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.mark.slow
def test_serve_starts_its_warm_cluster_once_and_both_runs_use_it(
    prefect_harness: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client

    from flows.orchestration.flow import bulletin_etl

    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    monkeypatch.setenv("BULLETINS_PARSE_WORKERS", "2")
    monkeypatch.setenv("BULLETINS_INLINE_PARSE_MAX_BYTES", "0")  # the bundled inbox is a day's few pages
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_DIR))
    inbox, wh = make_inbox(tmp_path / "inbox", []), tmp_path / "wh"
    names = sorted(p.name for p in make_inbox(tmp_path / "all").iterdir())
    before = spawned_children(os.getpid())
    with serve_parse_workers(Settings.resolve(inbox, wh)) as line:
        address = os.environ[DASK_ADDRESS_ENV]  # what the runs serve starts inherit
        assert line == f"解析进程：2 个，常驻预热（本机 Dask 集群 {address}）"
        assert address.startswith("tcp://127.0.0.1:")
        workers = {pid: start for pid, start in spawned_children(os.getpid()).items() if pid not in before}
        # Scheduler (in this process) and workers listen on loopback only: Dask has no authentication.
        assert listening_hosts([os.getpid(), *workers]) == {"127.0.0.1"}
        with Client(address, set_as_default=False) as client:
            assert sorted(client.run(os.getpid).values()) == sorted(workers)  # the cluster's workers: ours
            # No statistical profiler sampling the parse for a dashboard the cluster does not have.
            assert list(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values()) == [
                False,
                False,
            ]
            ran = []
            for half in (names[: len(names) // 2], names[len(names) // 2 :]):
                make_inbox(inbox, half)
                counted = worker_tasks(client)
                summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
                assert summary.files_new == len(half) and summary.parse_tasks == 2
                ran.append(sum(worker_tasks(client).values()) - sum(counted.values()))
                # The same processes, started once: none new, none restarted.
                assert {
                    pid: start for pid, start in spawned_children(os.getpid()).items() if pid not in before
                } == workers
        assert all(n > 0 for n in ran)  # each run's parse tasks ran on the warm workers
    assert DASK_ADDRESS_ENV not in os.environ
    wait_for(lambda: not any(alive(pid) for pid in workers), 30, "the warm workers to end with serve")


@pytest.mark.slow
def test_the_warm_workers_die_when_serve_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "hold.py"
    script.write_text(
        "import time\n"
        "from flows.orchestration.dask_cluster import warm_local_cluster\n"
        "if __name__ == '__main__':\n"
        "    with warm_local_cluster(2):\n"
        "        print('up', flush=True)\n"
        "        time.sleep(600)\n",
        encoding="utf-8",
    )
    holder = subprocess.Popen(
        [sys.executable, str(script)], env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up"

        children = wait_for(lambda: list(spawned_children(holder.pid)), 30, "the warm workers")
        assert len(children) == 2
        holder.kill()  # kill -9: serve gets no chance to stop its cluster
        holder.wait(timeout=20)
        wait_for(lambda: not any(alive(pid) for pid in children), 30, "the workers to end with their parent")
    finally:
        if holder.poll() is None:  # by its pid: SIGKILL, as the test would have
            holder.kill()
            holder.wait(timeout=20)
