"""The lake as Delta tables: the batch record, the one-time migration of a Parquet lake,
maintenance, and any Delta reader opening the lake (docs/delta-lake.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from deltalake import DeltaTable
from pipeline_helpers import (
    ALL_SCHEMAS,
    all_inbox_names,
    load_without_prefect,
    make_inbox,
    marts_copy,
    snapshot,
    to_parquet_lake,
)

from flows.orchestration.flow import bulletin_etl
from flows.settings import Settings
from flows.warehouse import batch_record, build, lake, legacy_lake, maintain, migrate, plans
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.readers.export import MART_ORDER
from flows.warehouse.schema import LAKE_TABLES

pytestmark = pytest.mark.usefixtures("prefect_harness")

EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)


def lake_rows(lake_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every raw Delta table, sorted: equal = the same lake content."""
    out = {}
    for table in LAKE_TABLES:
        dt = DeltaTable(lake.table_uri(lake_dir, table))
        out[table] = sorted((tuple(r.values()) for r in dt.to_pyarrow_table().to_pylist()), key=repr)
    return out


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse loaded in two takes (two lake batches), its marts' copy written."""
    root = tmp_path_factory.mktemp("delta")
    names = all_inbox_names()
    make_inbox(root / "inbox", names[:3])
    load_without_prefect(root / "inbox", root / "wh")
    make_inbox(root / "inbox", names)
    db_path = load_without_prefect(root / "inbox", root / "wh")
    build.refresh_marts_copy(db_path, root / "wh" / "lake")
    assert len(lake.complete_batches(root / "wh" / "lake")) == 2
    return root


def _as_previous_version(root: Path, target: Path, *, keep_warehouse: bool) -> Path:
    """A copy of the warehouse whose lake is the Parquet lake the previous version wrote
    (its parts by `legacy_lake`'s writer), with a plan of a run that did not finish and
    the marts' Parquet copy; returns the copy's warehouse folder."""
    shutil.copytree(root, target)
    wh = target / "wh"
    lake_dir = wh / "lake"
    to_parquet_lake(lake_dir)
    planned = plan_run(target / "inbox", EMPTY).to_parse[:2]
    (lake_dir / plans.LEGACY_PLANS_DIR).mkdir()
    payload = {"run": "20250101T000000000000Z", "entries": json.loads(plans.plan_entries_json(planned))}
    (lake_dir / plans.LEGACY_PLANS_DIR / "20250101T000000000000Z.json").write_text(json.dumps(payload))
    (lake_dir / lake.MARTS_DIR).mkdir()
    for table in MART_ORDER:
        (lake_dir / lake.MARTS_DIR / f"{table}.parquet").write_bytes(b"PAR1 the old copy")
    if not keep_warehouse:
        shutil.rmtree(wh / ".writer", ignore_errors=True)
        (wh / "bulletins.duckdb").unlink()
    assert migrate.needs_migration(lake_dir)
    return wh


@pytest.mark.scenario
def test_a_parquet_lake_is_converted_on_the_first_run_with_nothing_lost(two_batches: Path, tmp_path: Path) -> None:
    source = two_batches / "wh"
    wh = _as_previous_version(two_batches, tmp_path / "old", keep_warehouse=True)
    lake_dir = wh / "lake"
    old_parts = sorted(p.relative_to(lake_dir) for p in lake_dir.rglob("*.parquet") if lake.MARTS_DIR not in p.parts)
    load_without_prefect(tmp_path / "old" / "inbox", wh)  # the flow's steps: nothing new, the lake converted
    assert not migrate.needs_migration(lake_dir)
    assert lake_rows(lake_dir) == lake_rows(source / "lake")  # every row of every table, once
    assert snapshot(wh / "bulletins.duckdb", ALL_SCHEMAS) == snapshot(source / "bulletins.duckdb", ALL_SCHEMAS)
    # The old parts are kept aside, the plan is in the batch record, the old marts' copy gone.
    kept = sorted(p.relative_to(lake_dir / lake.MIGRATED_DIR) for p in (lake_dir / lake.MIGRATED_DIR).rglob("*"))
    assert [p for p in kept if p.suffix == ".parquet"] == old_parts
    assert [i.path for i in plans.read_plans(lake_dir)] == [
        i.path for i in plan_run(tmp_path / "old" / "inbox", EMPTY).to_parse[:2]
    ]
    assert not (lake_dir / plans.LEGACY_PLANS_DIR).exists()
    assert lake.legacy_mart_files(lake_dir) == []
    assert batch_record.batches_in(lake_dir, batch_record.MIGRATED) == set(lake.complete_batches(source / "lake"))
    # The marts' copy written from the converted warehouse equals the one before.
    build.refresh_marts_copy(wh / "bulletins.duckdb", lake_dir)
    assert marts_copy(lake_dir) == marts_copy(source / "lake")
    assert migrate.migrate(lake_dir, loaded=set()) is None  # once


@pytest.mark.scenario
def test_a_parquet_lake_without_its_warehouse_loads_the_same(two_batches: Path, tmp_path: Path) -> None:
    """The converted batches are pending for a new warehouse: loaded, the marts as before."""
    wh = _as_previous_version(two_batches, tmp_path / "old", keep_warehouse=False)
    summary = bulletin_etl(inbox=str(tmp_path / "old" / "inbox"), warehouse=str(wh))
    assert (summary.batches_recovered, summary.parse_tasks) == (2, 0)  # loaded from the lake, nothing parsed
    source = two_batches / "wh"
    assert snapshot(wh / "bulletins.duckdb") == snapshot(source / "bulletins.duckdb")
    assert marts_copy(wh / "lake") == marts_copy(source / "lake")
    # The run's states in the record: the converted batches loaded, the old plan and its own closed.
    lake_dir = wh / "lake"
    assert batch_record.batches_in(lake_dir, batch_record.LOADED) == set(lake.complete_batches(source / "lake"))
    closed = {r["run"] for r in batch_record.read(lake_dir, [batch_record.PLAN_CLOSED])}
    assert "20250101T000000000000Z" in closed and plans.read_plans(lake_dir) == []


@pytest.mark.scenario
def test_a_conversion_killed_midway_is_resumed_by_the_next_run(
    two_batches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = _as_previous_version(two_batches, tmp_path / "old", keep_warehouse=True)
    lake_dir = wh / "lake"
    appended = 0

    def killed_on_the_ninth_table(*args: Any, **kwargs: Any) -> bool:
        nonlocal appended
        appended += 1
        if appended == 9:  # the second batch: three tables in, the rest not
            raise KeyboardInterrupt("killed")
        return real_append(*args, **kwargs)

    real_append = lake.append_arrow
    monkeypatch.setattr(lake, "append_arrow", killed_on_the_ninth_table)
    with pytest.raises(KeyboardInterrupt):
        migrate.migrate(lake_dir, loaded=set())
    monkeypatch.undo()
    assert migrate.needs_migration(lake_dir)
    done = migrate.migrate(lake_dir, loaded=set())
    assert done is not None and done.batches == 1 and done.problems == []
    assert lake_rows(lake_dir) == lake_rows(two_batches / "wh" / "lake")  # nothing doubled, nothing lost
    assert not migrate.needs_migration(lake_dir)


def test_a_damaged_part_of_the_parquet_lake_is_restored_before_it_is_converted(
    two_batches: Path, tmp_path: Path
) -> None:
    """The old audit runs first: a part the warehouse loaded is written again from it."""
    wh = _as_previous_version(two_batches, tmp_path / "old", keep_warehouse=True)
    lake_dir = wh / "lake"
    first = legacy_lake.complete_legacy_batches(lake_dir)[0]
    part = legacy_lake.part_path(lake_dir, "articles", first)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 3])
    load_without_prefect(tmp_path / "old" / "inbox", wh)
    assert lake_rows(lake_dir) == lake_rows(two_batches / "wh" / "lake")


def test_the_batch_record_says_what_happened_to_each_batch(two_batches: Path, tmp_path: Path) -> None:
    shutil.copytree(two_batches, tmp_path / "c")
    lake_dir = tmp_path / "c" / "wh" / "lake"
    batches = lake.complete_batches(lake_dir)
    written = batch_record.read(lake_dir, [batch_record.WRITTEN])
    assert sorted(r["batch_id"] for r in written) == batches
    assert all(isinstance(r["files"], int) and r["files"] > 0 for r in written)
    # The record is a Delta table like the others: any reader, e.g. DuckDB through pyarrow.
    with duckdb.connect() as con:
        con.register("record", DeltaTable(lake.table_uri(lake_dir, batch_record.RECORD_TABLE)).to_pyarrow_dataset())
        states = con.execute("select state, count(*) from record group by all order by all").fetchall()
    assert states == [("written", 2)]  # these batches were written by the flow's pure steps (no plan)
    assert batch_record.record_loaded(lake_dir, batches) == 2
    assert batch_record.record_loaded(lake_dir, batches) == 0  # once per batch


def test_plans_are_closed_not_deleted(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("页", encoding="utf-8")
    items = plan_run(inbox, EMPTY).to_parse
    plans.write_plan(tmp_path, "r1", items)
    plans.write_plan(tmp_path, "r2", items)
    plans.write_plan(tmp_path, "r2", items)  # a retry records nothing more
    assert len(plans.read_plans(tmp_path)) == 2
    plans.remove_plans(tmp_path, keep="r2")
    assert [i.path for i in plans.read_plans(tmp_path)] == ["a.txt"]
    plans.remove_plans(tmp_path)
    assert plans.read_plans(tmp_path) == []
    states = [(r["run"], r["state"]) for r in batch_record.read(tmp_path)]
    assert sorted(states) == [("r1", "plan_closed"), ("r1", "planned"), ("r2", "plan_closed"), ("r2", "planned")]


def test_maintenance_compacts_small_files_and_readers_keep_the_rows(two_batches: Path, tmp_path: Path) -> None:
    shutil.copytree(two_batches, tmp_path / "c")
    settings = Settings.resolve(tmp_path / "c" / "inbox", tmp_path / "c" / "wh")
    lake_dir = settings.lake_dir
    before = lake_rows(lake_dir)
    files_before = len(lake.data_files(lake_dir, "articles"))
    assert files_before == 2
    report = maintain.maintain(settings)
    assert len(lake.data_files(lake_dir, "articles")) == 1  # the two batches' files in one
    assert lake_rows(lake_dir) == before
    assert report.compacted["articles"] == (2, 1)
    # The files compaction replaced stay for readers of older versions until the retention passes.
    assert report.vacuumed == 0
    dt = DeltaTable(lake.table_uri(lake_dir, "articles"))
    dt.load_as_version(dt.version() - 1)
    assert dt.to_pyarrow_table().num_rows == len(before["articles"])
    # Still one batch each, loadable by id (file pruning on the merged file's batch range).
    assert lake.complete_batches(lake_dir) == lake.complete_batches(two_batches / "wh" / "lake")
    # A vacuum with no retention left removes them (what `--retention-hours 0` does).
    report = maintain.maintain(settings, retention_hours=0)
    assert report.vacuumed >= 1 and lake_rows(lake_dir) == before


def test_any_delta_reader_opens_the_lake(two_batches: Path) -> None:
    """deltalake alone, and DuckDB through the table's pyarrow dataset (no delta extension)."""
    lake_dir = two_batches / "wh" / "lake"
    uri = lake.table_uri(lake_dir, "bulletins")
    with duckdb.connect() as con:
        con.register("bulletins", DeltaTable(uri).to_pyarrow_dataset())
        (duck_rows,) = con.execute("select count(*) from bulletins").fetchone() or (0,)
    assert duck_rows == DeltaTable(uri).to_pyarrow_table().num_rows > 0


def test_bulletins_maintain_says_what_it_did_and_refuses_a_bad_retention(
    two_batches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    shutil.copytree(two_batches, tmp_path / "c")
    runner = CliRunner()
    result = runner.invoke(app, ["maintain", "--warehouse", str(tmp_path / "c" / "wh")])
    assert result.exit_code == 0, result.output
    assert "合并小文件：articles 2→1" in result.output and "保留期（168 小时）" in result.output
    monkeypatch.setenv(maintain.RETENTION_ENV, "a week")
    result = runner.invoke(app, ["maintain", "--warehouse", str(tmp_path / "c" / "wh")])
    assert result.exit_code == 2
    assert result.output == (
        "error: BULLETINS_LAKE_RETENTION_HOURS must be a whole number of at least 0, not 'a week'\n"
    )


def test_a_table_whose_log_cannot_be_read_is_put_right_from_the_warehouse(two_batches: Path, tmp_path: Path) -> None:
    """A damaged commit file: the run sets the table aside whole, recreates it and restores
    its loaded batches from the warehouse, and says so; it does not crash."""
    shutil.copytree(two_batches, tmp_path / "c")
    wh = tmp_path / "c" / "wh"
    lake_dir = wh / "lake"
    before = lake_rows(lake_dir)
    log = sorted((lake_dir / "articles" / "_delta_log").glob("*.json"))[-1]
    log.write_text("{not json", encoding="utf-8")
    summary = bulletin_etl(inbox=str(tmp_path / "c" / "inbox"), warehouse=str(wh))
    assert summary.lake_line().startswith("lake: 2 batch(es) restored from the warehouse, 0 set aside")
    assert lake_rows(lake_dir) == before
    assert (lake_dir / lake.SET_ASIDE_DIR / "articles" / "_delta_log" / log.name).is_file()  # kept, not deleted
    restored = batch_record.read(lake_dir, [batch_record.RESTORED])
    assert len(restored) == 2 and all("the articles table's log cannot be read" in str(r["reason"]) for r in restored)


def test_weekly_maintenance_is_due_a_week_after_the_last_and_never_on_a_first_run(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 4, 8, tzinfo=UTC)
    assert maintain.maintenance_due(tmp_path, now) is False  # no stamp: one is written, due a week on
    assert maintain.maintenance_due(tmp_path, now + timedelta(days=6, hours=23)) is False
    assert maintain.maintenance_due(tmp_path, now + maintain.MAINTAIN_EVERY) is True
    maintain.stamp_maintained(tmp_path, now + maintain.MAINTAIN_EVERY)
    assert maintain.maintenance_due(tmp_path, now + maintain.MAINTAIN_EVERY + timedelta(hours=1)) is False
    (tmp_path / maintain.STAMP_NAME).write_text("{not json", encoding="utf-8")
    assert maintain.maintenance_due(tmp_path, now) is True  # an unreadable stamp: maintain, and write it anew


@pytest.mark.scenario
def test_a_run_maintains_the_lake_when_the_last_maintenance_is_a_week_old(two_batches: Path, tmp_path: Path) -> None:
    """Under serve (or any schedule) the lake is compacted weekly by the runs themselves."""
    from datetime import UTC, datetime

    shutil.copytree(two_batches, tmp_path / "c")
    wh = tmp_path / "c" / "wh"
    lake_dir = wh / "lake"
    before = lake_rows(lake_dir)
    assert len(lake.data_files(lake_dir, "articles")) == 2
    maintain.stamp_maintained(lake_dir, datetime.now(UTC) - maintain.MAINTAIN_EVERY)  # last week's
    summary = bulletin_etl(inbox=str(tmp_path / "c" / "inbox"), warehouse=str(wh))
    assert "maintain" in summary.seconds and summary.warnings == [w for w in summary.warnings if "湖维护" not in w]
    assert len(lake.data_files(lake_dir, "articles")) == 1  # compacted; rows as they were
    assert lake_rows(lake_dir) == before
    assert not maintain.maintenance_due(lake_dir)  # stamped: the next run does nothing of it
    again = bulletin_etl(inbox=str(tmp_path / "c" / "inbox"), warehouse=str(wh))
    assert "maintain" not in again.seconds


def test_open_plans_are_read_oldest_first_and_closed_plans_entries_are_never_read(tmp_path: Path) -> None:
    """Every plan stays in the batch record with its entries (most of the record's bytes):
    a run reads the entries of the plans still open only, and closing plans reads none."""
    from flows.warehouse.inbox import InboxFile

    batch_record.create_tables(tmp_path)
    first, second, third = (InboxFile(f"2021/{n}.txt", n, n, f"{n:064x}", n) for n in (1, 2, 3))
    plans.write_plan(tmp_path, "run-a", [first])
    plans.write_plan(tmp_path, "run-b", [second])
    plans.remove_plans(tmp_path, keep="run-b")  # run-a's entries are recorded: its plan closes
    plans.write_plan(tmp_path, "run-c", [third])
    assert plans.read_plans(tmp_path) == [second, third]
    states = batch_record.read(tmp_path, [batch_record.PLANNED, batch_record.PLAN_CLOSED], columns=["state"])
    assert [(r["run"], r["state"]) for r in states] == [
        ("run-a", "planned"),
        ("run-b", "planned"),
        ("run-a", "plan_closed"),
        ("run-c", "planned"),
    ]
    assert all("entries" not in r for r in states)
    plans.remove_plans(tmp_path)
    assert plans.read_plans(tmp_path) == []
