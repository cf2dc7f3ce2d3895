"""The `bulletins` command line: run, query, status, report, rebuild, shell, serve.

Every failure ends in one line on stderr, `error: <what happened>: <what to do>`, and a
non-zero exit code (1; 2 for a mistyped command line; 130 for Ctrl-C). The commands raise;
`OneLineErrors` below is the one place that turns exceptions into that line. Apart from
failures: `status --fail-if-stale` exits 3 on a stale feed (EXIT_STALE), `run` 75 when a
stuck run holds the lock (EX_TEMPFAIL).
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup

from flows.settings import Settings, SettingsError, validate_paths
from flows.text.escape import json_safe, terminal
from flows.text.redact import redact

# Set to see the traceback of an unexpected error (a bug) under its one line.
TRACEBACK_ENV = "BULLETINS_TRACEBACK"


def describe_error(exc: BaseException, folder: Path | None = None) -> str:
    """The one line for an exception: our own errors already say what to do.

    A full disk is named as such, with the folder written to (else `folder`): DuckDB
    reports it inside other errors ("Failed to commit: Could not write file ...").
    """
    from flows.warehouse.db import WarehouseDamaged, is_damage

    if disk_full := _disk_full(exc, folder):
        return disk_full
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if is_damage(exc):  # raised past a command that did not name the file
        return str(WarehouseDamaged("the warehouse file", exc))
    if type(exc).__module__.startswith("flows.") or isinstance(exc, OSError):
        return first or type(exc).__name__
    if type(exc).__module__.startswith(("duckdb", "_duckdb")):
        return first  # DuckDB names the error kind itself ("Catalog Error: ...")
    return f"{type(exc).__name__}: {first} (unexpected: {TRACEBACK_ENV}=1 shows the traceback)"


_NO_SPACE_RE = re.compile(r"No space left on device|\[errno 28\]", re.IGNORECASE)
_WRITTEN_PATH_RE = re.compile(r'(?:file|directory) "(?P<path>[^"]+)"')


def _disk_full(exc: BaseException, folder: Path | None) -> str | None:
    """`no space left on device (<folder>)` when `exc` (or its cause) is ENOSPC, else None.

    >>> _disk_full(RuntimeError('Failed to commit: Could not write file "/w/.writer/b.wal": No space left on device'), None)
    "no space left on device (/w/.writer): free space there and run again; the next run finishes this one's work"
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if (isinstance(current, OSError) and current.errno == errno.ENOSPC) or _NO_SPACE_RE.search(text):
            written = getattr(current, "filename", None) if isinstance(current, OSError) else None
            if written is None and (match := _WRITTEN_PATH_RE.search(text)):
                written = match["path"]
            where = Path(written).parent if written else folder
            return (
                f"no space left on device ({where if where is not None else 'folder unknown'}): free space there "
                "and run again; the next run finishes this one's work"
            )
        current = current.__cause__ or current.__context__
    return None


class OneLineErrors(TyperGroup):
    """The error boundary: every exception a command raises becomes one line on stderr."""

    def main(  # type: ignore[override]  # same parameters; typed loosely by click
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:
            if exc.format_message().strip():  # (typer's rich help has printed itself already)
                typer.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click_exceptions.UsageError as exc:  # a mistyped command line
            command = exc.ctx.command_path if exc.ctx else "bulletins"
            _error_line(f"{exc.format_message()} (see `{command} --help`)")
            sys.exit(2)
        except click_exceptions.ClickException as exc:
            _error_line(exc.format_message())
            sys.exit(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            _error_line("interrupted")
            sys.exit(130)
        except SettingsError as exc:  # a BULLETINS_* variable set wrong: like a mistyped option
            _error_line(str(exc))
            sys.exit(2)
        except Exception as exc:
            _error_line(describe_error(exc))
            if os.environ.get(TRACEBACK_ENV):
                traceback.print_exception(exc, file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _error_line(message: str) -> None:
    # One line; a URL's secrets masked and control characters from a file name made visible.
    typer.echo(f"error: {_shown(' '.join(redact(message).split()))}", err=True)


def _shown(value: object) -> str:
    """A value (a file name, a unit, a reason) as the terminal may show it: no control sequence."""
    return terminal(value)


app = typer.Typer(
    cls=OneLineErrors,
    help="City-management bulletins: inbox -> Delta lake -> DuckDB marts.",
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


def _configure_prefect(settings: Settings) -> None:
    # Before Prefect is imported: its local settings (telemetry off, console log format,
    # its home and storage under the warehouse).
    from flows.orchestration.prefect_local import configure_prefect

    configure_prefect(settings.warehouse)


def _fail(message: str, exc: BaseException | None = None) -> None:
    """One error line and exit 1; with BULLETINS_TRACEBACK set, `exc`'s traceback under it."""
    _error_line(message)
    if exc is not None and os.environ.get(TRACEBACK_ENV):
        traceback.print_exception(exc, file=sys.stderr)
    raise typer.Exit(code=1)


# sysexits.h: a temporary failure, try again later (a skipped run whose lock holder is stuck).
EX_TEMPFAIL = 75
# `status --fail-if-stale`: a city's feed is stale (2 stays a mistyped command line).
EXIT_STALE = 3


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set an environment variable (unless the user set it) for the block only."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


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
    timings: Annotated[bool, typer.Option(help="Also print where the time went, in seconds by stage")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show Prefect's log lines")] = False,
) -> None:
    """Run the bulletin-etl flow once over the inbox.

    Prints the run's summary line, its warnings and where each city's latest weekly report
    is. On a terminal it also shows progress; Prefect's own log lines only with --verbose.
    """
    started = time.perf_counter()
    settings = Settings.resolve(inbox, warehouse)
    validate_paths(settings)  # a warehouse inside its inbox: exit 2
    if not settings.inbox.is_dir():
        _fail(f"inbox {settings.inbox} is not a folder")
    _configure_prefect(settings)
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
            stack.enter_context(_environment("PREFECT_API_URL", serve_api))
        # A run's page outlives the run only on a server that outlives it.
        lasting_api = bool(os.environ.get("PREFECT_API_URL"))
        if not verbose:
            # Prefect's console stays silent: a failure is the one `error:` line below (its
            # ERROR log lines would only repeat it); the run's logs still reach its API in
            # full. Read when Prefect sets up logging (on import, and in worker processes).
            stack.enter_context(_environment("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"))
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
            state = bulletin_etl(inbox=str(settings.inbox), warehouse=str(settings.warehouse), return_state=True)
            seconds["flow"] = time.perf_counter() - started - sum(seconds.values())
            run_url = flow_run_url(state.state_details.flow_run_id)
        seconds["prefect_stop"] = time.perf_counter() - started - sum(seconds.values())
    logs = f" (the run's logs: {run_url})" if run_url and lasting_api else ""
    if state.name == "Skipped":
        typer.echo(_shown(redact((state.message or "run skipped") + logs)), err=True)
        return
    try:
        summary = state.result()
    except LockHolderStuck as exc:  # skipped, as every later run would be while it holds: exit 75
        _error_line(f"{exc}{logs}")
        raise typer.Exit(code=EX_TEMPFAIL) from None
    except Exception as exc:  # the run itself failed: one line, non-zero exit
        _fail(f"run failed: {describe_error(exc, settings.warehouse)}{logs}", exc)
    # For people, in Chinese (the English `summary.line()` is in the run's logs).
    from flows.reporting.run_summary import problem_label, run_line

    typer.echo(run_line(summary))
    for warning in summary.warnings:
        typer.echo(f"warning: {_shown(redact(warning))}", err=True)
    for report_path in summary.latest_reports:
        typer.echo(f"周报：{_shown(report_path)}")
    for line in summary.problem_lines():  # this run's partial, quarantined and skipped entries (capped)
        typer.echo(f"  {_shown(problem_label(line))}")
    if timings:
        # The CLI's stages (import, Prefect API start and stop, the flow as a whole), then the flow's.
        cli = " ".join(f"{stage}={s:.2f}s" for stage, s in seconds.items())
        typer.echo(f"timings: {cli} " + summary.timings_line().removeprefix("timings: "))


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


# The table view rounds floats to this many decimals; csv and json keep every digit.
TABLE_DECIMALS = 4


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _table_cell(value: Any) -> str:
    """A value as the table view shows it: NULL as NULL, floats rounded.

    >>> [_table_cell(v) for v in (None, 0.9058186, 12, Decimal("90.58"), float("nan"), True)]
    ['NULL', '0.9058', '12', '90.58', 'NaN', 'True']
    """
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.{TABLE_DECIMALS}f}" if math.isfinite(value) else str(value)
    return str(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Cells are data: control characters made visible, and Text, not markup (a cell
    # "[link=http://evil]x[/link]" would otherwise become a terminal hyperlink).
    cells = [[_shown(_table_cell(v)) for v in row] for row in rows]
    table = Table(show_lines=False)
    for i, column in enumerate(columns):
        numeric = any(_is_number(r[i]) for r in rows) and all(r[i] is None or _is_number(r[i]) for r in rows)
        table.add_column(Text(_shown(column)), justify="right" if numeric else "left")
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    # Wide enough that no cell is cut: analysts copy figures from here.
    widths = [max([cell_len(_shown(c))] + [cell_len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    needed = sum(widths) + 3 * len(columns) + 1
    Console(width=max(needed, Console().width)).print(table)


def _json_value(value: Any) -> Any:
    """NaN and infinities have no JSON: null, like NULL."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _open_read_only(settings: Settings, memory_limit: str | None = None):
    """A sandboxed read-only connection; waits (bounded) while a run writes the file."""
    from flows.warehouse.locks import connect_for_read

    if not settings.db_path.exists():
        _fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    quiet = logging.getLogger("flows.cli.wait")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False  # the waits are not failures: nothing on the terminal
    return connect_for_read(settings.db_path, settings.lock_timeout_s, logger=quiet, memory_limit=memory_limit)


@contextmanager
def _reading(settings: Settings, memory_limit: str | None = None) -> Iterator[Any]:
    """The read-only connection for one command; a damaged file is named as such."""
    import duckdb

    from flows.warehouse.db import WarehouseDamaged, is_damage

    con = _open_read_only(settings, memory_limit)
    try:
        yield con
    except duckdb.Error as exc:
        if is_damage(exc):
            raise WarehouseDamaged(settings.db_path, exc) from exc
        raise
    finally:
        con.close()


def _has_statement(sql: str) -> bool:
    """Whether SQL holds anything but whitespace, `;` and comments."""
    import duckdb

    try:
        return bool(duckdb.extract_statements(sql))
    except duckdb.Error:
        return True  # let DuckDB report the syntax error when it runs it


@app.command()
def query(
    sql: Annotated[
        str | None, typer.Argument(help="SQL to run (read-only); `-` or nothing: read it from stdin")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-F", help="Read the SQL from this file")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    warehouse: WarehouseOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="Stop the query after this many seconds [env BULLETINS_QUERY_TIMEOUT_S; default 300]"),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help="Memory the query may use, e.g. 2GB [env BULLETINS_QUERY_MEMORY_LIMIT; default 1GB]"),
    ] = None,
) -> None:
    """Run read-only SQL against the warehouse (no file outside it can be read or written).

    The SQL comes from the argument, a file (--file q.sql) or stdin (`bulletins query < q.sql`).
    The table view right-aligns numbers, rounds floats to 4 decimals and shows NULL as NULL;
    csv and json keep every digit (json writes NaN as null).
    """
    from flows.settings import memory_limit as parse_memory_limit

    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= MAX_QUERY_TIMEOUT_S):
        raise typer.BadParameter(
            f"must be a number of seconds above 0, at most {MAX_QUERY_TIMEOUT_S:g}", param_hint="--timeout"
        )
    if memory_limit is not None:
        try:
            memory_limit = parse_memory_limit(memory_limit, "--memory-limit")
        except SettingsError as exc:
            raise typer.BadParameter(str(exc).removeprefix("--memory-limit "), param_hint="--memory-limit") from None
    if format not in {"table", "csv", "json"}:
        _fail("--format must be table, csv or json")
    # Read here, before the connection is opened and sandboxed: the SQL itself can read no file.
    if file is not None:
        if sql is not None:
            _fail("give the SQL either as an argument or with --file, not both")
        try:
            sql = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read {file}: {exc}")
    elif sql is None or sql == "-":
        if sys.stdin is None or sys.stdin.isatty():
            _fail('no SQL to run: give a statement, e.g. bulletins query "select * from marts.city_week_performance"')
        sql = sys.stdin.read()
    assert sql is not None
    if not _has_statement(sql):
        _fail('no SQL to run: give a statement, e.g. bulletins query "select * from marts.city_week_performance"')
    settings = Settings.resolve(None, warehouse)
    limit = memory_limit or settings.query_memory_limit
    seconds = timeout if timeout is not None else settings.query_timeout_s
    with _reading(settings, limit) as con:
        columns, rows = _bounded_query(con, sql, seconds, limit)
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        text = json.dumps(
            [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows],
            default=_json_default,
            ensure_ascii=False,
            indent=2,
            allow_nan=False,
        )
        # JSON escapes C0 controls itself; C1 and the invisible ones it leaves raw: \uXXXX is
        # the same string to a JSON reader, and shows on a terminal as what it is.
        typer.echo(json_safe(text))
    else:
        _print_table(columns, rows)


class QueryStopped(RuntimeError):
    """Ad-hoc SQL ran past its time or memory bound."""


# A statement timeout above a day is a mistake: use a smaller query.
MAX_QUERY_TIMEOUT_S = 86400.0


def _bounded_query(con: Any, sql: str, timeout_s: float, memory_limit: str) -> tuple[list[str], list[tuple]]:
    """Run `sql` and fetch its rows, interrupted after `timeout_s` (DuckDB has no statement timeout).

    A timer thread calls `con.interrupt()`: DuckDB stops the running statement with an
    InterruptException, which becomes one line naming the bound.
    """
    import threading

    import duckdb

    expired = threading.Event()

    def stop() -> None:
        expired.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, stop)
    timer.daemon = True
    timer.start()
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    except duckdb.InterruptException:
        if not expired.is_set():
            raise KeyboardInterrupt from None  # Ctrl-C reached DuckDB first
        raise QueryStopped(
            f"query took longer than {timeout_s:g} s and was stopped: narrow it, or give more time with "
            "--timeout SECONDS (BULLETINS_QUERY_TIMEOUT_S)"
        ) from None
    except duckdb.OutOfMemoryException:
        raise QueryStopped(
            f"query needs more memory than its limit of {memory_limit} and was stopped: narrow it, or allow more "
            "with --memory-limit (BULLETINS_QUERY_MEMORY_LIMIT)"
        ) from None
    finally:
        timer.cancel()
    return columns, rows


@app.command()
def status(
    warehouse: WarehouseOpt = None,
    inbox: InboxOpt = None,
    stale_after: Annotated[
        int | None,
        typer.Option(
            help="Warn when no new week was published this many days after the latest week's end "
            "[env BULLETINS_STALE_AFTER_DAYS; default 14]"
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Judge freshness on this day, YYYY-MM-DD [default: today]")] = None,
    fail_if_stale: Annotated[
        bool,
        typer.Option("--fail-if-stale", help=f"Exit {EXIT_STALE} when a feed is stale (for cron jobs and monitors)"),
    ] = False,
) -> None:
    """Files by status, problem files with reasons, bulletins of unknown format, how old the latest week is.

    Entries whose file is no longer in the inbox are listed apart (已移出收件箱) and left out of
    the totals. A stale feed (no new week for longer than --stale-after) is a warning on
    stderr, exit 0; with --fail-if-stale, exit 3. Exit 2 is a mistyped command line only.
    """
    from flows.settings import local_today
    from flows.warehouse.db import verify_readable
    from flows.warehouse.readers import (
        bulletins_left_out,
        files_by_status,
        files_with_status,
        gone_from_inbox,
        inferred_mark,
        problem_files,
        read_freshness,
        unknown_format_files,
    )

    today = _parse_day(as_of, "--as-of") or local_today()
    settings = Settings.resolve(inbox, warehouse)
    # The inbox given, else the one the default layout keeps in the warehouse folder (not
    # ./warehouse/inbox: `status --warehouse elsewhere` must not judge it by another inbox).
    explicit = inbox is not None or bool(os.environ.get("BULLETINS_INBOX"))
    look_in = settings.inbox if explicit else settings.warehouse / "inbox"
    with _reading(settings) as con:
        verify_readable(con, settings.db_path)
        gone = gone_from_inbox(con, look_in)
        gone_paths = {g.path for g in gone or []}
        by_status = files_by_status(con, gone_paths)
        problems = problem_files(con, leaving_out=gone_paths)
        forgotten = [f for f in files_with_status(con, "forgotten") if f.path not in gone_paths]
        unknown = unknown_format_files(con)
        left_out = bulletins_left_out(con) or []
        freshness = read_freshness(con, today, stale_after if stale_after is not None else settings.stale_after_days)
    from flows.reporting.labels import reason_label, status_label
    from flows.reporting.run_summary import freshness_line, stale_warning

    def reasons(texts: Sequence[str]) -> str:
        return "；".join(reason_label(r) for r in texts)

    def status_cell(status: str) -> str:  # 4 CJK characters wide at most: the paths line up
        return status_label(status) + "　" * max(0, 4 - len(status_label(status)))

    counts = "，".join(f"{status_label(s)} {n}" for s, n in by_status.items()) or "无"
    typer.echo(f"各状态文件数：{counts}")
    if gone is None and explicit:
        typer.echo(f"注意：收件箱 {look_in} 不是文件夹，未核对哪些文件已移出（--inbox）")
    elif gone:
        typer.echo(f"已移出收件箱（不计入上面的合计）：{len(gone)} 个；其记录留在仓库里，直到 `bulletins forget`：")
        for p in gone:
            typer.echo(_shown(f"  {status_cell(p.status)} {p.path}"))
    if forgotten:
        typer.echo("已撤回的文件（`bulletins forget --undo` 可恢复）：")
        for p in forgotten:
            typer.echo(_shown(f"  {p.path}：{reason_label(p.reasons[0]) if p.reasons else ''}"))
    if problems:
        typer.echo("部分入库、已隔离和未读取的文件：")
        for p in problems:
            typer.echo(_shown(f"  {status_cell(p.status)} {p.path}：{reasons(p.reasons)}"))
    if unknown:
        typer.echo("未知格式的通报（正文已作为文章入库；README：Adding a city）：")
        for p in unknown:
            typer.echo(
                _shown(f"  {p.path}：{'；'.join(r.removeprefix('unknown bulletin format: ') for r in p.reasons)}")
            )
    if left_out:
        typer.echo("未计入统计表（marts）的通报：")
        for b in left_out:
            typer.echo(
                _shown(
                    f"  {b.city or '?'} {b.period_start or '?'} 起的一周"
                    f"（{b.issue_date or '?'} 刊{inferred_mark(b.issue_date_source) if b.issue_date else ''}）"
                    f"，文件 {b.path}：{reasons(b.reasons)}"
                )
            )
    stale = False
    for city in freshness:
        typer.echo(_shown(freshness_line(city)))
    for city in freshness:
        if warning := stale_warning(city):
            typer.echo(f"warning: {_shown(warning)}", err=True)
            stale = True
    if stale and fail_if_stale:
        raise typer.Exit(code=EXIT_STALE)


def _out_folder(path: Path | None) -> Path | None:
    """--out: a folder, or a path where one can be made (no file on the way); else exit 2 naming --out."""
    if path is None:
        return None
    for place in (path, *path.parents):
        if place.is_dir():
            return path
        if place.exists() or place.is_symlink():
            what = "is a file, not a folder" if place == path else f"cannot be made: {place} is a file, not a folder"
            raise typer.BadParameter(f"{path} {what}", param_hint="--out")
    return path


def _parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} must be a date like 2021-01-18, not {text!r}")
    raise AssertionError  # unreachable: _fail exits


def _report_formats(values: list[str] | None) -> list[str] | None:
    """--format: html, md, pdf, png, repeated or comma-separated; else exit 2 naming --format."""
    from flows.reporting.weekly_report import FORMATS

    if not values:
        return None
    chosen = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"must be {', '.join(FORMATS)}, not {', '.join(unknown) or 'nothing'}", param_hint="--format"
        )
    return [f for f in FORMATS if f in chosen]


@app.command()
def report(
    week: Annotated[
        str | None, typer.Option(help="A day of the published week to report, YYYY-MM-DD [default: the latest]")
    ] = None,
    city: Annotated[
        str | None, typer.Option(help="The city to report on [default: every city in the warehouse]")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write into [default: <warehouse>/reports]", callback=_out_folder),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="html, md, pdf or png; repeat it or separate with commas (default: html and md). "
            "pdf (A4) and png (a phone-width long image) need Chromium: apt-get install chromium",
            callback=_report_formats,
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the weekly report (report-<week_start>.html and .md; .pdf, .png on request) of a published week.

    With several cities in the warehouse, one report per city, named report-<city>-<week_start>.
    """
    from flows.reporting.browser import BROWSER_ERRORS, find_chromium
    from flows.reporting.weekly_report import BROWSER_FORMATS, DEFAULT_FORMATS, NoPublishedWeek, write_reports
    from flows.warehouse.readers import CityNotChosen, WeekNotPublished, resolve_cities

    formats = format or list(DEFAULT_FORMATS)
    day = _parse_day(week, "--week")
    settings = Settings.resolve(None, warehouse)
    if BROWSER_FORMATS & set(formats):
        try:
            find_chromium()  # before anything is written: one clear line when it is missing
        except BROWSER_ERRORS as exc:
            _fail(str(exc))
    with _reading(settings) as con:
        try:
            cities = resolve_cities(con, city)
            if not cities:
                raise NoPublishedWeek("no published week in the warehouse yet: nothing to report")
            written = write_reports(con, out if out is not None else settings.reports_dir, cities, day, formats)
        except (NoPublishedWeek, WeekNotPublished, CityNotChosen) as exc:
            _fail(str(exc))
        except BROWSER_ERRORS as exc:
            _fail(f"report not drawn by Chromium: {exc}", exc)
    for w in written:
        typer.echo(f"report of {_shown(w.city)}, week {w.week_start}:")
        for path in w.files:
            typer.echo(f"  {_shown(path)}")


@app.command()
def export(
    format: Annotated[str, typer.Option("--format", "-f", help="xlsx, csv or parquet")] = "xlsx",
    week: Annotated[
        str | None, typer.Option(help="Only the published week containing this day, YYYY-MM-DD [default: every week]")
    ] = None,
    city: Annotated[str | None, typer.Option(help="Only this city [default: every city]")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write into", callback=_out_folder)] = Path("."),
    headers: Annotated[
        str, typer.Option(help="zh: Chinese headers (未办结件); en: the columns' own names (unresolved), for SQL")
    ] = "zh",
    all_columns: Annotated[
        bool, typer.Option("--all-columns", help="Also the marts' internal columns (prev_*, unit_list, ids)")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Export the marts as files people open: xlsx (one sheet each), csv (with a BOM) or parquet.

    Chinese headers, the analyst's columns, 是/否 and 新上榜/连续上榜/退出 in xlsx and csv;
    numbers are the marts' own, unrounded. README: Take the marts away.
    """
    from flows.reporting.exports import FORMATS, HEADERS, NothingToExport, export_marts

    if format not in FORMATS:
        _fail(f"--format must be {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    if headers not in HEADERS:
        raise typer.BadParameter(f"must be {' or '.join(HEADERS)}, not {headers!r}", param_hint="--headers")
    day = _parse_day(week, "--week")
    settings = Settings.resolve(None, warehouse)
    with _reading(settings) as con:
        try:
            paths = export_marts(con, format, out, city=city, week=day, headers=headers, all_columns=all_columns)
        except NothingToExport as exc:
            _fail(str(exc))
    for path in paths:
        typer.echo(_shown(path))


@app.command()
def explain(
    file: Annotated[Path, typer.Argument(help="The file to explain (any file the inbox takes)")],
    format: Annotated[str, typer.Option("--format", help="text (for people) or json")] = "text",
) -> None:
    """Show how one file is read, writing nothing: decoded text, blocks, tables, formats, checks.

    The tool for adding a city (README: Adding a city): which format claimed each bulletin or
    why none did, the figures and every check with the numbers it compared, the issue date
    and its source, and the status the inbox would record.
    """
    from flows.reporting.explain import explain as explain_file
    from flows.reporting.explain import render_text

    if format not in ("text", "json"):
        raise typer.BadParameter(f"must be text or json, not {format!r}", param_hint="--format")
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
    out = explain_file(file.name, data)
    if format == "json":
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1, default=_json_default))
    else:
        for line in render_text(out).split("\n"):  # each line made safe for the terminal
            typer.echo(_shown(line))


@app.command()
def rebuild(warehouse: WarehouseOpt = None) -> None:
    """Rebuild the DuckDB file from the lake's Delta tables (the lake is the source of truth)."""
    from flows.warehouse.build import rebuild_warehouse

    settings = Settings.resolve(None, warehouse)
    try:
        result = rebuild_warehouse(settings)
    except Exception as exc:
        _fail(f"rebuild failed: {describe_error(exc, settings.warehouse)}", exc)
    typer.echo(f"rebuilt {settings.db_path} from {result.batches} lake batch(es)")
    if result.marts_not_exported:
        typer.echo(f"warning: marts not written to the lake: {result.marts_not_exported}", err=True)
    for problem in result.problems:
        typer.echo(f"warning: {_shown(problem.line())}", err=True)
    if result.left_out:
        typer.echo(
            f"warning: {len(result.left_out)} batch(es) left out: `bulletins run` parses their files again "
            "from the inbox (lake/_quarantine/quarantine.log says why)",
            err=True,
        )


@app.command()
def maintain(
    warehouse: WarehouseOpt = None,
    retention_hours: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Keep files older versions read for this many hours [default: BULLETINS_LAKE_RETENTION_HOURS or 168]",
        ),
    ] = None,
) -> None:
    """Compact the lake's small files and vacuum what no version within the retention reads (under the run lock)."""
    from flows.warehouse import maintain as lake_maintenance

    settings = Settings.resolve(None, warehouse)
    if not settings.lake_dir.is_dir():
        _fail(f"no lake at {settings.lake_dir}: nothing to maintain (is --warehouse the right folder?)")
    try:
        result = lake_maintenance.maintain(settings, retention_hours)
    except ValueError as exc:  # BULLETINS_LAKE_RETENTION_HOURS that is no number of hours: a settings error
        _error_line(f"{lake_maintenance.RETENTION_ENV}: {exc}")
        raise typer.Exit(code=2) from None
    except Exception as exc:
        _fail(f"maintain failed: {describe_error(exc, settings.warehouse)}", exc)
    for line in result.lines():
        typer.echo(line)


NoteOpt = Annotated[str | None, typer.Option(help="Why, kept on record with who and when (required, but with --undo)")]
ByOpt = Annotated[str | None, typer.Option(help="Who decides [default: the OS user]")]


def _decide(settings: Settings, undo: bool, note: str | None, by: str | None, choose: Any) -> None:
    """Record a decision (corrections on record), then apply it with a run: `bulletins run`'s own path.

    Under the run lock: the files named are checked against the published warehouse and
    the decisions in the lake, and the decision is written to lake/_corrections. Then
    the same run `bulletins run` starts loads it (and whatever else is new in the inbox).
    """
    from flows.warehouse import corrections
    from flows.warehouse.locks import run_lock

    if not undo and not (note and note.strip()):
        raise typer.BadParameter("say why: it is kept on record with who and when", param_hint="--note")
    if not settings.db_path.exists():
        _fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    if not settings.inbox.is_dir():  # the run that applies the decision reads it
        _fail(f"inbox {settings.inbox} is not a folder: the run that applies the decision needs it (--inbox)")
    with run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s):
        decisions = corrections.read_decisions(settings.lake_dir)
        with _reading(settings) as con:
            try:
                action, targets = choose(con, decisions)
            except corrections.CorrectionRefused as exc:
                _fail(str(exc))
        written = corrections.write_decision(
            settings.lake_dir, action, targets, (note or "").strip(), by or corrections.operator()
        )
    for t in targets:
        check = f" check {t.check_name} of" if t.check_name else ""
        typer.echo(_shown(f"{action}:{check} {t.path or '?'} (sha256 {t.file_sha256[:12]}…)"))
    typer.echo(f"recorded in {written}; a run applies it now")
    run(inbox=settings.inbox, warehouse=settings.warehouse)
    with _reading(settings) as con:
        if not corrections.applied(con, written.stem):
            _fail(f"the decision is recorded ({written.name}) but no run applied it yet: the next `bulletins run` does")


@app.command()
def forget(
    files: Annotated[list[str], typer.Argument(help="Inbox paths (relative to the inbox, or absolute) or sha256s")],
    note: NoteOpt = None,
    by: ByOpt = None,
    undo: Annotated[bool, typer.Option("--undo", help="Take forgotten files back")] = False,
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Take files' rows out of the warehouse, on record: articles, bulletins, units, marts.

    The decision is kept in the lake (lake/_corrections), so neither `rebuild` nor a later
    run brings the rows back while the file stays in the inbox; the entry stays recorded
    as `forgotten`, with who, when and why. --undo takes the files back.
    """
    from flows.warehouse import corrections

    settings = Settings.resolve(inbox, warehouse)

    def choose(con: Any, decisions: Any) -> tuple[str, list[Any]]:
        targets = corrections.forget_targets(con, settings.inbox, files, decisions, undo=undo)
        return (corrections.UNFORGET if undo else corrections.FORGET), targets

    _decide(settings, undo, note, by, choose)


@app.command()
def accept(
    file: Annotated[str, typer.Argument(help="An inbox path (relative to the inbox, or absolute) or a sha256")],
    check: Annotated[str, typer.Option(help="The failed check to accept, e.g. units_sum_to_overdue")],
    note: NoteOpt = None,
    by: ByOpt = None,
    undo: Annotated[bool, typer.Option("--undo", help="Withdraw the acceptance")] = False,
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Publish a bulletin despite a failed check, on record (who, when, why).

    Its week enters the marts and the weekly report says "经人工确认：<note>". Accepting
    a check the file's bulletins did not fail is an error. --undo withdraws it.
    """
    from flows.warehouse import corrections

    settings = Settings.resolve(inbox, warehouse)

    def choose(con: Any, decisions: Any) -> tuple[str, list[Any]]:
        target = corrections.accept_target(con, settings.inbox, file, check, decisions, undo=undo)
        return (corrections.UNACCEPT if undo else corrections.ACCEPT), [target]

    _decide(settings, undo, note, by, choose)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context, warehouse: WarehouseOpt = None) -> None:
    """Open the duckdb shell on the warehouse: read-only, and no file outside it can be read or written.

    Anything after the options goes to duckdb, e.g. `bulletins shell -csv "select 1"`: SQL,
    and the output flags (-csv -json -line -list -box -table -markdown -header -noheader
    -separator -nullvalue -c/-s SQL -echo -bail ...); flags that read files (-f, -init,
    -cmd) or undo the sandbox are refused. Memory: BULLETINS_QUERY_MEMORY_LIMIT (1GB).
    """
    from flows.warehouse.sandbox import ShellFlagRefused, ShellNotInstalled, check_shell_args, shell_argv

    try:  # before anything opens: a refused flag never reaches duckdb
        check_shell_args(ctx.args)
    except ShellFlagRefused as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = Settings.resolve(None, warehouse)
    _open_read_only(settings).close()  # a damaged or busy file: one line here, not the shell's
    try:
        argv = shell_argv(settings.db_path, ctx.args, settings.query_memory_limit)
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
    _configure_prefect(settings)
    _check_schedule(cron, timezone, interval)
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


def _check_schedule(cron: str, timezone: str, interval: float | None) -> None:
    """The schedule options, checked as Prefect will read them: exit 2 naming the option."""
    from flows.orchestration.serve import ScheduleError, check_schedule

    try:
        check_schedule(cron, timezone, interval)
    except ScheduleError as exc:
        raise typer.BadParameter(exc.reason, param_hint=exc.option) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
