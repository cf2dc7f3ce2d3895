"""Paths and settings, defined once.

The jobs are modules of their own; every name is importable from here (`from flows.settings import X`):
- `paths`: the project's folders (`PROJECT_DIR`, `SQL_DIR`) and a run's default inbox and warehouse;
- `variables`: every BULLETINS_* variable declared once (`VARIABLES`, of `Number` and `Text`) with its default;
- `values`: a variable's text as a value (bounds, flags, addresses, memory limits), or `SettingsError`;
- `s3`: an inbox in an S3-compatible store (`S3Location`) and an inbox as given (`inbox_location`);
- `host`: the cores a run may use and today's date where the bulletins are published;
- `resolution`: `Settings`, resolved from arguments, the environment and defaults, and `validate_paths`.
"""

from __future__ import annotations

from flows.settings.errors import SettingsError
from flows.settings.host import LOCAL_TIMEZONE, SCHEDULE_CRON, SCHEDULE_TIMEZONE, local_today, usable_cores
from flows.settings.paths import DEFAULT_INBOX, DEFAULT_WAREHOUSE, PROJECT_DIR, SQL_DIR
from flows.settings.resolution import Settings, validate_paths
from flows.settings.s3 import S3_SCHEME, InboxLocation, S3Location, inbox_location
from flows.settings.values import MIN_QUERY_MEMORY_BYTES, dask_address, env_flag, env_number, env_url, memory_limit
from flows.settings.variables import (
    DASK_ADDRESS,
    DASK_ADDRESS_ENV,
    DEFAULT_INLINE_PARSE_MAX_BYTES,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_NOTIFY_STREAK_WEEKS,
    DEFAULT_QUERY_MEMORY_LIMIT,
    DEFAULT_QUERY_TIMEOUT_S,
    DEFAULT_RUN_TIMEOUT_S,
    DEFAULT_STALE_AFTER_DAYS,
    INBOX,
    INLINE_PARSE_MAX_BYTES,
    LAKE,
    LAKE_RETENTION,
    LOCK_TIMEOUT,
    MAX_FILE_BYTES,
    MAX_FILE_BYTES_ENV,
    MAX_LOCK_TIMEOUT_S,
    MAX_RUN_TIMEOUT_S,
    NOTIFY_STREAK_WEEKS,
    NOTIFY_URL,
    PARSE_WORKERS,
    PUBLISH,
    QUERY_MEMORY_LIMIT,
    QUERY_TIMEOUT,
    RUN_TIMEOUT,
    STALE_AFTER_DAYS,
    TRACEBACK,
    VARIABLES,
    WAREHOUSE,
    Number,
    Text,
)

__all__ = [
    "DASK_ADDRESS",
    "DASK_ADDRESS_ENV",
    "DEFAULT_INBOX",
    "DEFAULT_INLINE_PARSE_MAX_BYTES",
    "DEFAULT_LOCK_TIMEOUT_S",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_NOTIFY_STREAK_WEEKS",
    "DEFAULT_QUERY_MEMORY_LIMIT",
    "DEFAULT_QUERY_TIMEOUT_S",
    "DEFAULT_RUN_TIMEOUT_S",
    "DEFAULT_STALE_AFTER_DAYS",
    "DEFAULT_WAREHOUSE",
    "INBOX",
    "INLINE_PARSE_MAX_BYTES",
    "LAKE",
    "LAKE_RETENTION",
    "LOCAL_TIMEZONE",
    "LOCK_TIMEOUT",
    "MAX_FILE_BYTES",
    "MAX_FILE_BYTES_ENV",
    "MAX_LOCK_TIMEOUT_S",
    "MAX_RUN_TIMEOUT_S",
    "MIN_QUERY_MEMORY_BYTES",
    "NOTIFY_STREAK_WEEKS",
    "NOTIFY_URL",
    "PARSE_WORKERS",
    "PROJECT_DIR",
    "PUBLISH",
    "QUERY_MEMORY_LIMIT",
    "QUERY_TIMEOUT",
    "RUN_TIMEOUT",
    "S3_SCHEME",
    "SCHEDULE_CRON",
    "SCHEDULE_TIMEZONE",
    "SQL_DIR",
    "STALE_AFTER_DAYS",
    "TRACEBACK",
    "VARIABLES",
    "WAREHOUSE",
    "InboxLocation",
    "Number",
    "S3Location",
    "Settings",
    "SettingsError",
    "Text",
    "dask_address",
    "env_flag",
    "env_number",
    "env_url",
    "inbox_location",
    "local_today",
    "memory_limit",
    "usable_cores",
    "validate_paths",
]
