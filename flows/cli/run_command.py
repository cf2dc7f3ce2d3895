"""`bulletins run`: one run of the flow, its progress on a terminal and its summary in Chinese."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import (
    InboxOpt,
    LakeOpt,
    WarehouseOpt,
    app,
    check_inbox,
    check_lake,
    configure_prefect_for,
    environment_default,
)
from flows.cli.errors import EX_TEMPFAIL, describe_error, error_line, fail, shown
from flows.settings import (
    Settings,
    validate_paths,
)
from flows.text.redact import redact


class _TerminalProgress:
    """The run's progress on a terminal (stderr): the stage, and files parsed / total with a rate."""

    def __init__(self) -> None:
        import time

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._clock = time.monotonic
        self._started: float | None = None
        self._parsed = 0
        self._parsed_at = 0.0
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("starting", total=None, rate="")

    def __enter__(self) -> _TerminalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
        if self._started is not None and self._parsed:
            seconds = max(self._parsed_at - self._started, 1e-9)
            typer.echo(
                f"parsed {self._parsed} files in {seconds:.1f} s ({self._parsed / seconds:.1f} files/s)", err=True
            )

    def phase(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def files_parsed(self, done: int, total: int) -> None:
        if self._started is None:
            self._started = self._clock()
        self._parsed, self._parsed_at = done, self._clock()
        elapsed = self._parsed_at - self._started
        rate = f"{done / elapsed:.1f} files/s" if done and elapsed > 0 else ""
        self._bar.update(self._task, description="parsing files", completed=done, total=total, rate=rate)


@app.command()
def run(
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
    lake: LakeOpt = None,
    timings: Annotated[bool, typer.Option(help="Also print where the time went, in seconds by stage")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show Prefect's log lines")] = False,
) -> None:
    """Run the bulletin-etl flow once over the inbox.

    Prints the run's summary line, its warnings and where each city's latest weekly report
    is. On a terminal it also shows progress; Prefect's own log lines only with --verbose.
    """
    started = time.perf_counter()
    settings = Settings.resolve(inbox, warehouse, lake=lake)
    validate_paths(settings)  # a warehouse inside its inbox: exit 2
    check_inbox(settings)
    check_lake(settings)  # an S3 lake a run cannot write: exit 2
    configure_prefect_for(settings)
    from contextlib import ExitStack

    from flows.orchestration.prefect_local import flow_run_url, prefect_api, running_server, without_heartbeats
    from flows.orchestration.stopping import LockHolderStuck, Stopper

    with ExitStack() as stack:
        # First in, last out: SIGINT / SIGTERM and the run's deadline end it with one line,
        # even while it waits on a stalled Prefect API (flows/orchestration/stopping.py).
        stack.enter_context(Stopper(settings.run_timeout_s))
        # While `bulletins serve` runs on this warehouse, its server takes the run (no
        # temporary server to start; the run shows in serve's UI). PREFECT_API_URL wins.
        serve_api = None if os.environ.get("PREFECT_API_URL") else running_server(settings.serve_prefect_home)
        if serve_api:
            stack.enter_context(environment_default("PREFECT_API_URL", serve_api))
        # A run's page outlives the run only on a server that outlives it.
        lasting_api = bool(os.environ.get("PREFECT_API_URL"))
        if not verbose:
            # Prefect's console stays silent: a failure is the one `error:` line below (its
            # ERROR log lines would only repeat it); the run's logs still reach its API in
            # full. Read when Prefect sets up logging (on import, and in worker processes).
            stack.enter_context(environment_default("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"))
        # Prefect's temporary server starts first, in its own process, while this one
        # imports Prefect and the flow (kept out of `--help`): one stage, both overlapped.
        with prefect_api(preload=["flows.orchestration.flow"]):
            from flows.orchestration import progress
            from flows.orchestration.flow import bulletin_etl

            if sys.stderr.isatty() and not verbose:
                stack.enter_context(progress.listening(stack.enter_context(_TerminalProgress())))
            if serve_api:  # no automation of ours watches heartbeats there; Prefect's setting, if set, wins
                stack.enter_context(without_heartbeats(unless_configured=True))
            seconds = {"prefect_start_and_import": time.perf_counter() - started}
            state = bulletin_etl(
                inbox=str(settings.inbox),
                warehouse=str(settings.warehouse),
                lake=str(settings.lake_dir),
                return_state=True,
            )
            seconds["flow"] = time.perf_counter() - started - sum(seconds.values())
            run_url = flow_run_url(state.state_details.flow_run_id)
        seconds["prefect_stop"] = time.perf_counter() - started - sum(seconds.values())
    logs = f" (the run's logs: {run_url})" if run_url and lasting_api else ""
    if state.name == "Skipped":
        typer.echo(shown(redact((state.message or "run skipped") + logs)), err=True)
        return
    try:
        summary = state.result()
    except LockHolderStuck as exc:  # skipped, as every later run would be while it holds: exit 75
        error_line(f"{exc}{logs}")
        raise typer.Exit(code=EX_TEMPFAIL) from None
    except Exception as exc:  # the run itself failed: one line, non-zero exit
        fail(f"run failed: {describe_error(exc, settings.warehouse)}{logs}", exc)
    # For people, in Chinese (the English `summary.line()` is in the run's logs).
    from flows.reporting.run_summary import run_line, run_problem_lines

    typer.echo(run_line(summary))
    for warning in summary.warnings:
        typer.echo(f"warning: {shown(redact(warning))}", err=True)
    for report_path in summary.latest_reports:
        typer.echo(f"周报：{shown(report_path)}")
    for line in run_problem_lines(summary):  # this run's partial, quarantined and skipped entries (capped)
        typer.echo(f"  {shown(line)}")
    if timings:
        # The CLI's stages (import, Prefect API start and stop, the flow as a whole), then the flow's.
        cli = " ".join(f"{stage}={s:.2f}s" for stage, s in seconds.items())
        typer.echo(f"timings: {cli} " + summary.timings_line().removeprefix("timings: "))
