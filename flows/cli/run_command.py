"""`bulletins run`: one run of the flow, its progress on a terminal and its summary in Chinese."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import InboxOpt, LakeOpt, WarehouseOpt, app, check_inbox, check_lake
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
    from flows.orchestration.prefect_local import run_flow
    from flows.orchestration.stopping import LockHolderStuck

    # On a terminal, the run's progress (Prefect's own log lines only with --verbose).
    progress = _TerminalProgress if sys.stderr.isatty() and not verbose else None
    ran = run_flow(settings, verbose=verbose, progress=progress, started=started)
    logs = f" (the run's logs: {ran.logs_url})" if ran.logs_url else ""
    if ran.not_run is not None:
        typer.echo(shown(redact(ran.not_run + logs)), err=True)
        return
    if isinstance(ran.error, LockHolderStuck):  # skipped, as every later run would be while it holds: exit 75
        error_line(f"{ran.error}{logs}")
        raise typer.Exit(code=EX_TEMPFAIL) from None
    if ran.error is not None:  # the run itself failed: one line, non-zero exit
        fail(f"run failed: {describe_error(ran.error, settings.warehouse)}{logs}", ran.error)
    summary = ran.summary
    if summary is None:  # unreachable: a run neither skipped nor failed returned its summary
        raise AssertionError("the run returned no summary")
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
        cli = " ".join(f"{stage}={s:.2f}s" for stage, s in ran.seconds.items())
        typer.echo(f"timings: {cli} " + summary.timings_line().removeprefix("timings: "))
