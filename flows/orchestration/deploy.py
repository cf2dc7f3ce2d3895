"""`bulletins deploy`: register `bulletin-etl` for Prefect workers on other machines.

Against the Prefect server PREFECT_API_URL names (with PREFECT_API_AUTH_STRING when the
server has one), `deploy`:

- creates the work pool, of type `process`, when it is missing (`prefect worker start
  --pool NAME` on each host then runs the flow in a process of its own);
- creates the global concurrency limit `bulletins-publish` with one slot, when missing
  (`publishing.publish_slot`: one publisher across hosts);
- registers (or updates: the same name on the same flow) the deployment
  `bulletin-etl/<pool>` from the installed package: a module entrypoint, no storage, no
  pull steps, no job variables. Each worker imports `flows.orchestration.flow` from the
  package installed on its host; its settings (BULLETINS_*, credentials) come from the
  worker's environment, never from the deployment, which holds only the schedule and
  the inbox and warehouse paths when given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from flows.orchestration.publishing import PUBLISH_LIMIT
from flows.orchestration.serve import ui_url
from flows.settings import SCHEDULE_TIMEZONE, inbox_location

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

POOL_TYPE = "process"
FLOW_NAME = "bulletin-etl"


class DeployError(RuntimeError):
    """No server to deploy to, or one that refused us: the message says what to do."""


class NoApiConfigured(DeployError):
    """PREFECT_API_URL is unset: a settings error (exit 2)."""


@dataclass(frozen=True)
class Deployed:
    """What `deploy` did, for its one line per change."""

    deployment_id: UUID
    full_name: str  # bulletin-etl/<pool>
    pool: str
    pool_created: bool
    limit_created: bool
    updated: bool  # the deployment existed: updated in place
    api_url: str


def deployment_parameters(inbox: str | Path | None, warehouse: Path | None) -> dict[str, str]:
    """The flow's parameters: the paths given, made absolute (an s3:// inbox as its URL); none given, none stored.

    A path left out is read on each host from BULLETINS_INBOX / BULLETINS_WAREHOUSE at run
    time (hosts may mount the shared folders at different paths). A worker runs flows in
    a folder of its own: a relative path would point nowhere.

    >>> deployment_parameters(Path("/srv/inbox"), None)
    {'inbox': '/srv/inbox'}
    >>> deployment_parameters("s3://bulletins/feed/", None)
    {'inbox': 's3://bulletins/feed'}
    """
    found: dict[str, str] = {}
    if inbox is not None:
        where = inbox_location(inbox)
        found["inbox"] = str(where.resolve() if isinstance(where, Path) else where)
    if warehouse is not None:
        found["warehouse"] = str(Path(warehouse).resolve())
    return found


def deploy(
    pool: str,
    *,
    inbox: str | Path | None = None,
    warehouse: Path | None = None,
    cron: str | None = None,
    timezone: str = SCHEDULE_TIMEZONE,
    interval_s: float | None = None,
) -> Deployed:
    """Create the pool and the publish limit if missing; create or update `bulletin-etl/<pool>`.

    No schedule given: runs only when triggered (`prefect deployment run bulletin-etl/<pool>`).
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

    from flows.orchestration.flow import bulletin_etl
    from flows.orchestration.prefect_local import configured_api_url

    api_url = configured_api_url()
    if not api_url:
        raise NoApiConfigured(
            "PREFECT_API_URL is not set: deploy registers the flow on a running Prefect server, "
            "e.g. export PREFECT_API_URL=http://HOST:4200/api (and PREFECT_API_AUTH_STRING if it has one)"
        )
    full_name = f"{FLOW_NAME}/{pool}"
    with _talking_to(api_url), get_client(sync_client=True) as client:
        pool_created = _ensure_pool(client, pool)
        limit_created = _ensure_publish_limit(client)
        updated = _deployment_exists(client, full_name)
        schedule = Interval(interval_s) if interval_s is not None else Cron(cron, timezone=timezone) if cron else None
        deployment = bulletin_etl.to_deployment(
            name=pool,
            schedule=schedule,
            parameters=deployment_parameters(inbox, warehouse),
            description=(
                f"{FLOW_NAME} on the workers of pool {pool!r}: the flow imported from the package installed "
                "on each host; settings from the worker's environment (docs/workers.md)"
            ),
            # `flows.orchestration.flow.bulletin_etl`: imported, never downloaded (no storage, no pull steps).
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        # Called outside an event loop, `to_deployment` returns the deployment and `apply` its id.
        assert isinstance(deployment, RunnerDeployment)
        deployment_id = deployment.apply(work_pool_name=pool)
        assert isinstance(deployment_id, UUID)
        if schedule is None:  # the schedule is what the last deploy said: none now
            for kept in client.read_deployment_schedules(deployment_id):
                client.delete_deployment_schedule(deployment_id, kept.id)
    return Deployed(deployment_id, full_name, pool, pool_created, limit_created, updated, api_url)


def _ensure_pool(client: SyncPrefectClient, pool: str) -> bool:
    """Create the process work pool `pool` unless it exists; whether it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        existing = client.read_work_pool(pool)
    except ObjectNotFound:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type=POOL_TYPE))
        except ObjectAlreadyExists:  # another deploy made it meanwhile
            return False
        return True
    if existing.type != POOL_TYPE:
        raise DeployError(
            f"work pool {pool!r} is of type {existing.type!r}, not {POOL_TYPE!r}: "
            "give another --pool (bulletins deploy makes a process pool)"
        )
    return False


def _ensure_publish_limit(client: SyncPrefectClient) -> bool:
    """Create `bulletins-publish` with one slot unless it exists (left as it is if it does)."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        client.read_global_concurrency_limit_by_name(PUBLISH_LIMIT)
    except ObjectNotFound:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=PUBLISH_LIMIT, limit=1))
        except ObjectAlreadyExists:
            return False
        return True
    return False


def _deployment_exists(client: SyncPrefectClient, full_name: str) -> bool:
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_deployment_by_name(full_name)
    except ObjectNotFound:
        return False
    return True


@contextmanager
def _talking_to(api_url: str) -> Iterator[None]:
    """Turn the client's failures into one DeployError line naming the server (never the auth string)."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        yield
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code != 401:
            raise
        raise DeployError(
            f"the Prefect server at {ui_url(api_url)} refused the credentials (401 Unauthorized): set "
            "PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING"
        ) from None
    except httpx.TransportError as exc:
        raise DeployError(
            f"no Prefect server answers at {api_url} ({type(exc).__name__}): start it, or fix PREFECT_API_URL"
        ) from None
