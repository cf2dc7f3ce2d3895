"""Every BULLETINS_* variable, declared once: its name, default, bounds and meaning (`VARIABLES`).

`Settings.resolve` (flows/settings/resolution.py) reads them; the settings reference in
docs/reference.md is generated from them (`python -m flows.devtools.docs_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from flows.settings.paths import DEFAULT_INBOX, DEFAULT_WAREHOUSE

_N = TypeVar("_N", int, float)

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

# A unit on its list this many weeks in a row is worth a notification.
DEFAULT_NOTIFY_STREAK_WEEKS = 4

# BULLETINS_DASK_ADDRESS: a Dask scheduler that takes the parse tasks (docs/several-machines.md).
DASK_ADDRESS_ENV = "BULLETINS_DASK_ADDRESS"  # as declared below (DASK_ADDRESS)


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
    "new content up to this many bytes is parsed in the run's own process, without the pool or a Dask cluster",
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
