"""`bulletins deploy`: bulletin-etl registered on a Prefect server for workers on any host
(`prefect worker start --pool NAME`), with the one-slot publish limit (docs/workers.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import app
from flows.cli.errors import error_line
from flows.cli.serve_command import check_schedule_options
from flows.settings import SCHEDULE_CRON, SCHEDULE_TIMEZONE


@app.command("deploy")
def deploy_command(
    pool: Annotated[str, typer.Option(help="Work pool the workers poll (created, type process, if missing)")],
    cron: Annotated[
        str | None, typer.Option(help=f"Cron schedule, e.g. {SCHEDULE_CRON!r} (none: runs when triggered)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Timezone of the cron schedule")] = SCHEDULE_TIMEZONE,
    interval: Annotated[float | None, typer.Option(help="Run every N seconds instead of a cron")] = None,
    inbox: Annotated[
        # str, not Path: an s3://bucket/prefix inbox stays a URL (a Path makes it s3:/bucket/prefix).
        str | None, typer.Option(help="Inbox path on every host (none: each worker's BULLETINS_INBOX)")
    ] = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="Warehouse path on every host (none: each worker's BULLETINS_WAREHOUSE)")
    ] = None,
) -> None:
    """Register bulletin-etl on the Prefect server PREFECT_API_URL names, for `prefect worker start --pool POOL`.

    Creates the work pool and the one-slot publish limit if missing; deploying again updates
    the deployment bulletin-etl/POOL. Nothing secret is stored in it: each host's worker
    runs the flow with its own environment (docs/workers.md).
    """
    if cron is not None and interval is not None:
        raise typer.BadParameter("give --cron or --interval, not both", param_hint="--interval")
    check_schedule_options(cron or SCHEDULE_CRON, timezone, interval)
    if not pool.strip():
        raise typer.BadParameter("must name a work pool", param_hint="--pool")
    if inbox is not None:
        from flows.settings import inbox_location

        try:  # s3:/// (no bucket): the usage error here, not at the first run
            inbox_location(inbox)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--inbox") from None
    from flows.orchestration.prefect_local import configure_prefect

    configure_prefect()
    from flows.orchestration.deploy import NoApiConfigured
    from flows.orchestration.deploy import deploy as deploy_flow

    try:
        done = deploy_flow(pool, inbox=inbox, warehouse=warehouse, cron=cron, timezone=timezone, interval_s=interval)
    except NoApiConfigured as exc:  # a setting missing: exit 2, as for a mistyped option
        error_line(str(exc))
        raise typer.Exit(code=2) from None
    if done.pool_created:
        typer.echo(f"已创建工作池 {done.pool}（process 类型）")
    if done.limit_created:
        typer.echo("已创建全局并发限制 bulletins-publish（1 个槽位：同一时刻只有一台主机发布）")
    when = "无计划，手动触发"
    if interval is not None:
        when = f"每 {interval:g} 秒"
    elif cron:
        when = f"cron {cron!r}（{timezone}）"
    typer.echo(f"{'已更新' if done.updated else '已注册'}部署 {done.full_name}（{when}）：{done.api_url}")
    typer.echo(f"在每台主机上运行：prefect worker start --pool {done.pool}")
