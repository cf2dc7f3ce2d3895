"""What the commands share: the typer app, the --inbox/--warehouse options, Prefect's local
settings before it is imported, the inbox check, and read-only connections to the snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.errors import OneLineErrors, fail
from flows.settings import (
    INBOX,
    LAKE,
    WAREHOUSE,
    Settings,
)

app = typer.Typer(
    cls=OneLineErrors,
    help="City-management bulletins: inbox -> Delta lake -> DuckDB marts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

InboxOpt = Annotated[
    str | None, typer.Option(help=f"Folder of new pages, or s3://bucket/prefix (docs/s3.md) {INBOX.note()}")
]
WarehouseOpt = Annotated[Path | None, typer.Option(help=f"Warehouse folder {WAREHOUSE.note()}")]
LakeOpt = Annotated[
    str | None, typer.Option(help=f"The lake: a folder, or s3://bucket/prefix (docs/s3.md) {LAKE.note()}")
]


def check_lake(settings: Settings, *, write: bool = True) -> None:
    """Refuse an S3 lake that cannot be reached or written: one line naming what is wrong, exit 2."""
    from flows.warehouse import lake_store

    lake_store.check(settings.lake_dir, write=write)


def configure_prefect_for(settings: Settings) -> None:
    # Before Prefect is imported: its local settings (telemetry off, console log format,
    # its home and storage under the warehouse).
    from flows.orchestration.prefect_local import configure_prefect

    configure_prefect(settings.warehouse)


def check_inbox(settings: Settings, why: str = "") -> None:
    """Refuse an inbox that cannot be read: a folder that is not one (exit 1); an S3 inbox
    whose key is refused, whose bucket is missing or whose endpoint is unreachable (exit 2)."""
    from flows.settings import S3Location

    if isinstance(settings.inbox, S3Location):
        from flows.warehouse import storage

        storage.check_s3_inbox(settings.inbox)  # S3SettingsError: one line, exit 2
    elif not settings.inbox.is_dir():
        fail(f"inbox {settings.inbox} is not a folder{why}")


def open_read_only(settings: Settings, memory_limit: str | None = None):
    """A sandboxed read-only connection; waits (bounded) while a run writes the file."""
    from flows.warehouse.locks import connect_for_read

    if not settings.db_path.exists():
        fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    quiet = logging.getLogger("flows.cli.wait")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False  # the waits are not failures: nothing on the terminal
    return connect_for_read(settings.db_path, settings.lock_timeout_s, logger=quiet, memory_limit=memory_limit)


@contextmanager
def reading(settings: Settings, memory_limit: str | None = None) -> Iterator[Any]:
    """The read-only connection for one command; a damaged file is named as such."""
    import duckdb

    from flows.warehouse.db import WarehouseDamaged, is_damage

    con = open_read_only(settings, memory_limit)
    try:
        yield con
    except duckdb.Error as exc:
        if is_damage(exc):
            raise WarehouseDamaged(settings.db_path, exc) from exc
        raise
    finally:
        con.close()


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date like 2021-01-18, not {text!r}")
    raise AssertionError  # unreachable: fail exits
