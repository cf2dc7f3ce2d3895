"""Lake maintenance: compaction of small files and vacuum, under the run lock.

Every parse batch adds one small data file per table (and the batch record one per
commit), so a lake fed every week for years holds thousands of them; each read opens
them all. `maintain` compacts each table (`optimize.compact()`: one commit replacing
small files by larger ones, rows unchanged, batch ids kept: a batch still loads by id;
the raw tables by `lake_compact`, which keeps their page checksums) and then vacuums:
files no version newer than the retention references are deleted.

The retention (BULLETINS_LAKE_RETENTION_HOURS, default 168 h = Delta's own default of
7 days) is what a reader of an older version of a table may take: a reader that opened
the marts' copy, or a table, before a compaction or an overwrite reads the files it was
given for that long. The DuckDB snapshot people read never reads the lake. Vacuum runs
under the run lock, so no run's uncommitted file can be taken for an unreferenced one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from deltalake import DeltaTable

from flows.settings import LAKE_RETENTION, Settings, env_number
from flows.warehouse import batch_record, lake, lake_compact, lake_store, lake_upgrade, migrate
from flows.warehouse.locks import run_lock
from flows.warehouse.readers.export import MART_ORDER
from flows.warehouse.schema import LAKE_TABLES

RETENTION_ENV = LAKE_RETENTION.name
DEFAULT_RETENTION_HOURS = LAKE_RETENTION.default


def retention_hours_setting() -> int:
    """BULLETINS_LAKE_RETENTION_HOURS, or the default; a value that is no whole number of hours raises
    SettingsError (a ValueError), as every declared variable does."""
    return env_number(LAKE_RETENTION)


@dataclass
class Maintenance:
    """What `maintain` did."""

    compacted: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (files before, after)
    vacuumed: int = 0  # files deleted
    retention_hours: int = DEFAULT_RETENTION_HOURS
    not_converted: bool = False  # a Parquet lake, or tables of an older schema: `bulletins run` converts it first
    unreadable: list[str] = field(default_factory=list)  # data files compaction could not read: left alone

    def lines(self) -> list[str]:
        """What to print, in Chinese."""
        if self.not_converted:
            return ["湖仍是旧版本的格式：先运行 `bulletins run`（会自动转换为当前的 Delta 表），再做维护"]
        merged = [f"{t} {a}→{b}" for t, (a, b) in self.compacted.items() if a != b]
        lines = [
            f"合并小文件：{'，'.join(merged) if merged else '无需合并'}",
            f"清理：删除 {self.vacuumed} 个超过保留期（{self.retention_hours} 小时）且已不被引用的文件",
        ]
        if self.unreadable:  # the run's lake audit sets such a file aside and restores its batches
            lines.append(f"未合并（文件无法读取，下次运行的湖检查会处理）：{'，'.join(self.unreadable)}")
        return lines


def tables(lake_dir: lake.Lake) -> list[str]:
    """Every Delta table of the lake: the raw tables, the batch record, the marts' copy."""
    names = [*LAKE_TABLES, batch_record.RECORD_TABLE, *(f"{lake.MARTS_DIR}/{t}" for t in MART_ORDER)]
    return [n for n in names if lake.open_table(lake_dir, n) is not None]


def maintain(settings: Settings, retention_hours: int | None = None) -> Maintenance:
    """Compact and vacuum every table of the lake, under the run lock."""
    with run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s):
        return maintain_locked(settings, retention_hours)


def maintain_locked(settings: Settings, retention_hours: int | None = None) -> Maintenance:
    """`maintain`, for a caller that holds the run lock (a run's weekly maintenance)."""
    hours = retention_hours_setting() if retention_hours is None else retention_hours
    done = Maintenance(retention_hours=hours)
    # A lake a run has not converted (Parquet) or upgraded (a column added since): compaction
    # writes files in the current schema only.
    if migrate.needs_migration(settings.lake_dir) or lake_upgrade.outdated_tables(settings.lake_dir):
        done.not_converted = True
        return done
    for name in tables(settings.lake_dir):
        if name in LAKE_TABLES:  # with page checksums, as a batch's files are written (lake_compact)
            compacted = lake_compact.compact_table(settings.lake_dir, name)
            done.compacted[name] = (compacted.files_before, compacted.files_after)
            done.unreadable += [f"{name}/{path}" for path in compacted.unreadable]
        else:  # the batch record and the marts' copy, which delta-rs writes: its own compaction
            table = _open(settings, name)
            files_before = len(table.file_uris())
            table.optimize.compact()
            done.compacted[name] = (files_before, len(_open(settings, name).file_uris()))
        dt = _open(settings, name)
        deleted = dt.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False)
        done.vacuumed += len(deleted)
        dt.create_checkpoint()  # readers open the table from one file, not every commit's
    stamp_maintained(settings.lake_dir)
    return done


def _open(settings: Settings, name: str) -> DeltaTable:
    dt = lake.open_table(settings.lake_dir, name)
    assert dt is not None  # listed because it exists; nothing else writes under the lock
    return dt


# ---------------------------------------------------------------------------- weekly, by the runs

# A publishing run maintains the lake when the last maintenance is older than this: under
# `serve` (or any schedule) the lake is compacted weekly without a job of its own.
MAINTAIN_EVERY = timedelta(days=7)
STAMP_NAME = "_maintained.json"  # when the lake was last maintained (or first seen by a run)


def stamp_maintained(lake_dir: lake.Lake, when: datetime | None = None) -> None:
    """Record that the lake was maintained (or, for a new lake, that nothing is due yet)."""
    at = (when or datetime.now(UTC)).isoformat()
    lake_store.write_text(lake_dir, STAMP_NAME, json.dumps({"maintained_at": at}) + "\n")


def maintenance_due(lake_dir: lake.Lake, now: datetime | None = None) -> bool:
    """Whether a run should maintain the lake now: its last maintenance is older than MAINTAIN_EVERY.

    A lake without a stamp (new, or from before weekly maintenance) gets one and is due a week
    later: a first run never pays for a compaction it does not need. An unreadable stamp is due.
    """
    now = now or datetime.now(UTC)
    try:
        text = lake_store.read_text(lake_dir, STAMP_NAME)
    except (OSError, ValueError):
        return True
    if text is None:
        stamp_maintained(lake_dir, now)
        return False
    try:
        last = datetime.fromisoformat(json.loads(text)["maintained_at"])
    except (ValueError, KeyError, TypeError):
        return True
    return now - last >= MAINTAIN_EVERY
