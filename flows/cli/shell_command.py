"""`bulletins shell`: the duckdb shell on the snapshot, read-only, in safe mode."""

from __future__ import annotations

import os
import sys

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import WarehouseOpt, app, open_read_only
from flows.cli.errors import fail
from flows.settings import (
    Settings,
)


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
    open_read_only(settings).close()  # a damaged or busy file: one line here, not the shell's
    try:
        argv = shell_argv(settings.db_path, ctx.args, settings.query_memory_limit)
    except ShellNotInstalled as exc:
        fail(str(exc))
    sys.stdout.flush()
    os.execv(argv[0], argv)  # the shell takes over this process: its terminal, signals and exit code
