"""Loading lake batches and building the models, all in one DuckDB transaction.

Pure functions over a connection: the flow's task and `bulletins rebuild` share them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flows.settings import SQL_DIR, Settings
from flows.warehouse import (
    batch_record,
    corrections,
    datatests,
    db,
    holds,
    lake,
    lake_audit,
    lake_upgrade,
    migrate,
    models,
    seeds,
    snapshots,
)
from flows.warehouse.atomic import replace_durably
from flows.warehouse.faults import checkpoint
from flows.warehouse.lake_audit import LakeProblem
from flows.warehouse.reasons import HELD_OUT

log = logging.getLogger(__name__)


class DataTestsFailed(RuntimeError):
    """The SQL data tests returned failing rows: the load was rolled back."""


class NoLake(RuntimeError):
    """`rebuild` found no lake to rebuild from (a mistyped --warehouse, most likely)."""


def models_fingerprint() -> str:
    """Hash of the SQL models and seeds (the format declarations included): a change
    rebuilds the models even with no new files."""
    digest = hashlib.sha256()
    for path in sorted(SQL_DIR.rglob("*")):
        if path.is_file() and path.suffix in {".sql", ".csv"}:
            digest.update(path.relative_to(SQL_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    digest.update(repr(seeds.bulletin_formats()).encode())
    return digest.hexdigest()


def load_and_build(
    con: duckdb.DuckDBPyConnection, lake_dir: lake.Lake, batch_ids: list[str], seconds: dict[str, float] | None = None
) -> bool:
    """Load batches, build the models and run the data tests; commit only if all pass.

    Returns whether anything was done: with no batch to load and models built from
    the same SQL and seeds, the warehouse is left untouched. `seconds`, when given,
    receives the time spent in each step (load, models, data_tests, commit).

    When a data test fails, the file it fails with is found among the files being loaded
    (and those a hold under other SQL kept out), held out (`flows.warehouse.holds`), and
    the rest is loaded. DataTestsFailed only when the failure is not a file's: with all
    of them held out the test still fails (a bug in the SQL itself).
    """
    clock = _Stopwatch(seconds if seconds is not None else {})
    fingerprint = models_fingerprint()
    current = con.execute("select value from ingest.model_state where key = 'models_fingerprint'").fetchall()
    # The corrections on record are built into the models too: a decision rebuilds them.
    built_from = corrections.state_fingerprint(fingerprint, corrections.read_decisions(lake_dir))
    if not batch_ids and current == [(built_from,)]:
        return False
    held = holds.read_holds(lake_dir, fingerprint)
    failures = _attempt(con, lake_dir, batch_ids, held, fingerprint, clock, commit=True)
    if failures:
        found = _isolate(con, lake_dir, batch_ids, held, fingerprint, clock)
        if not found:
            described = ", ".join(f.describe() for f in failures)
            raise DataTestsFailed(
                f"data tests failed: {described}; load rolled back: the failure is not one file's "
                "(it fails with every new file held out): a bug in sql/, fix it and run again"
            )
        holds.add_holds(lake_dir, fingerprint, found)
        for hold in found:
            log.warning("%s: %s", hold.path, hold.reason)
        failures = _attempt(con, lake_dir, batch_ids, [*held, *found], fingerprint, clock, commit=True)
        if failures:  # cannot happen: the isolation ran this very load
            raise DataTestsFailed("data tests failed: " + ", ".join(f.describe() for f in failures))
    con.execute("checkpoint")
    clock.lap("commit")
    return True


def _attempt(
    con: duckdb.DuckDBPyConnection,
    lake_dir: lake.Lake,
    batch_ids: list[str],
    held: list[holds.Hold],
    fingerprint: str,
    clock: _Stopwatch,
    *,
    commit: bool,
) -> list[datatests.DataTestFailure]:
    """Load, hold out, build and test in one transaction; commit it when every test passes
    and `commit`, else roll it back. Returns the failures."""
    con.execute("begin transaction")
    try:
        db.load_batches(con, lake_dir, batch_ids)
        con.execute("delete from ingest.file_holds")
        if held:
            con.executemany(
                "insert or replace into ingest.file_holds values (?, ?, ?)",
                [[h.file_sha256, h.path, h.reason] for h in held],
            ).fetchall()
        decisions = corrections.read_decisions(lake_dir)  # read under the run lock, as the check above
        corrections.load(con, decisions)
        checkpoint("loaded")
        clock.lap("load")
        seeds.load_seeds(con)
        models.build_models(con)
        checkpoint("built")
        clock.lap("models")
        failures = datatests.run_data_tests(con)
        clock.lap("data_tests")
        if failures or not commit:
            con.execute("rollback")
            return failures
        built_from = corrections.state_fingerprint(fingerprint, decisions)
        con.execute("insert or replace into ingest.model_state values ('models_fingerprint', ?)", [built_from])
        checkpoint("tested")
        con.execute("commit")
        checkpoint("committed")
    except BaseException:
        with suppress(duckdb.TransactionException):  # a failed commit (a full disk) ended it: raise the cause
            con.execute("rollback")
        raise
    return []


def _isolate(
    con: duckdb.DuckDBPyConnection,
    lake_dir: lake.Lake,
    batch_ids: list[str],
    held: list[holds.Hold],
    fingerprint: str,
    clock: _Stopwatch,
) -> list[holds.Hold]:
    """The files a data test fails with, taken in ingest order; empty when it fails without any.

    Candidates are the files with rows in `batch_ids` and those held under other SQL.
    Taking them in ingest order, the first file whose addition makes a test fail is held
    out (found by bisection: log2(n) trial builds), then the search goes on past it. The
    outcome is the one loading them one by one would give, so a rebuild holds the same.
    """
    held_shas = {h.file_sha256 for h in held}
    rows = lake.read_files_rows(lake_dir, batch_ids)
    rows += [{"file_sha256": h.file_sha256, "path": h.path, "status": "loaded", "ingest_seq": -1} for h in
             holds.read_holds(lake_dir) if h.file_sha256 not in held_shas]  # fmt: skip
    candidates: list[tuple[str, str]] = []
    for row in sorted(rows, key=lambda r: r["ingest_seq"]):
        key = (row["file_sha256"], row["path"])
        if row["status"] in ("loaded", "partial") and row["file_sha256"] not in held_shas and key not in candidates:
            candidates.append(key)

    def fails(kept: list[tuple[str, str]]) -> list[datatests.DataTestFailure]:
        """The failures with only `kept` of the candidates taken in (the others held out)."""
        trial = [*held, *(holds.Hold(sha, path, "trial") for sha, path in candidates if (sha, path) not in kept)]
        return _attempt(con, lake_dir, batch_ids, trial, fingerprint, clock, commit=False)

    if fails([]):
        return []
    found: list[holds.Hold] = []
    good: list[tuple[str, str]] = []  # taken in, in order, with every test passing
    rest = list(candidates)
    while rest and fails([*good, *rest]):
        lo, hi = 0, len(rest)  # good + rest[:lo] passes; good + rest[:hi] fails
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fails([*good, *rest[:mid]]):
                hi = mid
            else:
                lo = mid
        failures = fails([*good, *rest[:hi]])
        sha, path = rest[hi - 1]
        found.append(holds.Hold(sha, path, held_out_reason(failures)))
        good += rest[: hi - 1]
        rest = rest[hi:]
    return found


def held_out_reason(failures: Sequence[datatests.DataTestFailure]) -> str:
    """The reason a file held out by the data tests that fail with it records."""
    return (
        f"{HELD_OUT}{', '.join(f.name for f in failures)} failed with this file "
        f"({'; '.join(f.describe() for f in failures)}); the rest loaded. A page should never break a "
        "data test: report it; the file is tried again when sql/ changes"
    )


class _Stopwatch:
    """Records the seconds since the last lap under a name."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.last
        self.last = now


@dataclass(frozen=True)
class RebuildResult:
    """What `rebuild_warehouse` loaded, and the lake batches it restored or left out."""

    batches: int
    problems: list[LakeProblem] = field(default_factory=list)
    # Why the marts' Parquet copy (lake/marts) could not be written; None when it was.
    marts_not_exported: str | None = None

    @property
    def left_out(self) -> list[LakeProblem]:
        return [p for p in self.problems if p.set_aside]

    def problems_line(self) -> str:
        return "; ".join(p.line() for p in self.problems)


def rebuild_files(settings: Settings) -> list[Path]:
    """The temporary files of a rebuild (the new database and its WAL) beside the writer file."""
    tmp = settings.writer_db_path.with_name(settings.writer_db_path.name + ".rebuild")
    return [tmp, tmp.with_name(tmp.name + ".wal")]


def remove_rebuild_leftovers(settings: Settings) -> list[Path]:
    """Delete what a rebuild that was killed left behind (call under the run lock)."""
    removed = [path for path in rebuild_files(settings) if path.exists()]
    for path in removed:
        path.unlink()
    return removed


def rebuild_warehouse(settings: Settings) -> RebuildResult:
    """Recreate the DuckDB file from every sound lake batch.

    Every batch is checked first (`lake_audit`, in full): a part the old warehouse can
    give back is written again from it; a batch it cannot is set aside and reported, and
    the rebuild goes on with the rest. The new file replaces the old one only when built.
    """
    from flows.warehouse.locks import run_lock

    if not lake.exists(settings.lake_dir):
        # Nothing to rebuild from: creating an empty warehouse here would hide a typo.
        raise NoLake(f"no lake at {settings.lake_dir}: nothing to rebuild from (is --warehouse the right folder?)")
    with run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s):
        remove_rebuild_leftovers(settings)
        problems = _audit_with_old_warehouse(settings)
        batch_ids = lake.complete_batches(settings.lake_dir)
        # A batch a killed run's worker completed after a later run parsed its files again
        # (`lake_audit.late_batches`): the lake keeps one batch per entry.
        late = lake_audit.set_late_batches_aside(
            settings.lake_dir, lake.read_files_rows(settings.lake_dir, batch_ids), []
        )
        problems += late
        batch_ids = [b for b in batch_ids if b not in {p.batch_id for p in late}]
        tmp = rebuild_files(settings)[0]
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = db.connect(tmp)
            try:
                db.create_raw_tables(con)
                load_and_build(con, settings.lake_dir, batch_ids)
            finally:
                con.close()
        except BaseException:
            remove_rebuild_leftovers(settings)  # a failed rebuild leaves nothing behind
            raise
        # Swap in the finished file, then publish it: readers never see a half-built warehouse.
        writer = settings.writer_db_path
        writer.with_name(writer.name + ".wal").unlink(missing_ok=True)
        replace_durably(tmp, writer)
        snapshots.remove_leftovers(settings.db_path)
        snapshots.publish(writer, settings.db_path)
        batch_record.record_loaded(settings.lake_dir, batch_ids)
        # The marts' copy follows every build, a rebuild's too (readers without DuckDB).
        marts_not_exported = refresh_marts_copy(settings.db_path, settings.lake_dir)
    return RebuildResult(batches=len(batch_ids), problems=problems, marts_not_exported=marts_not_exported)


def _audit_with_old_warehouse(settings: Settings) -> list[LakeProblem]:
    """Convert a Parquet lake (once), then check every lake batch; the warehouse being
    replaced gives back what it loaded."""
    old = None
    # The writer file; a warehouse of the version before snapshots has only the published one.
    old_path = settings.writer_db_path if settings.writer_db_path.exists() else settings.db_path
    if old_path.exists():
        try:
            old = db.connect(old_path, read_only=True)
            loaded = db.loaded_batches(old)
        except (duckdb.Error, db.WarehouseDamaged) as exc:  # damaged: nothing to restore from
            log.warning("the old warehouse cannot give lake parts back: %s", str(exc).splitlines()[0])
            if old is not None:
                old.close()
            old, loaded = None, set()
    else:
        loaded = set()
    try:
        restore = (lambda table, batch_id: db.batch_rows(old, table, batch_id)) if old is not None else None
        converted = migrate.migrate(settings.lake_dir, loaded=loaded, restore=restore)
        if converted is not None:
            log.warning(converted.line())
        found = converted.problems if converted is not None else []
        found += lake_audit.audit(settings.lake_dir, loaded=loaded, full=True, restore=restore)
        upgraded, again = lake_upgrade.upgrade_lake(
            settings.lake_dir, lambda: lake_audit.audit(settings.lake_dir, loaded=loaded, full=True, restore=restore)
        )
        for line in upgraded.lines():
            log.warning(line)
        return found + again
    finally:
        if old is not None:
            old.close()


def export_marts_to_lake(db_path: Path, lake_dir: lake.Lake) -> list[str]:
    """Write each mart to its Delta table `lake/marts/<table>/` from the warehouse at `db_path` (read-only)."""
    from flows.warehouse.readers.export import MART_ORDER, mart_arrow

    with db.connection(db_path, read_only=True) as con:
        return [lake.write_mart(lake_dir, table, mart_arrow(con, table)) for table in MART_ORDER]


def refresh_marts_copy(db_path: Path, lake_dir: lake.Lake) -> str | None:
    """Write the marts' copy after a build; why it could not be written (None when it was).

    A failure never fails the build: the warehouse stands, the copy is removed (no stale
    copy beside a newer warehouse) and the next build writes it again.
    """
    try:
        export_marts_to_lake(db_path, lake_dir)
    except Exception as exc:
        remove_marts_copy(lake_dir)
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def remove_marts_copy(lake_dir: lake.Lake) -> None:
    """Delete the marts' Delta copy (when it could not be brought up to date)."""
    from flows.warehouse.readers.export import MART_ORDER

    for table in MART_ORDER:
        lake.remove_mart(lake_dir, table)


def marts_missing_in_lake(lake_dir: lake.Lake) -> bool:
    from flows.warehouse.readers.export import MART_ORDER

    return any(not lake.mart_exists(lake_dir, table) for table in MART_ORDER)
