"""The `bulletins` command line: run, query, status, report, rebuild, serve."""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.settings import Settings

app = typer.Typer(
    help="City-management bulletins: inbox -> Parquet lake -> DuckDB marts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

InboxOpt = Annotated[
    Path | None, typer.Option(help="Folder of new pages [env BULLETINS_INBOX; default warehouse/inbox]")
]
WarehouseOpt = Annotated[
    Path | None, typer.Option(help="Warehouse folder [env BULLETINS_WAREHOUSE; default warehouse]")
]


def _quiet_prefect() -> None:
    # Embedded defaults: no telemetry, and a local temporary API when no server is set.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


@app.command()
def run(inbox: InboxOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Run the bulletin-etl flow once over the inbox."""
    _quiet_prefect()
    settings = Settings.resolve(inbox, warehouse)
    if not settings.inbox.is_dir():
        _fail(f"inbox {settings.inbox} is not a folder")
    from flows.orchestration.flow import bulletin_etl  # imports Prefect: keep `--help` fast
    from flows.orchestration.prefect_local import local_api

    try:
        with local_api():
            summary = bulletin_etl(inbox=str(settings.inbox), warehouse=str(settings.warehouse))
    except Exception as exc:  # the run itself failed: one line, non-zero exit
        _fail(f"run failed: {type(exc).__name__}: {exc}".splitlines()[0])
    typer.echo(summary.line())


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    table = Table(*columns, show_lines=False)
    for row in cells:
        table.add_row(*row)
    # Wide enough that no cell is cut: analysts copy figures from here.
    widths = [max([cell_len(c)] + [cell_len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    needed = sum(widths) + 3 * len(columns) + 1
    Console(width=max(needed, Console().width)).print(table)


def _open_read_only(settings: Settings):
    from flows.warehouse.db import connect

    if not settings.db_path.exists():
        _fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    return connect(settings.db_path, read_only=True)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run (read-only)")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    warehouse: WarehouseOpt = None,
) -> None:
    """Run read-only SQL against the warehouse."""
    import duckdb

    if format not in {"table", "csv", "json"}:
        _fail("--format must be table, csv or json")
    settings = Settings.resolve(None, warehouse)
    con = _open_read_only(settings)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        _fail(str(exc).splitlines()[0])
    finally:
        con.close()
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        typer.echo(
            json.dumps(
                [dict(zip(columns, r, strict=True)) for r in rows], default=_json_default, ensure_ascii=False, indent=2
            )
        )
    else:
        _print_table(columns, rows)


@app.command()
def status(warehouse: WarehouseOpt = None) -> None:
    """Files by status, problem files with reasons, bulletins of unknown format, the latest week."""
    from flows.warehouse.readers import (
        bulletins_left_out,
        files_by_status,
        latest_city_week,
        problem_files,
        unknown_format_files,
    )

    settings = Settings.resolve(None, warehouse)
    con = _open_read_only(settings)
    try:
        by_status = files_by_status(con)
        problems = problem_files(con)
        unknown = unknown_format_files(con)
        left_out = bulletins_left_out(con) or []
        latest = latest_city_week(con)
    finally:
        con.close()
    typer.echo("files by status: " + (", ".join(f"{s} {n}" for s, n in by_status.items()) or "none"))
    if problems:
        typer.echo("quarantined and partial files:")
        for p in problems:
            typer.echo(f"  {p.status:<11} {p.path}: {'; '.join(p.reasons)}")
    if unknown:
        typer.echo("bulletins of unknown format (their text loaded as articles; README: Adding a city):")
        for p in unknown:
            typer.echo(f"  {p.path}: {'; '.join(r.removeprefix('unknown bulletin format: ') for r in p.reasons)}")
    if left_out:
        typer.echo("bulletins left out of the marts:")
        for b in left_out:
            typer.echo(
                f"  week {b.period_start or '?'} (issue {b.issue_date or '?'}) in {b.path}: {'; '.join(b.reasons)}"
            )
    typer.echo(f"latest week loaded: {latest.week_start} ~ {latest.week_end}" if latest else "latest week loaded: none")


def _parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} must be a date like 2021-01-18, not {text!r}")
    raise AssertionError  # unreachable: _fail exits


@app.command()
def report(
    week: Annotated[
        str | None, typer.Option(help="A day of the published week to report, YYYY-MM-DD [default: the latest]")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write into [default: <warehouse>/reports]")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the weekly report (report-<week_start>.html and .md) of a published week."""
    from flows.reporting.weekly_report import NoPublishedWeek, read_weekly_report, write_report
    from flows.warehouse.readers import WeekNotPublished

    day = _parse_day(week, "--week")
    settings = Settings.resolve(None, warehouse)
    con = _open_read_only(settings)
    try:
        weekly = read_weekly_report(con, day)
    except (NoPublishedWeek, WeekNotPublished) as exc:
        _fail(str(exc))
    finally:
        con.close()
    written = write_report(weekly, out if out is not None else settings.reports_dir)
    typer.echo(f"report of the week {weekly.week_start} ~ {weekly.city.week_end}:")
    typer.echo(f"  {written.html}")
    typer.echo(f"  {written.markdown}")


@app.command()
def rebuild(warehouse: WarehouseOpt = None) -> None:
    """Rebuild the DuckDB file from the Parquet lake (the lake is the source of truth)."""
    from flows.warehouse.build import rebuild_warehouse

    settings = Settings.resolve(None, warehouse)
    try:
        batches = rebuild_warehouse(settings)
    except Exception as exc:
        _fail(f"rebuild failed: {type(exc).__name__}: {exc}".splitlines()[0])
    typer.echo(f"rebuilt {settings.db_path} from {batches} lake batch(es)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context, warehouse: WarehouseOpt = None) -> None:
    """Open the duckdb shell on the warehouse: read-only, and no file outside it can be read or written.

    Anything after the options goes to duckdb, e.g. `bulletins shell -csv "select 1"`.
    """
    from flows.warehouse.sandbox import ShellNotInstalled, shell_argv

    settings = Settings.resolve(None, warehouse)
    if not settings.db_path.exists():
        _fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    try:
        argv = shell_argv(settings.db_path, ctx.args)
    except ShellNotInstalled as exc:
        _fail(str(exc))
    sys.stdout.flush()
    os.execv(argv[0], argv)  # the shell takes over this process: its terminal, signals and exit code


@app.command()
def serve(
    cron: Annotated[str, typer.Option(help="Cron schedule")] = "0 7 * * *",
    timezone: Annotated[str, typer.Option(help="Timezone of the cron schedule")] = "Asia/Shanghai",
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
    interval: Annotated[float | None, typer.Option(help="Run every N seconds instead of the cron (testing)")] = None,
) -> None:
    """Serve bulletin-etl on a schedule (starts a local Prefect server if PREFECT_API_URL is unset)."""
    _quiet_prefect()
    from flows.orchestration.serve import serve as serve_flow

    settings = Settings.resolve(inbox, warehouse)
    serve_flow(
        cron=cron, timezone=timezone, inbox=str(settings.inbox), warehouse=str(settings.warehouse), interval_s=interval
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
