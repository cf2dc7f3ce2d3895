"""A lake (and a warehouse) written before a column was added get it once, nothing lost
(`flows.warehouse.lake_upgrade`, `db.create_raw_tables`): here `files.over_size_limit`,
which the planner reads instead of a reason's text."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.transaction import AddAction
from pipeline_helpers import ALL_SCHEMAS, load_without_prefect, make_inbox, snapshot
from testdata import SAMPLE_PAGE

from flows.settings import Settings
from flows.warehouse import db, lake, lake_audit, lake_compact, lake_upgrade, maintain
from flows.warehouse.inbox import known_files, plan_run
from flows.warehouse.schema import FILES, LAKE_TABLES

OLD_FILES = pa.schema([f for f in FILES if f.name != "over_size_limit"])


def _files_row(batch_id: str, path: str, status: str, reasons: list[str], seq: int) -> dict[str, Any]:
    return {
        "file_sha256": f"{seq}".ljust(64, "0"), "path": path, "size_bytes": 10, "modified_ns": 1,
        "issue_date": None, "issue_date_source": None, "encoding": None, "status": status, "reasons": reasons,
        "first_seen_at": pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py(), "ingest_seq": seq, "batch_id": batch_id,
    }  # fmt: skip


def as_older_table(lake_dir: Path, table: str, schema: pa.Schema, batches: dict[str, pa.Table]) -> None:
    """The Delta table as the previous version wrote it: `schema` (without the new column), one
    commit per batch with its transaction id, page checksums."""
    shutil.rmtree(lake_dir / table, ignore_errors=True)
    (lake_dir / table).mkdir(parents=True)
    dt = DeltaTable.create(lake.table_uri(lake_dir, table), schema)
    for batch_id, rows in batches.items():
        name = f"part-{batch_id}-old.parquet"
        pq.write_table(rows.select(schema.names).cast(schema), lake_dir / table / name, write_page_checksum=True)
        size = os.path.getsize(lake_dir / table / name)
        dt.create_write_transaction(
            [AddAction(name, size, {}, 0, True, lake.batch_range_stats([batch_id], rows.num_rows))],
            "append",
            schema,
            commit_properties=CommitProperties(app_transactions=[Transaction(app_id=batch_id, version=1)]),
        )


def old_files_batches() -> dict[str, pa.Table]:
    """Two batches of `files` rows as the previous version wrote them: one file too large."""
    big = "too large: 99 bytes, over the limit of 10 (BULLETINS_MAX_FILE_BYTES): not read"
    return {
        "b1": pa.Table.from_pylist([_files_row("b1", "a.txt", "loaded", [], 1)], schema=OLD_FILES),
        "b2": pa.Table.from_pylist(
            [
                _files_row("b2", "big.txt", "quarantined", [big], 2),
                _files_row("b2", "e.txt", "quarantined", ["empty"], 3),
            ],
            schema=OLD_FILES,
        ),
    }


# What the upgrade makes of them: (path, batch, over_size_limit).
UPGRADED = [("a.txt", "b1", False), ("big.txt", "b2", True), ("e.txt", "b2", False)]


def commit_without_rows(lake_dir: lake.Lake, batch_ids: list[str]) -> None:
    """The batches committed, with no rows, to every raw table but `files`."""
    for table in LAKE_TABLES:
        if table != "files":
            for batch_id in batch_ids:
                lake.write_part(lake_dir, table, batch_id, [])


def _old_files_lake(lake_dir: Path) -> None:
    rows = old_files_batches()
    commit_without_rows(lake_dir, list(rows))
    as_older_table(lake_dir, "files", OLD_FILES, rows)


def _rows(lake_dir: Path, table: str, old: bool = False) -> list[tuple[Any, ...]]:
    dt = DeltaTable(lake.table_uri(lake_dir, table))
    rows = dt.to_pyarrow_table().to_pylist()
    return sorted((r["path"], r["batch_id"], None if old else r["over_size_limit"]) for r in rows)


def test_a_table_written_before_a_column_existed_gets_it_once_with_nothing_lost(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    _old_files_lake(lake_dir)
    assert lake_upgrade.outdated_tables(lake_dir) == ["files"]

    done, problems = lake_upgrade.upgrade_lake(lake_dir, lambda: pytest.fail("no file is unreadable"))

    assert (done.tables, done.unreadable, problems) == ({"files": ["over_size_limit"]}, [], [])
    dt = DeltaTable(lake.table_uri(lake_dir, "files"))
    assert [f.name for f in dt.schema().fields] == LAKE_TABLES["files"].names
    # Computed from the reason the old version recorded, once; every row kept.
    assert _rows(lake_dir, "files") == UPGRADED
    # A batch is still never appended twice (its transaction id kept), and loads by id.
    assert (dt.transaction_version("b1"), dt.transaction_version("b2")) == (1, 1)
    assert [(f.min_batch, f.max_batch) for f in sorted(lake.data_files(lake_dir, "files"), key=lambda f: f.path)] == [
        ("b1", "b1"),
        ("b2", "b2"),
    ]
    assert lake.complete_batches(lake_dir) == ["b1", "b2"]
    assert lake.write_part(lake_dir, "files", "b2", []) is False
    # Once: nothing to do the next time; the audit and the compaction read the table as sound.
    assert lake_upgrade.upgrade_lake(lake_dir, lambda: [])[0].tables == {}
    assert lake_audit.audit(lake_dir, loaded=set(), full=True) == []
    assert lake_compact.compact_table(lake_dir, "files", target_bytes=1 << 20).unreadable == ()
    assert _rows(lake_dir, "files") == UPGRADED


def test_maintenance_waits_for_the_run_that_upgrades_the_lake(tmp_path: Path) -> None:
    """Compaction writes files in the current schema only: on a lake not upgraded yet it
    does nothing and says to run first."""
    settings = Settings.resolve(tmp_path / "inbox", tmp_path / "wh")
    _old_files_lake(settings.lake_dir)
    files_before = sorted(f.path for f in lake.data_files(settings.lake_dir, "files"))

    done = maintain.maintain(settings, retention_hours=0)

    assert done.not_converted and done.lines() == [
        "湖仍是旧版本的格式：先运行 `bulletins run`（会自动转换为当前的 Delta 表），再做维护"
    ]
    assert sorted(f.path for f in lake.data_files(settings.lake_dir, "files")) == files_before
    assert lake_upgrade.outdated_tables(settings.lake_dir) == ["files"]


def test_a_file_that_cannot_be_read_is_taken_out_by_the_audit_then_the_table_upgraded(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    _old_files_lake(lake_dir)
    damaged = lake_dir / "files" / "part-b1-old.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-40])
    audited: list[str] = []

    def audit_in_full() -> list[lake_audit.LakeProblem]:
        audited.append("full")
        return lake_audit.audit(lake_dir, loaded=set(), full=True)

    done, problems = lake_upgrade.upgrade_lake(lake_dir, audit_in_full)

    assert audited == ["full"]
    assert [(p.batch_id, p.action) for p in problems] == [("b1", lake_audit.SET_ASIDE)]
    assert (done.tables, done.unreadable) == ({"files": ["over_size_limit"]}, [])
    assert _rows(lake_dir, "files") == [("big.txt", "b2", True), ("e.txt", "b2", False)]
    assert not list((lake_dir / "files").glob("part-upgraded-part-b1-*"))  # the attempt's files removed


def test_an_upgrade_stopped_before_its_commit_changes_nothing_and_the_next_one_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after writing the new files, before the commit: the table is as it was
    (no reader sees files its log does not reference; vacuum removes them) and the next
    run's upgrade completes, writing them again."""
    lake_dir = tmp_path / "lake"
    _old_files_lake(lake_dir)

    class Killed(BaseException):
        pass

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(DeltaTable, "create_write_transaction", killed)
        with pytest.raises(Killed):
            lake_upgrade.upgrade_lake(lake_dir, lambda: [])
    assert lake_upgrade.outdated_tables(lake_dir) == ["files"]
    assert len(list((lake_dir / "files").glob("part-upgraded-*"))) == 2  # written, never committed

    assert [(r[0], r[1]) for r in _rows(lake_dir, "files", old=True)] == [
        ("a.txt", "b1"),
        ("big.txt", "b2"),
        ("e.txt", "b2"),
    ]
    assert lake_audit.audit(lake_dir, loaded=set(), full=False) == []  # the next run's audit
    done, _ = lake_upgrade.upgrade_lake(lake_dir, lambda: pytest.fail("no file is unreadable"))
    assert done.tables == {"files": ["over_size_limit"]}
    assert sorted(f.path for f in lake.data_files(lake_dir, "files")) == [
        "part-upgraded-part-b1-old.parquet",
        "part-upgraded-part-b2-old.parquet",
    ]
    assert _rows(lake_dir, "files") == UPGRADED


@pytest.mark.scenario
def test_a_warehouse_and_lake_of_the_previous_version_run_on_and_read_a_too_large_file_once_it_fits(
    tmp_path: Path,
) -> None:
    """The previous version wrote the lake's `files` and `ingest.files` without the column: the
    next run adds it to both (from the recorded reason), the warehouse ends as a current one
    would, and the file too large then is read once the limit is raised."""
    page = SAMPLE_PAGE.read_text(encoding="utf-8")
    limit = len(page.encode("utf-8")) + 1
    current, old = tmp_path / "current", tmp_path / "old"
    make_inbox(current / "inbox", [SAMPLE_PAGE.name])
    (current / "inbox" / "big.txt").write_text(page * 2, encoding="utf-8")
    load_without_prefect(current / "inbox", current / "wh", max_file_bytes=limit)
    shutil.copytree(current, old)  # file times kept: nothing new in its inbox
    lake_dir, db_path = old / "wh" / "lake", old / "wh" / "bulletins.duckdb"
    batches = {b: lake.read_batch(lake_dir, "files", b) for b in lake.complete_batches(lake_dir)}
    as_older_table(lake_dir, "files", OLD_FILES, batches)
    with duckdb.connect(str(db_path)) as con:
        con.execute("alter table ingest.files drop column over_size_limit")

    load_without_prefect(old / "inbox", old / "wh", max_file_bytes=limit)  # nothing new: upgraded

    assert lake_upgrade.outdated_tables(lake_dir) == []
    with duckdb.connect(str(db_path), read_only=True) as con:
        flags = con.execute("select path, over_size_limit from ingest.files order by path").fetchall()
    assert flags == sorted([("big.txt", True), (SAMPLE_PAGE.name, False)])
    assert snapshot(db_path, ALL_SCHEMAS) == snapshot(current / "wh" / "bulletins.duckdb", ALL_SCHEMAS)
    assert _rows(lake_dir, "files") == _rows(current / "wh" / "lake", "files")
    # The planner reads the column: big.txt is read again once it fits, and only then.
    with duckdb.connect(str(db_path), read_only=True) as con:
        recorded = db.recorded_files(con)
    assert plan_run(old / "inbox", known_files(recorded), limit).to_parse == []
    load_without_prefect(old / "inbox", old / "wh", max_file_bytes=2 * limit)
    with duckdb.connect(str(db_path), read_only=True) as con:
        latest = con.execute(
            "select status, over_size_limit from ingest.files where path = 'big.txt' order by ingest_seq desc limit 1"
        ).fetchone()
    assert latest == ("loaded", False)
