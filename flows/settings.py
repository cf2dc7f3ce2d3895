"""Paths and settings, defined once."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from flows.text.notify_address import Target

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
# A wait longer than a day is a mistake (or `inf`): nothing should hold the warehouse that long.
MAX_LOCK_TIMEOUT_S = 86400.0
# The whole run's wall-clock budget: a run still going after this is stopped (its lock
# released), and a later run that finds the lock held longer than this reports it (README,
# "One writer at a time"). A 10-year backfill takes minutes (BENCHMARKS.md).
DEFAULT_RUN_TIMEOUT_S = 3600.0
MAX_RUN_TIMEOUT_S = 7 * 86400.0
# Ad-hoc SQL (`bulletins query`, `shell`): memory it may use (DuckDB spills nothing: no
# writable folder for it) and, for `query`, how long a statement may run.
DEFAULT_QUERY_MEMORY_LIMIT = "1GB"
DEFAULT_QUERY_TIMEOUT_S = 300.0
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
    # Where notifications go: one address or several, as BULLETINS_NOTIFY_URL holds them (README, "Notifications").
    notify_url: str | None = None
    notify_streak_weeks: int = DEFAULT_NOTIFY_STREAK_WEEKS
    run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S
    query_memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT
    query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S
    # False on a host that does not own the DuckDB file: its runs stop after writing their
    # lake batches, which the owner's next run loads (BULLETINS_PUBLISH=0; docs/workers.md).
    publish: bool = True

    @property
    def db_path(self) -> Path:
        """The published snapshot every reader opens (README, "Snapshot reads"); runs never write it in place."""
        return self.warehouse / "bulletins.duckdb"

    @property
    def writer_db_path(self) -> Path:
        """The file a run (or rebuild) writes, then publishes as `db_path`; no reader opens it."""
        return self.warehouse / ".writer" / "bulletins.duckdb"

    @property
    def notify_targets(self) -> list[Target]:
        """The addresses in `notify_url`, each with its channel (checked by `resolve`)."""
        from flows.text.notify_address import parse_targets

        return parse_targets(self.notify_url)

    @property
    def notify_state_path(self) -> Path:
        """Which alerts are on and who was told (README, "Notifications"): beside the snapshot, not in it."""
        return self.warehouse / "notify-state.json"

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
            timeout = _env_number(
                "BULLETINS_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S, float, minimum=0, maximum=MAX_LOCK_TIMEOUT_S
            )
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
            notify_url=_env_url("BULLETINS_NOTIFY_URL"),
            notify_streak_weeks=_env_number(
                "BULLETINS_NOTIFY_STREAK_WEEKS", DEFAULT_NOTIFY_STREAK_WEEKS, int, minimum=1
            ),
            run_timeout_s=_env_number(
                "BULLETINS_RUN_TIMEOUT_S", DEFAULT_RUN_TIMEOUT_S, float, minimum=1, maximum=MAX_RUN_TIMEOUT_S
            ),
            query_memory_limit=memory_limit(
                os.environ.get("BULLETINS_QUERY_MEMORY_LIMIT", ""), "BULLETINS_QUERY_MEMORY_LIMIT"
            ),
            query_timeout_s=_env_number(
                "BULLETINS_QUERY_TIMEOUT_S", DEFAULT_QUERY_TIMEOUT_S, float, minimum=0.001, maximum=MAX_LOCK_TIMEOUT_S
            ),
            publish=_env_flag("BULLETINS_PUBLISH", True),
        )


def _env_number(name: str, default: _N, kind: type[_N], *, minimum: _N, maximum: _N | None = None) -> _N:
    """A number from the environment, or the default when the variable is unset or empty.

    Only finite numbers: `nan` compares false with every bound and `inf` waits forever.

    >>> _env_number("BULLETINS_NOT_SET", 2, int, minimum=1)
    2
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    what = "a whole number" if kind is int else "a number"
    bounds = f"of at least {minimum:g}" if maximum is None else f"from {minimum:g} to {maximum:g}"
    problem = SettingsError(f"{name} must be {what} {bounds}, not {text!r}")
    try:
        value = kind(text)
    except ValueError:
        raise problem from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        raise problem
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _env_flag(name: str, default: bool) -> bool:
    """A yes/no from the environment (1/0, true/false, yes/no, on/off), or the default when unset or empty.

    >>> _env_flag("BULLETINS_NOT_SET", True)
    True
    """
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {os.environ[name].strip()!r}")


def _env_url(name: str) -> str | None:
    """The notification addresses from the environment (one or several), or None when unset or empty.

    Each address is checked (`flows.text.notify_address`); the message names the address
    by its place and never repeats it: a webhook URL carries its secret (`access_token=`).

    >>> _env_url("BULLETINS_NOT_SET") is None
    True
    """
    from flows.text.notify_address import APPRISE, TargetError, parse_targets

    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        for n, target in enumerate(parse_targets(text), start=1):
            if target.channel == APPRISE and not _apprise_knows(target.scheme):
                raise TargetError(f"address {n} is a {target.scheme}:// address, which no channel sends to")
    except TargetError as exc:
        raise SettingsError(
            f"{name} must hold webhook or e-mail addresses (e.g. https://oapi.dingtalk.com/robot/send?access_token=..., "
            f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..., mailtos://user:password@smtp.example.com?to=...), "
            f"but its {exc} (value not shown: it may hold a token)"
        ) from None
    return text


def _apprise_knows(scheme: str) -> bool:
    """Whether apprise sends to `scheme://` (imported only for such an address: loading its plugins takes
    a second, and warns of `imghdr`, a DeprecationWarning of its own)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from apprise.manager_plugins import NotificationManager

        return scheme in NotificationManager().schemas()


_MEMORY_RE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B|B)", re.IGNORECASE)
_UNIT_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNIT_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_QUERY_MEMORY_BYTES = 16 * 10**6  # DuckDB cannot run a query in less


def memory_limit(text: str, name: str) -> str:
    """A DuckDB memory limit like `1GB` or `512MiB` (the default when `text` is empty).

    `name` is the variable or option it came from, for the message.

    >>> memory_limit(" 512 mb ", "--memory-limit")
    '512MB'
    >>> memory_limit("", "BULLETINS_QUERY_MEMORY_LIMIT")
    '1GB'
    """
    text = text.strip()
    if not text:
        return DEFAULT_QUERY_MEMORY_LIMIT
    match = _MEMORY_RE.fullmatch(text)
    problem = SettingsError(f"{name} must be an amount of memory of at least 16MB like 1GB or 512MB, not {text!r}")
    if match is None:
        raise problem
    unit = match["unit"].upper().replace("I", "i")
    number = float(match["number"])
    if number * _UNIT_BYTES[unit.lower()] < MIN_QUERY_MEMORY_BYTES or not math.isfinite(number):
        raise problem
    return f"{match['number']}{unit}"


def validate_paths(settings: Settings) -> None:
    """Refuse a warehouse inside its inbox, or an inbox inside a folder runs write: every run
    would read the run's own files (lake parts, reports, the DuckDB file) and never settle.

    Raises SettingsError (exit 2 at the CLI) naming both folders.
    """
    inbox, warehouse = settings.inbox, settings.warehouse
    if warehouse.is_relative_to(inbox):
        same = " (the same folder)" if warehouse == inbox else ""
        raise SettingsError(
            f"the warehouse {warehouse} is inside the inbox {inbox}{same}: every run would read its own files; "
            "put the warehouse (--warehouse, BULLETINS_WAREHOUSE) outside the inbox (--inbox, BULLETINS_INBOX)"
        )
    for folder in (settings.lake_dir, settings.reports_dir, settings.serve_prefect_home):
        if inbox.is_relative_to(folder):
            raise SettingsError(
                f"the inbox {inbox} is inside {folder}, which runs write: every run would read its own files; "
                "put the inbox (--inbox, BULLETINS_INBOX) elsewhere"
            )
