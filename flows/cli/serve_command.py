"""`bulletins serve`: runs on a schedule, a Prefect server and the reports over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import InboxOpt, WarehouseOpt, app, configure_prefect_for
from flows.settings import (
    SCHEDULE_CRON,
    SCHEDULE_TIMEZONE,
    Settings,
    validate_paths,
)


@app.command("serve")
def serve_command(
    cron: Annotated[str, typer.Option(help="Cron schedule")] = SCHEDULE_CRON,
    timezone: Annotated[str, typer.Option(help="Timezone of the cron schedule")] = SCHEDULE_TIMEZONE,
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
    interval: Annotated[float | None, typer.Option(help="Run every N seconds instead of the cron (testing)")] = None,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; 0.0.0.0 opens the UI and the reports to the network, without a password"
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the Prefect UI (its server's, when serve starts it)")
    ] = 4200,
    reports_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the weekly reports, read-only: http://HOST:PORT/reports/")
    ] = 4201,
) -> None:
    """Serve bulletin-etl on a schedule (starts a local Prefect server if PREFECT_API_URL is unset).

    The Prefect UI on http://HOST:4200 and the weekly reports on http://HOST:4201/reports/;
    a port in use is one error line and exit 1.
    """
    settings = Settings.resolve(inbox, warehouse)
    configure_prefect_for(settings)
    check_schedule_options(cron, timezone, interval)
    if port == reports_port:
        raise typer.BadParameter(f"must differ from --port ({port})", param_hint="--reports-port")
    from flows.orchestration.serve import serve as serve_flow

    validate_paths(settings)
    serve_flow(
        cron=cron,
        timezone=timezone,
        inbox=str(settings.inbox),
        warehouse=str(settings.warehouse),
        interval_s=interval,
        host=host,
        port=port,
        reports_port=reports_port,
    )


def check_schedule_options(cron: str, timezone: str, interval: float | None) -> None:
    """The schedule options, checked as Prefect will read them: exit 2 naming the option."""
    from flows.orchestration.serve import ScheduleError, check_schedule

    try:
        check_schedule(cron, timezone, interval)
    except ScheduleError as exc:
        raise typer.BadParameter(exc.reason, param_hint=exc.option) from None
