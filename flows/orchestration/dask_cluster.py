"""Parse tasks on Dask: an existing cluster (BULLETINS_DASK_ADDRESS), or `serve`'s warm local one.

A Dask worker runs `parse_batch` as the process pool's workers do: it reads the pages
from the inbox and writes the batch's lake parts by path, so every worker must see the
same inbox and lake folders (docs/several-machines.md). Dask reschedules the task of a
worker that dies on another one; `process_batch` writing the batch again under the same
id is safe (each part is renamed into place whole, `files` last; tests/test_dask.py).

`serve` keeps a local cluster for its whole life (`warm_local_cluster`): its workers
import the parser once, at start, and every scheduled run sends its parse tasks there,
instead of spawning a pool whose workers each spend seconds importing Prefect.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flows.settings import DASK_ADDRESS_ENV, Settings

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

# How long a run tries to reach the scheduler before it fails (nothing parsed yet).
CONNECT_TIMEOUT_S = 10.0
# What a warm worker imports at start (a Dask preload): the parse task and Prefect's task engine.
WARM_MODULE = "flows.orchestration.dask_worker"
# A Dask worker samples its task thread's stack every 10 ms for the dashboard's profile.
# The warm cluster has no dashboard, and its 10-year parse stage measured some 5% faster
# without the sampler (four interleaved pairs: 7.23 against 7.65 s on average). The
# workers' Nanny hands the setting on to each worker process (a restarted one too).
PROFILER_SETTING = "distributed.worker.profile.enabled"


class DaskUnreachable(RuntimeError):
    """The Dask scheduler named by BULLETINS_DASK_ADDRESS does not answer, or has no workers."""


@contextmanager
def dask_runner(address: str, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[DaskTaskRunner]:
    """prefect-dask's task runner on the scheduler at `address`, connected before it is yielded.

    A scheduler that does not answer within `connect_timeout_s`, or has no worker by then,
    raises DaskUnreachable (one line, in Chinese) before a task is submitted: nothing is
    parsed, nothing written.
    """
    from prefect_dask import DaskTaskRunner

    runner = DaskTaskRunner(address=address, client_kwargs={"timeout": connect_timeout_s})
    with runner:
        try:
            _ = runner.client  # the client connects on first use: here, not on the first submit
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DaskUnreachable(
                f"连不上 Dask 调度器 {address}：{connect_timeout_s:g} 秒内未连上（{reason}）；"
                "请检查 BULLETINS_DASK_ADDRESS、调度器是否在运行、端口是否可达；本次未解析任何文件"
            ) from None
        try:
            # A scheduler without workers would hold the tasks until the run's deadline.
            runner.client.wait_for_workers(1, timeout=connect_timeout_s)
        except TimeoutError:
            raise DaskUnreachable(
                f"Dask 调度器 {address} 没有工作进程（{connect_timeout_s:g} 秒内无一连上）；"
                "请在各解析主机上启动 dask worker（docs/several-machines.md）；本次未解析任何文件"
            ) from None
        yield runner


def worker_slots(runner: DaskTaskRunner) -> int:
    """How many tasks the cluster runs at once (its workers' threads; at least 1)."""
    workers = runner.client.scheduler_info(n_workers=-1).get("workers", {})
    return max(sum(int(w.get("nthreads", 1)) for w in workers.values()), 1)


@contextmanager
def warm_local_cluster(workers: int) -> Iterator[str]:
    """A local Dask cluster for as long as the block runs; yields its scheduler's address.

    `workers` processes of one thread each, scheduler and workers on 127.0.0.1 only
    (Dask has no authentication, docs/several-machines.md), no dashboard and no worker
    profiler (`PROFILER_SETTING`). Each worker imports the parse modules at start
    (`WARM_MODULE`, a preload). The workers are children of this process and end
    with it, even on `kill -9`: Dask's worker process exits when its parent's pipe closes
    (distributed.process.AsyncProcess; tests/test_dask.py kills the parent to show it).
    """
    import dask
    from distributed import LocalCluster

    # The scheduler (in this process) unpickles every task it is sent, so it imports the
    # task's modules too: here, once, not in the first run (about 1 s, measured).
    importlib.import_module(WARM_MODULE)
    with (
        dask.config.set({PROFILER_SETTING: False}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
            # The scheduler serves HTTP (health, metrics) even without a dashboard, by default on
            # 8787 of every interface: a free port on loopback instead.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            preload=[WARM_MODULE],
            silence_logs=logging.ERROR,
        ) as cluster,
    ):
        yield cluster.scheduler_address


@contextmanager
def serve_parse_workers(settings: Settings) -> Iterator[str]:
    """`serve`'s parse workers for its whole life; yields the console line that says where they are.

    With BULLETINS_DASK_ADDRESS set, the scheduled runs use that cluster (nothing started
    here). Otherwise a warm local cluster of `settings.parse_workers` workers is started,
    and its address is set as BULLETINS_DASK_ADDRESS in this process's environment, which
    the runs `serve` starts inherit; both end with the block.
    """
    if settings.dask_address is not None:
        yield f"解析任务发往 Dask 集群 {settings.dask_address}（BULLETINS_DASK_ADDRESS）"
        return
    with warm_local_cluster(settings.parse_workers) as address:
        os.environ[DASK_ADDRESS_ENV] = address
        try:
            yield f"解析进程：{settings.parse_workers} 个，常驻预热（本机 Dask 集群 {address}）"
        finally:
            os.environ.pop(DASK_ADDRESS_ENV, None)
