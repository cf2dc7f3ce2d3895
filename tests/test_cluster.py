"""A cluster on one machine (issue 19, part 5), real processes only: SeaweedFS (the S3 inbox),
PostgreSQL, a Prefect server on it, two Prefect workers with homes of their own (two
hosts), a Dask scheduler and two Dask workers.

The bundled inbox and two years of generated pages go into the S3 inbox; the runs are
triggered on the deployment, taken by the Prefect workers, and parse on the Dask
cluster. The marts (and `core`, and `ingest.files` counted) equal what one machine makes
of the same files, row for row, and so does the marts' Delta copy in the lake; with a
Dask worker and a Prefect worker killed (-9) mid-backfill, the next run recovers with
nothing lost or doubled. A wrong S3 key, a missing bucket and an unreachable scheduler
each end their run with one line. Every process is ended by its PID, and none is left.

What each test proves, and the single-purpose tests beside it: docs/several-machines.md.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import UUID

import psutil
import pytest
from cluster_processes import (
    AUTH_STRING,
    DaskCluster,
    Worker,
    alive,
    bulletins_deploy,
    dask_cluster,
    executing,
    flow_run_pids,
    free_port,
    idle,
    postgres,
    prefect_server,
    stop_groups,
    wait_for,
    wait_for_dask_workers,
    worker_address,
    worker_tasks,
)
from pipeline_helpers import ingest_counts, load_without_prefect, marts_copy, snapshot
from prefect_runs import client, finished, logged, run_logs, state_message, state_of, trigger
from servers.seaweedfs import BUCKET, WRITER, SeaweedS3

from flows.devtools.corpus import write_corpus
from flows.settings import DASK_ADDRESS_ENV, PROJECT_DIR, S3Location
from flows.warehouse import build

pytestmark = pytest.mark.slow

POOL = "cluster"
DEPLOYMENT = f"bulletin-etl/{POOL}"
BUNDLED_INBOX = PROJECT_DIR / "warehouse" / "inbox"
# Two years of the generated daily, a year at a time (a page is a pure function of its
# day: the halves make the same pages as one run of two years). Two pages a day: every
# weekly bulletin (page 2 of each Wednesday, 104 of them, corrected reprints included),
# a quarter of the pages a day of `make bench`'s corpus (1,460 pages, 9.5 MB): the module
# stays within about three minutes on a loaded 2-core machine.
CORPUS_START = date(2019, 1, 7)
YEAR_DAYS = 364
PAGES_PER_DAY = 2
SEED = 19


def lake_of(warehouse: Path) -> str:
    """The lake both hosts and the Dask workers share, in S3 beside the inbox: the hosts and
    the Dask workers get it as BULLETINS_LAKE, with the writer key; the marts' copy is read
    from it with that key. (A run of the error test names a local lake of its own.)"""
    return f"s3://{BUCKET}/cluster-lake-{warehouse.name}"


@dataclass(frozen=True)
class Facts:
    """What a warehouse holds, for "equal to one machine": every row of core and marts,
    `ingest.files` counted by status, and the marts' Delta copy in the lake."""

    rows: dict[str, list[tuple[Any, ...]]]
    files: list[tuple[Any, ...]]
    marts_copy: dict[str, list[dict[str, Any]]]


def facts(db_path: Path, lake: str, s3: SeaweedS3 | None = None) -> Facts:
    with patch.dict(os.environ, s3.env(WRITER) if s3 is not None else {}):  # an s3:// lake is read with the key
        return Facts(snapshot(db_path), ingest_counts(db_path), marts_copy(lake))


@dataclass
class Cluster:
    api_url: str
    root: Path
    s3: SeaweedS3
    inbox: S3Location
    pages: dict[str, Path]  # the local copies of what is uploaded, by step
    warehouse: Path
    lake: str
    dask: DaskCluster
    hosts: dict[str, Worker]
    reference: dict[str, Facts]  # one machine's warehouse after each step
    runs: list[UUID] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.warehouse / "bulletins.duckdb"

    def trigger(self, parameters: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> UUID:
        run = trigger(self.api_url, DEPLOYMENT, parameters, {"env": env} if env else None)
        self.runs.append(run)
        return run

    def upload(self, step: str) -> None:
        """The step's pages to the same relative keys under the inbox (with the writer key)."""
        s3, folder = self.s3.filesystem(WRITER), self.pages[step]

        def put(path: Path) -> None:
            with s3.open_output_stream((self.inbox / path.relative_to(folder).as_posix()).path) as fh:
                fh.write(path.read_bytes())

        with ThreadPoolExecutor(max_workers=8) as puts:  # a request each: several at once
            list(puts.map(put, sorted(p for p in folder.rglob("*") if p.is_file())))

    def host_running(self, run: UUID) -> Worker:
        """The worker (host) whose child runs the flow run."""
        parents = {psutil.Process(pid).ppid() for pid in flow_run_pids(run) if psutil.pid_exists(pid)}
        (host,) = [worker for worker in self.hosts.values() if worker.pid in parents]
        return host


def write_pages(root: Path) -> dict[str, Path]:
    """The step folders: the bundled inbox and the first year; the second year."""
    first, second = root / "year 1", root / "year 2"
    shutil.copytree(BUNDLED_INBOX, first, ignore=shutil.ignore_patterns(".*", "README*"))
    write_corpus(first / "archive", start=CORPUS_START, days=YEAR_DAYS, pages_per_day=PAGES_PER_DAY, seed=SEED)
    second_start = CORPUS_START + timedelta(days=YEAR_DAYS)
    write_corpus(second / "archive", start=second_start, days=YEAR_DAYS, pages_per_day=PAGES_PER_DAY, seed=SEED)
    return {"year 1": first, "year 2": second}


def one_machine(pages: dict[str, Path], root: Path) -> dict[str, Facts]:
    """The reference: the same pages from a local folder, a step at a time, in this process
    (the flow's pure steps: no Prefect, no Dask, no S3)."""
    inbox, wh = root / "inbox", root / "wh"
    found = {}
    for step, folder in pages.items():
        shutil.copytree(folder, inbox, dirs_exist_ok=True)
        db_path = load_without_prefect(inbox, wh)
        assert build.refresh_marts_copy(db_path, wh / "lake") is None
        found[step] = facts(db_path, str(wh / "lake"))
    return found


def deploy(api_url: str, home: Path, *args: str) -> None:
    done = bulletins_deploy(api_url, home, POOL, *args)
    assert done.returncode == 0, done.stdout + done.stderr


def create_pool(api_url: str) -> None:
    """The deployment's work pool, of type process (as `bulletins deploy` makes it)."""
    from prefect.client.schemas.actions import WorkPoolCreate

    from flows.orchestration.deploy import POOL_TYPE

    with client(api_url) as c:
        c.create_work_pool(WorkPoolCreate(name=POOL, type=POOL_TYPE))


def descendants() -> dict[int, float]:
    """This process's descendants now: pid -> start time (a pid reused later is another process)."""
    found = {}
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            found[child.pid] = child.create_time()
    return found


def still_running(seen: dict[int, float]) -> list[int]:
    left = []
    for pid, started in seen.items():
        try:
            if alive(pid) and psutil.Process(pid).create_time() == started:
                left.append(pid)
        except psutil.NoSuchProcess:
            pass
    return left


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Every process of the cluster, started in parallel where they do not wait on each other."""
    root = tmp_path_factory.mktemp("cluster")
    before = descendants()
    seen: dict[int, float] = {}
    pages = write_pages(root / "pages")
    warehouse = root / "shared" / "warehouse"
    inbox = S3Location(BUCKET, f"cluster-{time.time_ns()}/inbox")
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=4) as pool:
        # PostgreSQL (initdb, start) and the reference run, while SeaweedFS starts here.
        database = pool.submit(lambda: stack.enter_context(postgres()))
        reference = pool.submit(one_machine, pages, root / "one-machine")
        s3: SeaweedS3 = request.getfixturevalue("seaweedfs")  # the session's server
        dask = stack.enter_context(dask_cluster(root / "dask", env=s3.env(WRITER)))
        found = Cluster("", root, s3, inbox, pages, warehouse, lake_of(warehouse), dask, {}, {})
        uploaded = pool.submit(found.upload, "year 1")
        # The Prefect server ends with the thread that started it (processes.dies_with_parent): this one.
        found.api_url = stack.enter_context(prefect_server(database.result(), root / "server"))
        # The pool first (what deploy would make), so that the hosts start while deploy runs.
        create_pool(found.api_url)
        deployed = pool.submit(
            deploy, found.api_url, root / "deployer", "--inbox", str(inbox), "--warehouse", str(warehouse)
        )
        host_env = {
            **s3.env(WRITER),  # the inbox needs only a read-only key (tests/test_s3_inbox.py); an S3 lake, the writer's
            DASK_ADDRESS_ENV: dask.address,
            "BULLETINS_INLINE_PARSE_MAX_BYTES": "0",  # every run's files to the cluster, however few
            "BULLETINS_LAKE": found.lake,
            "BULLETINS_LOCK_TIMEOUT_S": "300",
            "PYTHONPATH": str(PROJECT_DIR),
        }
        # Two runs at once per host: the failing runs of the errors test start together.
        stack.callback(lambda: stop_groups([host.process for host in found.hosts.values()]))
        for name in ("host-a", "host-b"):
            found.hosts[name] = Worker(found.api_url, POOL, root / "hosts" / name, host_env, limit=2)
        wait_for_dask_workers(dask)
        for host in found.hosts.values():
            host.wait_started()
        uploaded.result()
        deployed.result()
        found.reference = reference.result()
        seen.update(descendants())
        try:
            yield found
        finally:
            seen.update(descendants())
    # Everything stopped by PID: no process this module started is left, nor any flow run
    # (a group killed last, with SIGKILL, may take a moment to be gone).
    ours = {pid: started for pid, started in seen.items() if pid not in before and not _seaweed(pid, s3)}
    with suppress(AssertionError):
        wait_for(lambda: not still_running(ours), 15, "the processes to end")
    assert {pid: _cmdline(pid) for pid in still_running(ours)} == {}
    assert [run for run in found.runs if flow_run_pids(run)] == []


def _cmdline(pid: int) -> str:
    with suppress(psutil.Error):
        return " ".join(psutil.Process(pid).cmdline())[:200]
    return "?"


def _seaweed(pid: int, s3: SeaweedS3) -> bool:
    """A process of the session's S3 server (stopped at the session's end, by its group id)."""
    try:
        return s3.proc is not None and os.getpgid(pid) == s3.proc.pid
    except ProcessLookupError:
        return False


def assert_as_one_machine(cluster: Cluster, step: str) -> None:
    found, expected = facts(cluster.db_path, cluster.lake, cluster.s3), cluster.reference[step]
    assert found.files == expected.files  # nothing lost, nothing recorded twice
    assert found.rows == expected.rows  # core and marts, row for row
    assert found.marts_copy == expected.marts_copy  # the marts' Delta copy in the lake


def test_a_backfill_on_prefect_workers_and_dask_equals_one_machine(cluster: Cluster) -> None:
    with cluster.dask.client() as dask:
        before = worker_tasks(dask)
        run = cluster.trigger()
        assert finished(cluster.api_url, run) == "COMPLETED", run_logs(cluster.api_url, run)
        after = worker_tasks(dask)
    assert all(after[worker] > before[worker] for worker in before), (before, after)  # both Dask workers parsed
    logged(cluster.api_url, run)
    assert f"parsing on the Dask cluster {cluster.dask.address} (2 worker thread(s))" in run_logs(cluster.api_url, run)
    assert_as_one_machine(cluster, "year 1")


def _own_lake(parameters: dict[str, str]) -> dict[str, str]:
    """A flow run's parameters with a lake of its warehouse's own (not the hosts' shared one)."""
    return {**parameters, "lake": str(Path(parameters["warehouse"]) / "lake")}


def test_a_wrong_key_a_missing_bucket_and_an_unreachable_scheduler_end_their_run_in_one_line(
    cluster: Cluster,
) -> None:
    """What tests/test_s3_inbox.py and tests/test_dask.py check at the CLI, in a run a worker took."""
    small = S3Location(BUCKET, f"{cluster.inbox.prefix}-one-page")
    page = next(p for p in sorted(cluster.pages["year 1"].iterdir()) if p.is_file())
    with cluster.s3.filesystem(WRITER).open_output_stream((small / page.name).path) as fh:
        fh.write(page.read_bytes())
    wrong_secret = "not-the-secret-9876543210"
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    runs = {
        "S3 拒绝了访问密钥（AWS_ACCESS_KEY_ID …": cluster.trigger(
            _own_lake({"warehouse": str(cluster.root / "wrong-key")}), {"AWS_SECRET_ACCESS_KEY": wrong_secret}
        ),
        "S3 桶 no-such-bucket 不存在（http://127.0.0.1:": cluster.trigger(
            _own_lake({"inbox": "s3://no-such-bucket/feed", "warehouse": str(cluster.root / "no-bucket")})
        ),
        f"连不上 Dask 调度器 {nowhere}：10 秒内未连上（": cluster.trigger(
            _own_lake({"inbox": str(small), "warehouse": str(cluster.root / "no-scheduler")}),
            {DASK_ADDRESS_ENV: nowhere},
        ),
    }
    for line, run in runs.items():
        assert finished(cluster.api_url, run) == "FAILED", run_logs(cluster.api_url, run)
        message = state_message(cluster.api_url, run)
        assert line in message and "\n" not in message, message
        assert wrong_secret not in message and WRITER.secret_key not in message and AUTH_STRING not in message


def test_a_dask_worker_and_a_prefect_worker_killed_mid_backfill_lose_and_double_nothing(cluster: Cluster) -> None:
    cluster.upload("year 2")
    victim = cluster.dask.workers[0]
    with cluster.dask.client() as dask:
        victim_address = worker_address(dask, victim.pid)
        run = cluster.trigger()
        wait_for(lambda: executing(dask, victim_address), 300, "a parse task on the Dask worker to kill", every_s=0.1)
        victim.kill()  # kill -9, mid-task: the scheduler gives its batch to the other worker
        victim.wait(timeout=20)
        host = cluster.host_running(run)
        host.kill()  # kill -9 of the host's Prefect worker: its flow run ends with it (processes.py)
        wait_for(lambda: not flow_run_pids(run), 30, "the flow run to end with its worker")
        # The killed run's task still running on the other worker finishes its batch first.
        wait_for(lambda: idle(dask), 300, "the Dask workers to finish what the killed run left")
    assert state_of(cluster.api_url, run) != "COMPLETED"
    # The next run, on the other host, with one Dask worker left: the batches complete in the
    # lake are loaded as recovered, the rest parsed again.
    survivor = next(worker for worker in cluster.hosts.values() if worker is not host)
    again = cluster.trigger()
    assert finished(cluster.api_url, again) == "COMPLETED", run_logs(cluster.api_url, again)
    assert survivor.process.poll() is None
    logged(cluster.api_url, again)
    # The batch the other Dask worker finished for the killed run is loaded, not parsed again.
    assert any(line.startswith("recovering 1 lake batch(es)") for line in run_logs(cluster.api_url, again))
    assert_as_one_machine(cluster, "year 2")
