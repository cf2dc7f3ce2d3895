"""Drive flow runs on a Prefect server from a test: trigger a deployment, wait for a run's
state, read its task runs and logs (the server of tests/cluster_processes.py, with its
auth string)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from cluster_processes import AUTH_STRING, wait_for

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@contextmanager
def pointed_at(api_url: str) -> Iterator[None]:
    """This process's Prefect client talks to the cluster's server, with the auth string."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: AUTH_STRING}):
        yield


@contextmanager
def client(api_url: str) -> Iterator[Any]:
    from prefect.client.orchestration import get_client

    with pointed_at(api_url), get_client(sync_client=True) as c:
        yield c


def trigger(
    api_url: str,
    deployment: str,
    parameters: dict[str, Any] | None = None,
    job_variables: dict[str, Any] | None = None,
) -> UUID:
    """A flow run of the deployment (`flow/deployment`), for any worker of its pool to take.

    `job_variables={"env": {...}}` sets variables in that run's environment only (a process
    worker's job variable), over the worker's own.
    """
    with client(api_url) as c:
        found = c.read_deployment_by_name(deployment)
        return c.create_flow_run_from_deployment(found.id, parameters=parameters, job_variables=job_variables).id


def state_of(api_url: str, run_id: UUID) -> str:
    with client(api_url) as c:
        state = c.read_flow_run(run_id).state
        return state.type.value if state else "NONE"


def state_message(api_url: str, run_id: UUID) -> str:
    with client(api_url) as c:
        state = c.read_flow_run(run_id).state
        return (state.message or "") if state else ""


def finished(api_url: str, run_id: UUID, timeout_s: float = 300) -> str:
    """Wait for the run's final state; its type (COMPLETED, FAILED, ...)."""
    return wait_for(
        lambda: (s := state_of(api_url, run_id)) in TERMINAL and s, timeout_s, f"flow run {run_id}", every_s=1.0
    )


def _task_runs(api_url: str, run_id: UUID) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with client(api_url) as c:
        return list(c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))))


def task_span(api_url: str, run_id: UUID, name: str) -> tuple[float, float]:
    """When the flow run's task `name` started and ended (server time, epoch seconds)."""
    (task,) = [t for t in _task_runs(api_url, run_id) if t.name.startswith(name)]
    assert task.start_time is not None and task.end_time is not None
    return task.start_time.timestamp(), task.end_time.timestamp()


def task_ended(api_url: str, run_id: UUID, name: str) -> bool:
    return any(t.name.startswith(name) and t.end_time is not None for t in _task_runs(api_url, run_id))


def _logs(api_url: str, run_id: UUID) -> list[Any]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with client(api_url) as c:
        return list(c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))))


def run_logs(api_url: str, run_id: UUID) -> list[str]:
    return [log.message for log in _logs(api_url, run_id)]


def logged(api_url: str, run_id: UUID) -> None:
    """Wait for the run's last log line: logs reach the server after its final state, sent by
    its process (which stopping its worker would end)."""

    def flow_finished() -> bool:
        # The flow's own line (its tasks log the same words under their task run's id).
        return any(
            log.task_run_id is None and log.message.startswith("Finished in state") for log in _logs(api_url, run_id)
        )

    wait_for(flow_finished, 60, "the flow run's last log line", every_s=1.0)
