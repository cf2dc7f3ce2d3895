"""Loading lake batches and building the models, all in one DuckDB transaction.

Pure functions over a connection: the flow's task and `bulletins rebuild` share them.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import duckdb

from flows.settings import SQL_DIR, Settings
from flows.warehouse import db as warehouse
from flows.warehouse import lake, models

log = logging.getLogger(__name__)


class DataTestsFailed(RuntimeError):
    """The SQL data tests returned failing rows: the load was rolled back."""


class NoLake(RuntimeError):
    """`rebuild` found no lake to rebuild from (a mistyped --warehouse, most likely)."""


def models_fingerprint() -> str:
    """Hash of the SQL models and seeds: a change rebuilds the models even with no new files."""
    digest = hashlib.sha256()
    for path in sorted(SQL_DIR.rglob("*")):
        if path.is_file() and path.suffix in {".sql", ".csv"}:
            digest.update(path.relative_to(SQL_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_and_build(con: duckdb.DuckDBPyConnection, lake_dir: Path, batch_ids: list[str]) -> bool:
    """Load batches, build the models and run the data tests; commit only if all pass.

    Returns whether anything was done: with no batch to load and models built from
    the same SQL and seeds, the warehouse is left untouched.
    """
    fingerprint = models_fingerprint()
    current = con.execute("select value from ingest.model_state where key = 'models_fingerprint'").fetchall()
    if not batch_ids and current == [(fingerprint,)]:
        return False
    con.execute("begin transaction")
    try:
        warehouse.load_batches(con, lake_dir, batch_ids)
        models.load_seeds(con)
        models.build_models(con)
        failures = models.run_data_tests(con)
        if failures:
            described = ", ".join(f.describe() for f in failures)
            raise DataTestsFailed(
                f"data tests failed: {described}; load rolled back: correct or remove the files named and run again"
            )
        con.execute("insert or replace into ingest.model_state values ('models_fingerprint', ?)", [fingerprint])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("checkpoint")
    return True


def rebuild_warehouse(settings: Settings) -> int:
    """Recreate the DuckDB file from every complete lake batch; returns the batch count."""
    from flows.warehouse.locks import run_lock

    if not settings.lake_dir.is_dir():
        # Nothing to rebuild from: creating an empty warehouse here would hide a typo.
        raise NoLake(f"no lake at {settings.lake_dir}: nothing to rebuild from (is --warehouse the right folder?)")
    with run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s):
        lake.remove_incomplete(settings.lake_dir)
        batch_ids = lake.complete_batches(settings.lake_dir)
        tmp = settings.db_path.with_name(settings.db_path.name + ".rebuild")
        for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
            stale.unlink(missing_ok=True)
        con = warehouse.connect(tmp)
        try:
            warehouse.create_raw_tables(con)
            load_and_build(con, settings.lake_dir, batch_ids)
        finally:
            con.close()
        # Swap in the finished file: readers never see a half-built warehouse.
        settings.db_path.with_name(settings.db_path.name + ".wal").unlink(missing_ok=True)
        tmp.replace(settings.db_path)
    return len(batch_ids)
