"""Paths and settings, defined once."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar
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
# released), and a later run that finds the lock held longer than this reports it (docs/reference.md,
# "One writer at a time"). A 10-year backfill takes minutes (BENCHMARKS.md).
DEFAULT_RUN_TIMEOUT_S = 3600.0
MAX_RUN_TIMEOUT_S = 7 * 86400.0
# Ad-hoc SQL (`bulletins query`, `shell`): memory it may use (DuckDB spills nothing: no
# writable folder for it) and, for `query`, how long a statement may run.
DEFAULT_QUERY_MEMORY_LIMIT = "1GB"
DEFAULT_QUERY_TIMEOUT_S = 300.0
# Processes that parse a backfill (the pool is opened for the parse stage only): by default
# one per core this process may use (`usable_cores`), BULLETINS_PARSE_WORKERS overrides.
# New content up to this size is parsed in the run's own process: a pool worker first
# imports Prefect (seconds of CPU), which pays off only on a backfill. See BENCHMARKS.md.
DEFAULT_INLINE_PARSE_MAX_BYTES = 16 * 1024 * 1024

# A file larger than this is quarantined unread. Real pages are about 15 KB; the limit
# bounds a parse task's memory (docs/reference.md, "Size limit").
MAX_FILE_BYTES_ENV = "BULLETINS_MAX_FILE_BYTES"
DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024

# The feed is stale when no new week was published for this many days after the latest week's end.
DEFAULT_STALE_AFTER_DAYS = 14

# The bulletins' own time zone: "today" for freshness is a day in this zone.
LOCAL_TIMEZONE = "Asia/Shanghai"

# `bulletins serve`'s and `bulletins deploy`'s schedule unless told: every day at 07:00 local time.
SCHEDULE_CRON = "0 7 * * *"
SCHEDULE_TIMEZONE = LOCAL_TIMEZONE

# A unit on its list this many weeks in a row is worth a notification.
DEFAULT_NOTIFY_STREAK_WEEKS = 4


# BULLETINS_DASK_ADDRESS: a Dask scheduler that takes the parse tasks (docs/several-machines.md).
DASK_ADDRESS_ENV = "BULLETINS_DASK_ADDRESS"  # as declared below (DASK_ADDRESS)
_DASK_ADDRESS_RE = re.compile(
    r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})"
)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's limit),
    else the machine's count; at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no sched_getaffinity off Linux
        return max(os.cpu_count() or 1, 1)


@dataclass(frozen=True)
class Number(Generic[_N]):
    """A BULLETINS_* variable holding a number, declared once: `resolve` reads it, the docs show it."""

    name: str
    default: _N
    minimum: _N
    meaning: str
    maximum: _N | None = None
    # The default as documented when it depends on the machine (`default` is then its floor).
    default_note: str | None = None

    def takes(self) -> str:
        """What a usable value is, in the words of the error a wrong one gets.

        >>> MAX_FILE_BYTES.takes()
        'a whole number of at least 1'
        """
        what = "a whole number" if isinstance(self.default, int) else "a number"
        bounds = (
            f"of at least {self.minimum:g}" if self.maximum is None else f"from {self.minimum:g} to {self.maximum:g}"
        )
        return f"{what} {bounds}"

    def note(self) -> str:
        """Where an option's value comes from when it is not given, for its `--help`.

        >>> STALE_AFTER_DAYS.note()
        '[env BULLETINS_STALE_AFTER_DAYS; default 14]'
        """
        default = self.default_note or f"{self.default:g}"
        return f"[env {self.name}; default {default}]"


@dataclass(frozen=True)
class Text:
    """A BULLETINS_* variable that holds text (a path, addresses, a flag): name, default, meaning."""

    name: str
    default: str | None  # as documented; None: unset
    meaning: str
    takes: str

    def note(self) -> str:
        """Where an option's value comes from when it is not given, for its `--help`."""
        return f"[env {self.name}; default {self.default or 'unset'}]"


INBOX = Text(
    "BULLETINS_INBOX",
    str(DEFAULT_INBOX),
    "the folder of new pages, or s3://bucket/prefix (`--inbox`; docs/s3.md)",
    "a folder or s3://bucket/prefix",
)
WAREHOUSE = Text(
    "BULLETINS_WAREHOUSE",
    str(DEFAULT_WAREHOUSE),
    "the warehouse folder: lake, `bulletins.duckdb`, reports (`--warehouse`)",
    "a folder",
)
LAKE = Text(
    "BULLETINS_LAKE",
    "<warehouse>/lake",
    "the lake of Delta tables: a folder, or s3://bucket/prefix (`--lake`; docs/s3.md)",
    "a folder or s3://bucket/prefix",
)
LOCK_TIMEOUT = Number(
    "BULLETINS_LOCK_TIMEOUT_S",
    DEFAULT_LOCK_TIMEOUT_S,
    0.0,
    "seconds a run (or a reader) waits for another writer or reader",
    MAX_LOCK_TIMEOUT_S,
)
RUN_TIMEOUT = Number(
    "BULLETINS_RUN_TIMEOUT_S",
    DEFAULT_RUN_TIMEOUT_S,
    1.0,
    "a run still going after this many seconds is stopped (`error:`, exit 1) and its lock released "
    '("One writer at a time")',
    MAX_RUN_TIMEOUT_S,
)
PARSE_WORKERS = Number(
    "BULLETINS_PARSE_WORKERS",
    1,
    1,
    "processes that parse a backfill (the process pool; serve keeps them warm; docs/several-machines.md)",
    default_note="the usable cores",
)
INLINE_PARSE_MAX_BYTES = Number(
    "BULLETINS_INLINE_PARSE_MAX_BYTES",
    DEFAULT_INLINE_PARSE_MAX_BYTES,
    0,
    "new content up to this many bytes is parsed in the run's own process, without the pool",
)
MAX_FILE_BYTES = Number(
    MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES, 1, 'a file larger than this is quarantined unread ("Size limit")'
)
STALE_AFTER_DAYS = Number(
    "BULLETINS_STALE_AFTER_DAYS",
    DEFAULT_STALE_AFTER_DAYS,
    0,
    "a city's feed is stale after this many days without a new week (`status --stale-after`)",
)
NOTIFY_URL = Text(
    "BULLETINS_NOTIFY_URL",
    None,
    "where notifications go: a WeCom or DingTalk (`&secret=` for 加签) group bot, a Feishu/Lark bot, "
    '`mailtos://` e-mail, any JSON webhook ("Notifications")',
    "one address or several (spaces or commas between), each one a channel takes (e.g. with `https://`)",
)
NOTIFY_STREAK_WEEKS = Number(
    "BULLETINS_NOTIFY_STREAK_WEEKS",
    DEFAULT_NOTIFY_STREAK_WEEKS,
    1,
    "notify when a unit is on its list this many weeks in a row (alert state: `<warehouse>/notify-state.json`)",
)
QUERY_MEMORY_LIMIT = Text(
    "BULLETINS_QUERY_MEMORY_LIMIT",
    DEFAULT_QUERY_MEMORY_LIMIT,
    "memory `bulletins query` and `shell` may use (`query --memory-limit`); nothing spills to disk",
    "an amount of memory of at least 16MB like 1GB or 512MB",
)
QUERY_TIMEOUT = Number(
    "BULLETINS_QUERY_TIMEOUT_S",
    DEFAULT_QUERY_TIMEOUT_S,
    0.001,
    "`bulletins query` stops a statement after this many seconds (`query --timeout`)",
    MAX_LOCK_TIMEOUT_S,
)
DASK_ADDRESS = Text(
    "BULLETINS_DASK_ADDRESS",
    None,
    "a Dask scheduler that takes the parse tasks, on a private network (docs/several-machines.md)",
    "`tcp://host:port`",
)
LAKE_RETENTION = Number(
    "BULLETINS_LAKE_RETENTION_HOURS",
    168,
    0,
    "`bulletins maintain` keeps the lake's files older table versions read for this many hours (docs/delta-lake.md)",
)
PUBLISH = Text(
    "BULLETINS_PUBLISH",
    "1",
    "0 on a host that does not own the DuckDB file: its runs write lake batches only, the owner's next run "
    "loads them (docs/workers.md)",
    "1 or 0 (true/false, yes/no, on/off)",
)
TRACEBACK = Text(
    "BULLETINS_TRACEBACK",
    None,
    "the CLI prints the traceback of an unexpected error under its one line (`run` and `rebuild` included)",
    "`1` (any non-empty value)",
)
# Every BULLETINS_* variable a run reads, in the order docs/reference.md lists them (the
# reliability suite's fault injection declares its own two in flows/warehouse/faults.py).
VARIABLES: tuple[Number[int] | Number[float] | Text, ...] = (
    INBOX,
    WAREHOUSE,
    LAKE,
    LOCK_TIMEOUT,
    RUN_TIMEOUT,
    PARSE_WORKERS,
    INLINE_PARSE_MAX_BYTES,
    MAX_FILE_BYTES,
    STALE_AFTER_DAYS,
    NOTIFY_URL,
    NOTIFY_STREAK_WEEKS,
    QUERY_MEMORY_LIMIT,
    QUERY_TIMEOUT,
    DASK_ADDRESS,
    LAKE_RETENTION,
    PUBLISH,
    TRACEBACK,
)


class SettingsError(ValueError):
    """A BULLETINS_* variable holds no usable value; the message names it and what it takes."""


S3_SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """A place in an S3-compatible store: a bucket and a key prefix ('' for the whole bucket).

    `/` goes down as a folder would: the inbox's entries are `inbox / relative_path`.

    >>> inbox = S3Location.parse("s3://bulletins/inbox/")
    >>> str(inbox), (inbox / "2021/页.txt").path
    ('s3://bulletins/inbox', 'bulletins/inbox/2021/页.txt')
    """

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/prefix` as a location; SettingsError when it names no bucket."""
        rest = url.strip()[len(S3_SCHEME) :]
        bucket, _, prefix = rest.partition("/")
        parts = [p for p in prefix.split("/") if p]
        if not bucket or any(p in (".", "..") for p in parts):
            raise SettingsError(f"an S3 location must be written s3://bucket or s3://bucket/prefix, not {url!r}")
        return cls(bucket, "/".join(parts))

    @property
    def path(self) -> str:
        """The location as pyarrow's S3 filesystem names it: `bucket/prefix`."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    def __truediv__(self, relative: str | os.PathLike[str]) -> S3Location:
        tail = "/".join(p for p in os.fspath(relative).split("/") if p)
        return S3Location(self.bucket, f"{self.prefix}/{tail}" if self.prefix and tail else self.prefix or tail)

    def __str__(self) -> str:
        return S3_SCHEME + self.path


# Where the inbox is: a local folder, or a prefix of an S3 bucket (docs/s3.md).
InboxLocation = Path | S3Location


def inbox_location(inbox: str | os.PathLike[str] | S3Location) -> InboxLocation:
    """An inbox as given (an option, a variable, a task's parameter): `s3://...` or a folder's path.

    >>> inbox_location("s3://b/in"), inbox_location("warehouse/inbox")
    (S3Location(bucket='b', prefix='in'), PosixPath('warehouse/inbox'))
    """
    if isinstance(inbox, S3Location):
        return inbox
    text = os.fspath(inbox)
    if text.lower().startswith(S3_SCHEME):
        return S3Location.parse(text)
    return Path(text)


def local_today() -> date:
    """Today in the bulletins' time zone."""
    return datetime.now(ZoneInfo(LOCAL_TIMEZONE)).date()


@dataclass(frozen=True)
class Settings:
    """Where a run reads from and writes to, and how it spends the machine.

    Every BULLETINS_* environment variable is read here, once per `resolve` (docs/reference.md,
    "Settings").
    """

    inbox: InboxLocation  # a folder, or s3://bucket/prefix (docs/s3.md)
    warehouse: Path
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    parse_workers: int = 1  # `resolve` gives the machine's usable cores
    inline_parse_max_bytes: int = DEFAULT_INLINE_PARSE_MAX_BYTES
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    # Where notifications go: one address or several, as BULLETINS_NOTIFY_URL holds them (docs/guide.md).
    notify_url: str | None = None
    notify_streak_weeks: int = DEFAULT_NOTIFY_STREAK_WEEKS
    run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S
    query_memory_limit: str = DEFAULT_QUERY_MEMORY_LIMIT
    query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S
    # A Dask scheduler (tcp://host:port) whose workers run the parse tasks; None: local processes.
    dask_address: str | None = None
    # False on a host that does not own the DuckDB file: its runs stop after writing their
    # lake batches, which the owner's next run loads (BULLETINS_PUBLISH=0; docs/workers.md).
    publish: bool = True
    # The lake: None for `<warehouse>/lake`; another folder, or s3://bucket/prefix (docs/s3.md).
    lake: Path | S3Location | None = None

    @property
    def db_path(self) -> Path:
        """The published snapshot every reader opens (docs/reference.md, "Snapshot reads"); never written in place."""
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
        """Which alerts are on and who was told (docs/guide.md, "Notifications"): beside the snapshot, not in it."""
        return self.warehouse / "notify-state.json"

    @property
    def lake_dir(self) -> Path | S3Location:
        """The lake (BULLETINS_LAKE, `--lake`): a folder, `<warehouse>/lake` by default, or s3://bucket/prefix."""
        return self.lake if self.lake is not None else self.warehouse / "lake"

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
        inbox: str | Path | S3Location | None = None,
        warehouse: str | Path | None = None,
        lock_timeout_s: float | None = None,
        lake: str | Path | S3Location | None = None,
    ) -> Settings:
        """Arguments first, then BULLETINS_* environment variables, then defaults.

        Raises SettingsError (a ValueError) naming the variable when one holds no usable number.
        """
        inbox_path = inbox_location(inbox or os.environ.get(INBOX.name) or DEFAULT_INBOX)
        warehouse_path = Path(warehouse or os.environ.get(WAREHOUSE.name) or DEFAULT_WAREHOUSE)
        timeout = lock_timeout_s
        if timeout is None:
            timeout = env_number(LOCK_TIMEOUT)
        lake_text = lake or os.environ.get(LAKE.name, "").strip()
        lake_path = inbox_location(lake_text) if lake_text else None
        return cls(
            lake=lake_path.resolve() if isinstance(lake_path, Path) else lake_path,
            inbox=inbox_path.resolve() if isinstance(inbox_path, Path) else inbox_path,
            warehouse=warehouse_path.resolve(),
            lock_timeout_s=timeout,
            max_file_bytes=env_number(MAX_FILE_BYTES),
            parse_workers=env_number(PARSE_WORKERS, default=usable_cores()),
            inline_parse_max_bytes=env_number(INLINE_PARSE_MAX_BYTES),
            stale_after_days=env_number(STALE_AFTER_DAYS),
            notify_url=_env_url(NOTIFY_URL.name),
            notify_streak_weeks=env_number(NOTIFY_STREAK_WEEKS),
            run_timeout_s=env_number(RUN_TIMEOUT),
            query_memory_limit=memory_limit(os.environ.get(QUERY_MEMORY_LIMIT.name, ""), QUERY_MEMORY_LIMIT.name),
            query_timeout_s=env_number(QUERY_TIMEOUT),
            dask_address=dask_address(os.environ.get(DASK_ADDRESS.name, ""), DASK_ADDRESS.name),
            publish=_env_flag(PUBLISH.name, True),
        )


def env_number(variable: Number[_N], default: _N | None = None) -> _N:
    """A number from the environment, or the variable's default when it is unset or empty.

    Only finite numbers: `nan` compares false with every bound and `inf` waits forever.

    >>> env_number(Number("BULLETINS_NOT_SET", 2, 1, "a test"))
    2
    """
    text = os.environ.get(variable.name, "").strip()
    if not text:
        return variable.default if default is None else default
    problem = SettingsError(f"{variable.name} must be {variable.takes()}, not {text!r}")
    try:
        value = type(variable.default)(text)
    except ValueError:
        raise problem from None
    maximum = variable.maximum
    if not math.isfinite(value) or value < variable.minimum or (maximum is not None and value > maximum):
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


def dask_address(text: str, name: str) -> str | None:
    """A Dask scheduler's address `tcp://host:port`, or None when `text` is empty.

    `name` is the variable it came from, for the message.

    >>> dask_address(" tcp://10.0.0.5:8786 ", "BULLETINS_DASK_ADDRESS")
    'tcp://10.0.0.5:8786'
    >>> dask_address("", "BULLETINS_DASK_ADDRESS") is None
    True
    """
    text = text.strip()
    if not text:
        return None
    match = _DASK_ADDRESS_RE.fullmatch(text)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise SettingsError(
            f"{name} must be a Dask scheduler's address like tcp://10.0.0.5:8786 (tcp://host:port), not {text!r}"
        )
    return text


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


def _nested(a: S3Location, b: S3Location) -> bool:
    """Whether one place holds the other (the same bucket, one prefix inside the other).

    >>> _nested(S3Location("b", "in"), S3Location("b", "in/lake")), _nested(S3Location("b", "in"), S3Location("b", "inbox"))
    (True, False)
    """
    if a.bucket != b.bucket:
        return False
    x, y = a.prefix.strip("/"), b.prefix.strip("/")
    return not x or not y or x == y or x.startswith(y + "/") or y.startswith(x + "/")


def validate_paths(settings: Settings) -> None:
    """Refuse a warehouse inside its inbox, or an inbox inside a folder runs write: every run
    would read the run's own files (lake parts, reports, the DuckDB file) and never settle.

    Raises SettingsError (exit 2 at the CLI) naming both folders.
    """
    inbox, warehouse, lake = settings.inbox, settings.warehouse, settings.lake_dir
    if isinstance(inbox, S3Location) or isinstance(lake, S3Location):
        if isinstance(inbox, S3Location) and isinstance(lake, S3Location) and _nested(inbox, lake):
            raise SettingsError(
                f"the inbox {inbox} and the lake {lake} overlap: every run would read its own files; "
                "give them prefixes apart (--inbox, BULLETINS_INBOX; --lake, BULLETINS_LAKE)"
            )
        if isinstance(inbox, S3Location):  # not a folder runs write
            return
    elif lake.is_relative_to(inbox):
        raise SettingsError(
            f"the lake {lake} is inside the inbox {inbox}: every run would read its own files; "
            "put the lake (--lake, BULLETINS_LAKE) outside the inbox (--inbox, BULLETINS_INBOX)"
        )
    if warehouse.is_relative_to(inbox):
        same = " (the same folder)" if warehouse == inbox else ""
        raise SettingsError(
            f"the warehouse {warehouse} is inside the inbox {inbox}{same}: every run would read its own files; "
            "put the warehouse (--warehouse, BULLETINS_WAREHOUSE) outside the inbox (--inbox, BULLETINS_INBOX)"
        )
    for folder in (settings.lake_dir, settings.reports_dir, settings.serve_prefect_home):
        if isinstance(folder, Path) and inbox.is_relative_to(folder):
            raise SettingsError(
                f"the inbox {inbox} is inside {folder}, which runs write: every run would read its own files; "
                "put the inbox (--inbox, BULLETINS_INBOX) elsewhere"
            )
