"""The settings of a run: `Settings`, resolved from arguments, BULLETINS_* variables and defaults,
and the check that its folders do not hold one another."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flows.settings.errors import SettingsError
from flows.settings.host import usable_cores
from flows.settings.paths import DEFAULT_INBOX, DEFAULT_WAREHOUSE
from flows.settings.s3 import InboxLocation, S3Location, inbox_location
from flows.settings.values import dask_address, env_flag, env_number, env_url, memory_limit
from flows.settings.variables import (
    DASK_ADDRESS,
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
    LOCK_TIMEOUT,
    MAX_FILE_BYTES,
    NOTIFY_STREAK_WEEKS,
    NOTIFY_URL,
    PARSE_WORKERS,
    PUBLISH,
    QUERY_MEMORY_LIMIT,
    QUERY_TIMEOUT,
    RUN_TIMEOUT,
    STALE_AFTER_DAYS,
    WAREHOUSE,
)

if TYPE_CHECKING:
    from flows.text.notify_address import Target


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
            notify_url=env_url(NOTIFY_URL.name),
            notify_streak_weeks=env_number(NOTIFY_STREAK_WEEKS),
            run_timeout_s=env_number(RUN_TIMEOUT),
            query_memory_limit=memory_limit(os.environ.get(QUERY_MEMORY_LIMIT.name, ""), QUERY_MEMORY_LIMIT.name),
            query_timeout_s=env_number(QUERY_TIMEOUT),
            dask_address=dask_address(os.environ.get(DASK_ADDRESS.name, ""), DASK_ADDRESS.name),
            publish=env_flag(PUBLISH.name, True),
        )


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
    if isinstance(inbox, S3Location):  # not a folder runs write; only an S3 lake can overlap it
        if isinstance(lake, S3Location) and _nested(inbox, lake):
            raise SettingsError(
                f"the inbox {inbox} and the lake {lake} overlap: every run would read its own files; "
                "give them prefixes apart (--inbox, BULLETINS_INBOX; --lake, BULLETINS_LAKE)"
            )
        return
    if warehouse.is_relative_to(inbox):  # the warehouse first: its lake is inside it by default
        same = " (the same folder)" if warehouse == inbox else ""
        raise SettingsError(
            f"the warehouse {warehouse} is inside the inbox {inbox}{same}: every run would read its own files; "
            "put the warehouse (--warehouse, BULLETINS_WAREHOUSE) outside the inbox (--inbox, BULLETINS_INBOX)"
        )
    if isinstance(lake, Path) and lake.is_relative_to(inbox):
        raise SettingsError(
            f"the lake {lake} is inside the inbox {inbox}: every run would read its own files; "
            "put the lake (--lake, BULLETINS_LAKE) outside the inbox (--inbox, BULLETINS_INBOX)"
        )
    for folder in (settings.lake_dir, settings.reports_dir, settings.serve_prefect_home):
        if isinstance(folder, Path) and inbox.is_relative_to(folder):
            raise SettingsError(
                f"the inbox {inbox} is inside {folder}, which runs write: every run would read its own files; "
                "put the inbox (--inbox, BULLETINS_INBOX) elsewhere"
            )
