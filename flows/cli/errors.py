"""The error boundary: every failure of a command is one line on stderr with its exit code
(`OneLineErrors`), and the words for an unexpected error (`describe_error`).
"""

from __future__ import annotations

import errno
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup

from flows.settings import (
    TRACEBACK,
    SettingsError,
)
from flows.text.escape import terminal
from flows.text.redact import redact

# Set to see the traceback of an unexpected error (a bug) under its one line.
TRACEBACK_ENV = TRACEBACK.name


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
            error_line(f"{exc.format_message()} (see `{command} --help`)")
            sys.exit(2)
        except click_exceptions.ClickException as exc:
            error_line(exc.format_message())
            sys.exit(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            error_line("interrupted")
            sys.exit(130)
        except SettingsError as exc:  # a BULLETINS_* variable set wrong: like a mistyped option
            error_line(str(exc))
            sys.exit(2)
        except Exception as exc:
            error_line(describe_error(exc))
            if os.environ.get(TRACEBACK_ENV):
                traceback.print_exception(exc, file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def error_line(message: str) -> None:
    # One line; a URL's secrets masked and control characters from a file name made visible.
    typer.echo(f"error: {shown(' '.join(redact(message).split()))}", err=True)


def shown(value: object) -> str:
    """A value (a file name, a unit, a reason) as the terminal may show it: no control sequence."""
    return terminal(value)


def fail(message: str, exc: BaseException | None = None) -> None:
    """One error line and exit 1; with BULLETINS_TRACEBACK set, `exc`'s traceback under it."""
    error_line(message)
    if exc is not None and os.environ.get(TRACEBACK_ENV):
        traceback.print_exception(exc, file=sys.stderr)
    raise typer.Exit(code=1)


# sysexits.h: a temporary failure, try again later (a skipped run whose lock holder is stuck).
EX_TEMPFAIL = 75
# `status --fail-if-stale`: a city's feed is stale (2 stays a mistyped command line).
EXIT_STALE = 3
