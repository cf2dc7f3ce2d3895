"""`bulletins query`: ad-hoc SQL on the snapshot, read-only and bounded (time, memory), as a
table, CSV or JSON.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import WarehouseOpt, app, reading
from flows.cli.errors import fail, shown
from flows.settings import (
    QUERY_MEMORY_LIMIT,
    QUERY_TIMEOUT,
    Settings,
    SettingsError,
)
from flows.text.escape import json_safe


def json_default(value: Any) -> Any:
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
    cells = [[shown(_table_cell(v)) for v in row] for row in rows]
    table = Table(show_lines=False)
    for i, column in enumerate(columns):
        numeric = any(_is_number(r[i]) for r in rows) and all(r[i] is None or _is_number(r[i]) for r in rows)
        table.add_column(Text(shown(column)), justify="right" if numeric else "left")
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    # Wide enough that no cell is cut: analysts copy figures from here.
    widths = [max([cell_len(shown(c))] + [cell_len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    needed = sum(widths) + 3 * len(columns) + 1
    Console(width=max(needed, Console().width)).print(table)


def _json_value(value: Any) -> Any:
    """NaN and infinities have no JSON: null, like NULL."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
        typer.Option(help=f"Stop the query after this many seconds {QUERY_TIMEOUT.note()}"),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help=f"Memory the query may use, e.g. 2GB {QUERY_MEMORY_LIMIT.note()}"),
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
        fail("--format must be table, csv or json")
    # Read here, before the connection is opened and sandboxed: the SQL itself can read no file.
    if file is not None:
        if sql is not None:
            fail("give the SQL either as an argument or with --file, not both")
        try:
            sql = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {file}: {exc}")
    elif sql is None or sql == "-":
        if sys.stdin is None or sys.stdin.isatty():
            fail('no SQL to run: give a statement, e.g. bulletins query "select * from marts.city_week_performance"')
        sql = sys.stdin.read()
    assert sql is not None
    if not _has_statement(sql):
        fail('no SQL to run: give a statement, e.g. bulletins query "select * from marts.city_week_performance"')
    settings = Settings.resolve(None, warehouse)
    limit = memory_limit or settings.query_memory_limit
    seconds = timeout if timeout is not None else settings.query_timeout_s
    with reading(settings, limit) as con:
        columns, rows = _bounded_query(con, sql, seconds, limit)
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        text = json.dumps(
            [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows],
            default=json_default,
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
