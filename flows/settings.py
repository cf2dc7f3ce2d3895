"""Paths and settings, defined once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

_N = TypeVar("_N", int, float)

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The SQL models: sql/ in a checkout (and an editable install); an installed package
# carries a copy as flows/sql (see pyproject.toml), which a checkout never has.
_PACKAGED_SQL_DIR = Path(__file__).resolve().parent / "sql"
SQL_DIR = _PACKAGED_SQL_DIR if _PACKAGED_SQL_DIR.is_dir() else PROJECT_DIR / "sql"

DEFAULT_INBOX = Path("warehouse/inbox")
DEFAULT_WAREHOUSE = Path("warehouse")

# How long a run waits for an analyst's reader to let go of the DuckDB file.
DEFAULT_LOCK_TIMEOUT_S = 120.0
# Processes that parse a backfill (the pool is opened for the parse stage only).
DEFAULT_PARSE_WORKERS = 2
# New content up to this size is parsed in the run's own process: a pool worker first
# imports Prefect (seconds of CPU), which pays off only on a backfill. See BENCHMARKS.md.
DEFAULT_INLINE_PARSE_MAX_BYTES = 16 * 1024 * 1024

# A file larger than this is quarantined unread. Real pages are about 15 KB; the limit
# bounds a parse task's memory (README, "Size limit").
MAX_FILE_BYTES_ENV = "BULLETINS_MAX_FILE_BYTES"
DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024

# The feed is stale when no new week was published for this many days after the latest week's end.
DEFAULT_STALE_AFTER_DAYS = 14

# The bulletins' own time zone: "today" for freshness is a day in this zone.
LOCAL_TIMEZONE = "Asia/Shanghai"

# A unit on its list this many weeks in a row is worth a notification.
DEFAULT_NOTIFY_STREAK_WEEKS = 4


class SettingsError(ValueError):
    """A BULLETINS_* variable holds no usable value; the message names it and what it takes."""


def local_today() -> date:
    """Today in the bulletins' time zone."""
    return datetime.now(ZoneInfo(LOCAL_TIMEZONE)).date()


@dataclass(frozen=True)
class Settings:
    """Where a run reads from and writes to, and how it spends the machine.

    Every BULLETINS_* environment variable is read here, once per `resolve` (README,
    "Settings").
    """

    inbox: Path
    warehouse: Path
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    parse_workers: int = DEFAULT_PARSE_WORKERS
    inline_parse_max_bytes: int = DEFAULT_INLINE_PARSE_MAX_BYTES
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    notify_url: str | None = None  # a webhook for notifications (README, "Notifications")
    notify_streak_weeks: int = DEFAULT_NOTIFY_STREAK_WEEKS

    @property
    def db_path(self) -> Path:
        """The published snapshot every reader opens (README, "Snapshot reads"); runs never write it in place."""
        return self.warehouse / "bulletins.duckdb"

    @property
    def writer_db_path(self) -> Path:
        """The file a run (or rebuild) writes, then publishes as `db_path`; no reader opens it."""
        return self.warehouse / ".writer" / "bulletins.duckdb"

    @property
    def lake_dir(self) -> Path:
        return self.warehouse / "lake"

    @property
    def reports_dir(self) -> Path:
        """Where runs write the weekly reports (report-<week_start>.html and .md)."""
        return self.warehouse / "reports"

    @property
    def serve_prefect_home(self) -> Path:
        """The Prefect home (prefect.db, server.log) of the server `bulletins serve` starts."""
        return self.warehouse / "prefect"

    @property
    def run_lock_path(self) -> Path:
        """File lock held by the one writer run at a time."""
        return self.warehouse / ".bulletins-run.lock"

    @classmethod
    def resolve(
        cls,
        inbox: str | Path | None = None,
        warehouse: str | Path | None = None,
        lock_timeout_s: float | None = None,
    ) -> Settings:
        """Arguments first, then BULLETINS_* environment variables, then defaults.

        Raises SettingsError (a ValueError) naming the variable when one holds no usable number.
        """
        inbox_path = Path(inbox or os.environ.get("BULLETINS_INBOX") or DEFAULT_INBOX)
        warehouse_path = Path(warehouse or os.environ.get("BULLETINS_WAREHOUSE") or DEFAULT_WAREHOUSE)
        timeout = lock_timeout_s
        if timeout is None:
            timeout = _env_number("BULLETINS_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S, float, minimum=0)
        return cls(
            inbox=inbox_path.resolve(),
            warehouse=warehouse_path.resolve(),
            lock_timeout_s=timeout,
            max_file_bytes=_env_number(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES, int, minimum=1),
            parse_workers=_env_number("BULLETINS_PARSE_WORKERS", DEFAULT_PARSE_WORKERS, int, minimum=1),
            inline_parse_max_bytes=_env_number(
                "BULLETINS_INLINE_PARSE_MAX_BYTES", DEFAULT_INLINE_PARSE_MAX_BYTES, int, minimum=0
            ),
            stale_after_days=_env_number("BULLETINS_STALE_AFTER_DAYS", DEFAULT_STALE_AFTER_DAYS, int, minimum=0),
            notify_url=os.environ.get("BULLETINS_NOTIFY_URL") or None,
            notify_streak_weeks=_env_number(
                "BULLETINS_NOTIFY_STREAK_WEEKS", DEFAULT_NOTIFY_STREAK_WEEKS, int, minimum=1
            ),
        )


def _env_number(name: str, default: _N, kind: type[_N], *, minimum: _N) -> _N:
    """A number from the environment, or the default when the variable is unset or empty.

    >>> _env_number("BULLETINS_NOT_SET", 2, int, minimum=1)
    2
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be {what} of at least {minimum}, not {text!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be {what} of at least {minimum}, not {text!r}")
    return value
