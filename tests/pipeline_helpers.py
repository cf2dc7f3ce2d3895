"""Helpers for pipeline tests: build inboxes, run the flow, snapshot the warehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from testdata import SAMPLE_PAGE

from flows.devtools.synth import bundled_files
from flows.settings import PROJECT_DIR
from flows.warehouse.db import connection

SNAPSHOT_SCHEMAS = ("core", "marts")
# Relations of core that are the loading history, as ingest.* is: their batch ids and load
# times differ between a warehouse and its rebuild, or one inbox taken in one run or in
# several. Left out of snapshots, which compare the data (their inputs, ingest.*, are not).
LOADING_HISTORY = ("core.batches",)
# Everything a run writes: for "changes nothing" and "left as it was".
ALL_SCHEMAS = ("ingest", "raw", "core", "marts")


def make_inbox(folder: Path, names: list[str] | None = None) -> Path:
    """An inbox with the real sample and the bundled synthetic weeks (or a subset)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {SAMPLE_PAGE.name: SAMPLE_PAGE.read_text(encoding="utf-8"), **bundled_files()}
    for name, text in files.items():
        if names is None or name in names:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def all_inbox_names() -> list[str]:
    return sorted([SAMPLE_PAGE.name, *bundled_files()])


def copy_bundled(template: Path, root: Path) -> Path:
    """A copy of conftest's `bundled_template` under `root` (`root/inbox`, `root/wh`): the warehouse
    `load_without_prefect(make_inbox(root / "inbox"), root / "wh")` makes, without making it again.
    Returns the DuckDB path. File times are kept: a run finds nothing new in the inbox."""
    shutil.copytree(template, root, dirs_exist_ok=True)
    return root / "wh" / "bulletins.duckdb"


def copy_sample(folder: Path, name: str) -> Path:
    target = folder / name
    shutil.copyfile(SAMPLE_PAGE, target)
    return target


def snapshot(db_path: Path, schemas: tuple[str, ...] = SNAPSHOT_SCHEMAS) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table and view in the schemas, sorted: equal snapshots = same data."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with connection(db_path, read_only=True) as con:
        names = con.execute(
            """
            select schema_name || '.' || table_name from duckdb_tables() where schema_name in ?
            union all
            select schema_name || '.' || view_name from duckdb_views() where schema_name in ?
            order by 1
            """,
            [list(schemas), list(schemas)],
        ).fetchall()
        for (name,) in names:
            if name in LOADING_HISTORY:
                continue
            rows = con.execute(f"select * from {name}").fetchall()
            out[name] = sorted(rows, key=repr)
    return out


def query(db_path: Path, sql: str, params: list | None = None) -> list[tuple[Any, ...]]:
    with connection(db_path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def load_without_prefect(inbox: Path, wh: Path, max_file_bytes: int | None = None) -> Path:
    """Take an inbox into a warehouse with the flow's pure steps (no Prefect): returns the DuckDB path.

    The steps of `bulletin_etl` but the lock, the reports and the artifacts: batches an
    interrupted run left are loaded, entries not read (links, FIFOs, hidden, too large)
    and duplicates are recorded in a files-only batch, and a rerun takes only what is new.
    """
    from datetime import UTC, datetime

    from flows.settings import DEFAULT_MAX_FILE_BYTES
    from flows.warehouse import build, db, lake, lake_audit, lake_upgrade, migrate, plans
    from flows.warehouse.inbox import batches, known_files, plan_run
    from flows.warehouse.ingest import process_batch, record_unparsed

    lake_dir, db_path = wh / "lake", wh / "bulletins.duckdb"
    wh.mkdir(parents=True, exist_ok=True)
    with connection(db_path) as con:
        db.create_raw_tables(con)
        # A Parquet lake is converted, as the flow does (the warehouse gives back damaged parts).
        loaded = db.loaded_batches(con)
        restore = lambda t, b: db.batch_rows(con, t, b)  # noqa: E731
        migrate.migrate(lake_dir, loaded=loaded, restore=restore)
        # Tables of an older schema are upgraded, as the flow does after its audit.
        lake_upgrade.upgrade_lake(
            lake_dir, lambda: lake_audit.audit(lake_dir, loaded=loaded, full=True, restore=restore)
        )
        pending = db.pending_batches(con, lake_dir)
        pending_rows = lake.read_files_rows(lake_dir, pending)
        seen_at = datetime.now(UTC)
        plan = plan_run(
            inbox,
            known_files(db.recorded_files(con), pending_rows),
            max_file_bytes or DEFAULT_MAX_FILE_BYTES,
            plans.read_plans(lake_dir),
            seen_at,
        )
        stamp = seen_at.strftime("%Y%m%dT%H%M%S%fZ")
        batch_ids = list(pending)
        missing: set[str] = set()
        for n, items in enumerate(batches(plan.to_parse), start=1):
            result = process_batch(inbox, lake_dir, f"{stamp}-{n:04d}", items, seen_at)
            batch_ids.append(result.batch_id)
            missing.update(result.missing)
        if recorded_only := plan.recorded_after(missing):
            batch_ids.append(f"{stamp}-{len(batch_ids) - len(pending) + 1:04d}")
            record_unparsed(lake_dir, batch_ids[-1], recorded_only, seen_at)
        build.load_and_build(con, lake_dir, batch_ids)
    return db_path


def bulletins(
    *args: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = (), timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m flows <args>` in a subprocess: what a user sees on the terminal.

    Its environment is this process's, without the variables whose names start with one
    of `drop`, plus `env`.
    """
    inherited = {k: v for k, v in os.environ.items() if not (drop and k.startswith(drop))}
    return subprocess.run(
        [sys.executable, "-m", "flows", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_DIR,
        env={**inherited, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def to_parquet_lake(
    lake_dir: Path, drop_columns: dict[str, list[str]] | None = None, drop_tables: tuple[str, ...] = ()
) -> list[str]:
    """Turn a Delta lake into the Parquet lake the versions before Delta wrote (in place):
    `<table>/<batch_id>.parquet` per complete batch, `files` included; `drop_columns` and
    `drop_tables` leave out what an older version did not write yet. Returns the batch ids."""
    import pyarrow.parquet as pq

    from flows.warehouse import lake, legacy_lake
    from flows.warehouse.schema import LAKE_TABLES

    batches = lake.complete_batches(lake_dir)
    parts = {(t, b): lake.read_batch(lake_dir, t, b) for t in LAKE_TABLES for b in batches if t not in drop_tables}
    shutil.rmtree(lake_dir)
    for (table, batch_id), data in parts.items():
        path = legacy_lake.part_path(lake_dir, table, batch_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data.drop_columns((drop_columns or {}).get(table, [])), path)
    return batches


def ingest_counts(db_path: Path) -> list[tuple[Any, ...]]:
    """What `ingest.files` holds: rows by status, and distinct files (nothing lost, nothing doubled)."""
    return query(
        db_path,
        "select status, count(*), count(distinct file_sha256), count(distinct path) from ingest.files group by all order by all",
    )


def marts_copy(lake_dir: Path | str) -> dict[str, list[dict[str, Any]]]:
    """The marts' Delta copy in the lake (`lake/marts/<table>/`), each mart's rows in their order.

    An s3:// lake is read with the standard AWS variables of this process (lake.storage_options).
    """
    from deltalake import DeltaTable

    from flows.warehouse import lake, lake_store
    from flows.warehouse.readers.export import MART_ORDER

    lake_dir = lake_store.location(lake_dir)  # "s3://..." as the S3 location it names
    options = lake.storage_options(lake_dir)
    return {
        t: DeltaTable(lake.mart_uri(lake_dir, t), storage_options=options).to_pyarrow_table().to_pylist()
        for t in MART_ORDER
    }
