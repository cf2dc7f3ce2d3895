"""Runs on Prefect workers across machines (docs/workers.md), with real processes.

PostgreSQL (as an unprivileged user), a Prefect server on it with an auth string,
`bulletins deploy`, and `prefect worker start` processes with homes of their own (as
hosts) sharing the inbox and the warehouse folder. Everything is torn down by PID.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from cluster_processes import (
    AUTH_STRING,
    Worker,
    bulletins_deploy,
    flow_run_pids,
    postgres,
    prefect_server,
    processes_under,
    wait_for,
)
from pipeline_helpers import all_inbox_names, ingest_counts, load_without_prefect, make_inbox, query, snapshot
from prefect_runs import client, finished, logged, pointed_at, run_logs, state_of, task_ended, task_span
from prefect_runs import trigger as trigger_run

from flows.orchestration.publishing import PUBLISH_LIMIT, publish_slot

pytestmark = pytest.mark.slow

POOL = "hosts"
DEPLOYMENT = f"bulletin-etl/{POOL}"
# Secrets present in the environment of `bulletins deploy`: none may reach the server.
SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret-never-stored-91c2",
    "BULLETINS_NOTIFY_URL": "https://oapi.dingtalk.com/robot/send?access_token=dingtalk-token-never-stored-5d1e",
}


@dataclass(frozen=True)
class Cluster:
    api_url: str
    root: Path
    inbox: Path
    warehouse: Path
    deploy_output: str


def deploy(api_url: str, home: Path, *args: str, auth: str | None = AUTH_STRING) -> subprocess.CompletedProcess[str]:
    """Deploy to this module's pool with SECRETS in the environment (none may be stored)."""
    return bulletins_deploy(api_url, home, POOL, *args, auth=auth, env=SECRETS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    inbox, warehouse = root / "shared" / "inbox", root / "shared" / "warehouse"
    inbox.mkdir(parents=True)
    with postgres() as database_url, prefect_server(database_url, root / "server") as api_url:
        done = deploy(api_url, root / "deployer", "--inbox", str(inbox), "--warehouse", str(warehouse))
        assert done.returncode == 0, done.stderr
        yield Cluster(api_url, root, inbox, warehouse, done.stdout)
    assert processes_under(root) == set(), "processes left running"


def trigger(api_url: str) -> UUID:
    return trigger_run(api_url, DEPLOYMENT)


@contextmanager
def workers(cluster: Cluster, **envs: dict[str, str]) -> Iterator[dict[str, Worker]]:
    """One worker per name (as a host), each with its own PREFECT_HOME; stopped by PID after."""
    started = {
        name: Worker(cluster.api_url, POOL, cluster.root / "hosts" / name, {"BULLETINS_LOCK_TIMEOUT_S": "300", **env})
        for name, env in envs.items()
    }
    try:
        for worker in started.values():
            worker.wait_started()
        yield started
    finally:
        for worker in started.values():
            worker.stop()


def test_deploy_registers_a_module_entrypoint_with_nothing_secret_and_updates_in_place(cluster: Cluster) -> None:
    assert f"已注册部署 {DEPLOYMENT}" in cluster.deploy_output
    assert "已创建工作池 hosts" in cluster.deploy_output
    again = deploy(cluster.api_url, cluster.root / "deployer", "--cron", "30 6 * * 1", "--inbox", str(cluster.inbox))
    assert again.returncode == 0, again.stderr
    assert f"已更新部署 {DEPLOYMENT}" in again.stdout and "已创建" not in again.stdout
    with client(cluster.api_url) as c:
        deployments = c.read_deployments()
        pool = c.read_work_pool(POOL)
        limit = c.read_global_concurrency_limit_by_name(PUBLISH_LIMIT)
        schedules = c.read_deployment_schedules(deployments[0].id)
    assert [d.name for d in deployments] == [POOL]  # twice deployed, one deployment
    (deployment,) = deployments
    assert deployment.entrypoint == "flows.orchestration.flow.bulletin_etl"  # a module path: imported, not fetched
    assert not deployment.pull_steps and deployment.path is None and deployment.storage_document_id is None
    assert deployment.job_variables == {}
    assert deployment.parameters == {"inbox": str(cluster.inbox)}  # what the last deploy said
    assert [s.schedule.cron for s in schedules] == ["30 6 * * 1"]  # type: ignore[union-attr]
    assert pool.type == "process" and limit.limit == 1
    stored = deployment.model_dump_json() + pool.model_dump_json() + limit.model_dump_json()
    for secret in [*SECRETS.values(), AUTH_STRING, AUTH_STRING.split(":")[1]]:
        assert secret not in stored
    # Back to what the fixture deployed (the test below runs on it), without a schedule.
    back = deploy(
        cluster.api_url, cluster.root / "deployer", "--inbox", str(cluster.inbox), "--warehouse", str(cluster.warehouse)
    )
    assert back.returncode == 0, back.stderr
    with client(cluster.api_url) as c:
        deployment = c.read_deployment_by_name(DEPLOYMENT)
        assert c.read_deployment_schedules(deployment.id) == []
    assert deployment.parameters == {"inbox": str(cluster.inbox), "warehouse": str(cluster.warehouse)}


def test_a_client_with_the_wrong_auth_string_is_refused_in_one_line(cluster: Cluster) -> None:
    refused = deploy(cluster.api_url, cluster.root / "intruder", auth="bulletins-admin:wrong")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: the Prefect server at {cluster.api_url.removesuffix('/api')} refused the credentials "
        "(401 Unauthorized): set PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING"
    ]
    anonymous = deploy(cluster.api_url, cluster.root / "intruder", auth=None)
    assert anonymous.returncode == 1 and "401 Unauthorized" in anonymous.stderr


def test_two_hosts_ingest_publish_survive_a_killed_worker_and_equal_one_machine(cluster: Cluster) -> None:
    names = all_inbox_names()
    make_inbox(cluster.inbox, names[:3])
    db_path = cluster.warehouse / "bulletins.duckdb"

    # 1. A host that does not own the DuckDB file ingests only: batches in the lake, no DuckDB file.
    with workers(cluster, ingester={"BULLETINS_PUBLISH": "0"}):
        first = trigger(cluster.api_url)
        assert finished(cluster.api_url, first) == "COMPLETED", run_logs(cluster.api_url, first)
        logged(cluster.api_url, first)
    assert not db_path.exists() and not (cluster.warehouse / ".writer").exists()
    lake_batches = sorted(p.stem for p in (cluster.warehouse / "lake" / "files").glob("*.parquet"))
    assert lake_batches, "the ingest-only run wrote no lake batch"
    assert any("仅采集（BULLETINS_PUBLISH=0）" in line for line in run_logs(cluster.api_url, first))

    # 2a. The owner's run is killed (-9, its process group) inside the load: nothing committed.
    make_inbox(cluster.inbox, names[3:])
    with workers(cluster, owner={"BULLETINS_KILL_AT": "loaded"}):
        second = trigger(cluster.api_url)
        assert finished(cluster.api_url, second) == "CRASHED"  # the worker saw its run killed
    assert not db_path.exists(), "a killed load published"

    # 2b. The owner's worker is killed (-9) while its run waits for the slot (held here, as by
    # another host): the run ends with its worker (processes.flow_run_dies_with_runner).
    with (
        pointed_at(cluster.api_url),
        publish_slot(180, logging.getLogger("test")),  # the killed run's lease runs out first
        workers(cluster, owner2={}) as started,
    ):
        third = trigger(cluster.api_url)
        wait_for(
            lambda: task_ended(cluster.api_url, third, "discover-new-files"),
            120,
            "the run's discover step",
            every_s=1.0,
        )
        run_pids = wait_for(lambda: flow_run_pids(third), 30, "the flow run's process")
        started["owner2"].kill()
        wait_for(lambda: not flow_run_pids(third), 30, "the flow run to end with its worker")
    assert state_of(cluster.api_url, third) != "COMPLETED" and run_pids
    assert not db_path.exists(), "a run whose worker was killed published"

    # 3. Two runs at once on two hosts that both publish: one load at a time, both complete.
    with workers(cluster, left={}, right={}):
        runs = [trigger(cluster.api_url), trigger(cluster.api_url)]
        states = [finished(cluster.api_url, run) for run in runs]
        assert states == ["COMPLETED", "COMPLETED"], [run_logs(cluster.api_url, run) for run in runs]
        for run in runs:
            logged(cluster.api_url, run)
        # Another host holds the slot (here: this test): a run's load waits for it, whatever the run lock says.
        with pointed_at(cluster.api_url), publish_slot(180, logging.getLogger("test")) as waited:
            assert waited is not None
            held = trigger(cluster.api_url)
            wait_for(
                lambda: task_ended(cluster.api_url, held, "discover-new-files"),
                120,
                "the run's discover step",
                every_s=1.0,
            )
            time.sleep(8)
            released_at = time.time()
        assert finished(cluster.api_url, held) == "COMPLETED"
        logged(cluster.api_url, held)
    assert task_span(cluster.api_url, held, "load-and-build")[0] >= released_at - 0.5
    waits = [line for line in run_logs(cluster.api_url, held) if line.startswith(f"holding the {PUBLISH_LIMIT} slot")]
    assert len(waits) == 1 and float(waits[0].split("waited ")[1].split(" s")[0]) >= 6, waits
    first_load, second_load = sorted(task_span(cluster.api_url, run, "load-and-build") for run in runs)
    assert first_load[1] <= second_load[0], "two loads overlapped"
    logs = [line for run in runs for line in run_logs(cluster.api_url, run)]
    assert sum(line.startswith(f"holding the {PUBLISH_LIMIT} slot") for line in logs) == 2
    assert any(line.startswith("recovering ") for line in logs)  # the ingest-only and the killed run's batches
    with client(cluster.api_url) as c:
        assert c.read_global_concurrency_limit_by_name(PUBLISH_LIMIT).active_slots == 0

    # Row for row what one machine makes of the same inbox; no file lost or recorded twice.
    reference = load_without_prefect(cluster.inbox, cluster.root / "one-machine")
    assert snapshot(db_path) == snapshot(reference)
    assert ingest_counts(db_path) == ingest_counts(reference)
    assert query(db_path, "select count(*) from ingest.files")[0][0] == len(names)
