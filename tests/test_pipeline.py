"""The bulletin-etl flow end to end, under one Prefect test harness."""

from __future__ import annotations

import multiprocessing
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from pipeline_helpers import ALL_SCHEMAS, all_inbox_names, copy_sample, make_inbox, query, snapshot

from flows.orchestration.flow import bulletin_etl
from flows.settings import Settings
from flows.warehouse import build, datatests
from flows.warehouse import db as warehouse_db
from flows.warehouse.readers.export import MART_ORDER

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run(inbox: Path, wh: Path):
    return bulletin_etl(inbox=str(inbox), warehouse=str(wh))


@pytest.fixture(scope="module")
def loaded_once(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One flow run over the sample and the bundled weeks, shared by the module's tests (read-only)."""
    root = tmp_path_factory.mktemp("loaded")
    summary = run(make_inbox(root / "inbox"), root / "wh")
    assert summary.files_loaded == 6 and summary.files_new == 6
    return root


@pytest.fixture
def loaded(loaded_once: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A test's own copy of that run's inbox and warehouse (file times kept: nothing new to the next run)."""
    shutil.copytree(loaded_once, tmp_path, dirs_exist_ok=True)
    return tmp_path / "inbox", tmp_path / "wh"


def test_flow_loads_sample_and_synthetic_weeks_into_marts(loaded: tuple[Path, Path]) -> None:
    _, wh = loaded
    db = wh / "bulletins.duckdb"
    assert query(db, "select status, count(*) from ingest.files group by 1") == [("loaded", 6)]
    weeks = query(
        db,
        "select week_start, week_end, due, closed, overdue, disputed, units_on_list from marts.city_week_performance order by 1",
    )
    assert weeks == [
        (date(2020, 12, 7), date(2020, 12, 13), 5602, 5075, 106, 181, 6),
        (date(2020, 12, 14), date(2020, 12, 20), 5723, 5184, 131, 176, 9),
        (date(2020, 12, 21), date(2020, 12, 27), 5688, 5198, 99, 170, 6),
        (date(2020, 12, 28), date(2021, 1, 3), 5530, 5092, 55, 168, 4),
        (date(2021, 1, 11), date(2021, 1, 17), 5390, 4955, 45, 160, 4),
        (date(2021, 1, 18), date(2021, 1, 24), 5402, 4972, 46, 158, 3),
    ]
    # After the unpublished week of 2021-01-04 the streak restarts; a week later it goes on.
    assert query(
        db,
        "select week_start, unit_name, list_change, weeks_on_list_streak, weeks_on_list_total "
        "from marts.unit_week_performance where week_start >= date '2021-01-11' order by 1, 2",
    ) == [
        (date(2021, 1, 11), "中国电信驻马店分公司", None, 1, 5),
        (date(2021, 1, 11), "中国联通驻马店分公司", None, 1, 3),
        (date(2021, 1, 11), "经济开发区管委会", None, 1, 3),
        (date(2021, 1, 11), "驿城区政府", None, 1, 5),
        (date(2021, 1, 18), "中国电信驻马店分公司", "stayed", 2, 6),
        (date(2021, 1, 18), "中国联通驻马店分公司", "left", 0, 3),
        (date(2021, 1, 18), "市豫资市政设施管理有限公司", "entered", 1, 4),
        (date(2021, 1, 18), "经济开发区管委会", "left", 0, 3),
        (date(2021, 1, 18), "驿城区政府", "stayed", 2, 6),
    ]
    # The real sample's week, traced to its lines: 驿城区政府 1013/8 (was 998/12 the week before).
    row = query(
        db,
        """
        select unit_group, dispatched, unresolved, prev_dispatched, prev_unresolved, unresolved_change,
               list_change, weeks_on_list_streak, rank_in_group
        from marts.unit_week_performance where week_start = date '2020-12-14' and unit_name = '驿城区政府'
        """,
    )
    assert row == [("市辖区(管委会)组", 1013, 8, 998, 12, -4, "stayed", 2, 1)]
    # The alias printed in the 12-21 week lands on the canonical unit.
    assert query(
        db,
        "select unit_name, unresolved, weeks_on_list_streak from marts.unit_week_performance "
        "where week_start = date '2020-12-21' and unit_name like '驿城区%'",
    ) == [("驿城区政府", 6, 3)]
    # Every number traces to a line of a file with its sha256.
    lineage = query(
        db,
        """
        select f.path, u.line_no, u.unit_name_raw
        from core.bulletin_units u join ingest.files f using (file_sha256)
        where u.period_start = date '2020-12-14' and u.row_no = 1
        """,
    )
    assert lineage == [("000_3e19ef32d54e8472.txt", 101, "驿城区政府")]


def test_rerun_changes_nothing(loaded: tuple[Path, Path]) -> None:
    inbox, wh = loaded
    db = wh / "bulletins.duckdb"
    before = snapshot(db, ALL_SCHEMAS)
    summary = run(inbox, wh)
    assert (summary.files_new, summary.files_unchanged, summary.models_built) == (0, 6, False)
    assert snapshot(db, ALL_SCHEMAS) == before


@pytest.mark.scenario
def test_two_runs_give_the_same_marts_as_one(tmp_path: Path, loaded: tuple[Path, Path]) -> None:
    _, wh_once = loaded
    names = all_inbox_names()
    inbox = tmp_path / "split_inbox"
    wh = tmp_path / "split_wh"
    make_inbox(inbox, names[:2])
    run(inbox, wh)
    make_inbox(inbox, names)
    summary = run(inbox, wh)
    assert (summary.files_new, summary.files_unchanged) == (4, 2)
    assert snapshot(wh / "bulletins.duckdb") == snapshot(wh_once / "bulletins.duckdb")


@pytest.mark.scenario
def test_an_incremental_warehouse_equals_its_rebuild(tmp_path: Path) -> None:
    """Runs taking a few files each build the marts a rebuild from the lake builds: the same
    core rows, the same mart rows in the same order, and the same Parquet bytes."""
    names = all_inbox_names()
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    for count in (2, 4, len(names)):
        make_inbox(inbox, names[:count])
        assert run(inbox, wh).models_built
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(wh, rebuilt)
    build.rebuild_warehouse(Settings.resolve(inbox, rebuilt))
    incremental_db, rebuilt_db = wh / "bulletins.duckdb", rebuilt / "bulletins.duckdb"
    assert snapshot(rebuilt_db) == snapshot(incremental_db)
    for table in MART_ORDER:
        stored = f"select * from marts.{table}"
        assert query(rebuilt_db, stored) == query(incremental_db, stored)
    parquet = []
    for db_path in (incremental_db, rebuilt_db):
        out = tmp_path / f"marts-of-{db_path.parent.name}"
        # The marts' copy is a Delta table each: the bytes of the data files its log references.
        uris = build.export_marts_to_lake(db_path, out)
        parquet.append([Path(f).read_bytes() for uri in uris for f in DeltaTable(uri).file_uris()])
    assert parquet[0] == parquet[1]


@pytest.mark.slow  # starts pool workers, each importing Prefect
def test_the_process_pool_gives_the_same_warehouse_as_parsing_in_the_flow(
    tmp_path: Path, loaded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixture's few files are parsed in the flow's process; here every file goes
    # to the pool, in an even batch per worker (files split across batches).
    _, wh_inline = loaded
    monkeypatch.setenv("BULLETINS_INLINE_PARSE_MAX_BYTES", "0")
    children_at_load: list[list[multiprocessing.Process]] = []
    load = build.load_and_build

    def load_and_build_spy(*args: Any, **kwargs: Any) -> bool:
        children_at_load.append(multiprocessing.active_children())
        return load(*args, **kwargs)

    monkeypatch.setattr(build, "load_and_build", load_and_build_spy)
    inbox = make_inbox(tmp_path / "pool_inbox")
    summary = run(inbox, tmp_path / "pool_wh")
    assert summary.parse_tasks == Settings.resolve().parse_workers
    assert children_at_load == [[]]  # the pool's workers exited before the load
    # Where the workers idled is accounted: spawning them takes time, and idle plus busy
    # worker-seconds fit in the stage's wall time on every worker.
    idle = {k: v for k, v in summary.seconds.items() if k.startswith("parse_idle_")}
    assert set(idle) == {"parse_idle_start", "parse_idle_between", "parse_idle_finish"}
    assert idle["parse_idle_start"] > 0 and min(idle.values()) >= 0
    busy = sum(summary.seconds[f"parse_{step}"] for step in ("read", "parse", "write"))
    assert sum(idle.values()) + busy <= summary.seconds["parse"] * Settings.resolve().parse_workers + 0.01
    assert summary.files_new == len(all_inbox_names())
    assert snapshot(tmp_path / "pool_wh" / "bulletins.duckdb") == snapshot(wh_inline / "bulletins.duckdb")


@pytest.mark.slow  # end to end; fast: test_inbox_and_lake (a batch without commit), test_models (build in the caller's transaction)
def test_failure_mid_load_leaves_warehouse_as_it_was_and_next_run_completes(
    tmp_path: Path, loaded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, wh = loaded
    db = wh / "bulletins.duckdb"
    before = snapshot(db, ALL_SCHEMAS)
    copy_sample(inbox, "2020-12-24_reprint.txt")  # the same bytes again: a duplicate
    (inbox / "2021-01-28_new.txt").write_text(  # the week of 2021-01-18, printed again
        (inbox / "2021-01-27_synthetic_week_2021-01-18.txt").read_text(encoding="utf-8").replace("4515", "4516"),
        encoding="utf-8",
    )

    real_load = warehouse_db.load_batches

    def load_then_crash(con, lake_dir, batch_ids):
        real_load(con, lake_dir, batch_ids)  # rows are in the transaction ...
        raise OSError("disk full (simulated)")  # ... when the load fails

    monkeypatch.setattr(warehouse_db, "load_batches", load_then_crash)
    with pytest.raises(OSError, match="simulated"):
        run(inbox, wh)
    assert snapshot(db, ALL_SCHEMAS) == before

    monkeypatch.setattr(warehouse_db, "load_batches", real_load)
    summary = run(inbox, wh)
    # The recovery run counts what it loaded: the new page and the duplicate parsed before the crash.
    assert (summary.batches_recovered, summary.files_new, summary.files_duplicate) == (2, 1, 1)
    assert query(
        db,
        "select path, status from ingest.files where path in ('2020-12-24_reprint.txt', '2021-01-28_new.txt') order by 1",
    ) == [
        ("2020-12-24_reprint.txt", "duplicate"),
        ("2021-01-28_new.txt", "loaded"),
    ]
    assert query(db, "select count(*) from raw.bulletins") == [(7,)]


@pytest.mark.slow  # end to end; fast: test_cli's run (an empty and a cut page), the parser tests
def test_bad_files_are_quarantined_and_a_cut_bulletin_is_partial(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (inbox / "garbage.txt").write_bytes(bytes([0xFF, 0xFE, 0xFD, 0x81, 0x30]) * 400)
    sample_lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(sample_lines[:111]), encoding="utf-8")
    wh = tmp_path / "wh"
    summary = run(inbox, wh)
    assert (summary.files_loaded, summary.files_partial, summary.files_quarantined) == (1, 1, 3)
    db = wh / "bulletins.duckdb"
    statuses = query(db, "select path, status, reasons from ingest.files order by path")
    assert [(p, s) for p, s, _ in statuses] == [
        ("000_3e19ef32d54e8472.txt", "loaded"),
        ("2020-12-30_cut.txt", "partial"),
        ("empty.txt", "quarantined"),
        ("garbage.txt", "quarantined"),
        ("image.txt", "quarantined"),
    ]
    reasons = {p: r for p, _, r in statuses}
    assert reasons["empty.txt"][0].startswith("empty")
    assert reasons["image.txt"][0].startswith("no text layer")  # a PNG: an image, needs OCR
    assert reasons["garbage.txt"][0].startswith("undecodable")
    assert reasons["2020-12-30_cut.txt"] and all("bulletin 1" in r for r in reasons["2020-12-30_cut.txt"])
    # The cut page's articles still load; its bulletin stays out of the marts.
    cut_sha = query(db, "select file_sha256 from ingest.files where path = '2020-12-30_cut.txt'")[0][0]
    assert query(db, "select count(*) from core.articles where file_sha256 = ?", [cut_sha]) == [(7,)]
    assert query(db, "select passes_checks from core.bulletins where file_sha256 = ?", [cut_sha]) == [(False,)]
    assert query(db, "select week_start, units_on_list from marts.city_week_performance") == [(date(2020, 12, 14), 9)]


@pytest.mark.slow  # end to end; fast: test_inbox_and_lake (plan spots duplicates), test_marts_golden (counts once)
def test_duplicate_bytes_are_recorded_not_loaded_twice(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    copy_sample(inbox, "copy_of_sample.txt")
    wh = tmp_path / "wh"
    summary = run(inbox, wh)
    assert (summary.files_loaded, summary.files_duplicate) == (1, 1)
    db = wh / "bulletins.duckdb"
    assert query(db, "select path, status, reasons from ingest.files order by path") == [
        ("000_3e19ef32d54e8472.txt", "loaded", []),
        ("copy_of_sample.txt", "duplicate", ["same bytes as 000_3e19ef32d54e8472.txt"]),
    ]
    assert query(db, "select count(*) from core.bulletins") == [(1,)]
    assert query(db, "select count(*) from marts.unit_week_performance") == [(9,)]


def test_warehouse_rebuilds_from_the_lake(tmp_path: Path, loaded: tuple[Path, Path]) -> None:
    _, wh = loaded
    db = wh / "bulletins.duckdb"
    before = snapshot(db, ("raw", "core", "marts"))
    db.unlink()
    assert build.rebuild_warehouse(Settings.resolve(tmp_path / "inbox", wh)).batches == 1
    assert snapshot(db, ("raw", "core", "marts")) == before


@pytest.mark.slow  # end to end; fast: test_marts_golden (supersession and its tie-breaks)
def test_a_correction_printed_later_wins(tmp_path: Path, loaded: tuple[Path, Path]) -> None:
    inbox, wh = loaded
    corrected = (
        (inbox / "000_3e19ef32d54e8472.txt")
        .read_text(encoding="utf-8")
        .replace("超时未办结131件", "超时未办结130件")
        .replace("正在办理中232件", "正在办理中233件")
        .replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件")
    )
    (inbox / "2020-12-30_correction.txt").write_text(corrected, encoding="utf-8")
    summary = run(inbox, wh)
    assert (summary.files_loaded, summary.weeks_loaded) == (1, [date(2020, 12, 14)])
    db = wh / "bulletins.duckdb"
    assert query(
        db,
        "select f.path, b.issue_date, b.overdue, b.superseded from core.bulletins b "
        "join ingest.files f using (file_sha256) where b.period_start = date '2020-12-14' order by f.path",
    ) == [
        ("000_3e19ef32d54e8472.txt", date(2020, 12, 22), 131, True),
        ("2020-12-30_correction.txt", date(2020, 12, 30), 130, False),
    ]
    assert query(
        db, "select overdue, in_progress from marts.city_week_performance where week_start = date '2020-12-14'"
    ) == [(130, 233)]
    assert query(
        db,
        "select unresolved, unresolved_change from marts.unit_week_performance "
        "where week_start = date '2020-12-14' and unit_name = '驿城区政府'",
    ) == [(7, -5)]


def test_a_failing_data_test_fails_the_run_by_name_and_commits_nothing(
    tmp_path: Path, loaded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, wh = loaded
    db = wh / "bulletins.duckdb"
    before = snapshot(db, ALL_SCHEMAS)
    (inbox / "2020-12-31_reprint_of_sample_week.txt").write_text(
        (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    monkeypatch.setattr(
        build.datatests, "run_data_tests", lambda con: [datatests.DataTestFailure("unit_week_unique", 2, [])]
    )
    with pytest.raises(build.DataTestsFailed, match=r"unit_week_unique \(2 rows\).*rolled back"):
        run(inbox, wh)
    assert snapshot(db, ALL_SCHEMAS) == before


@pytest.mark.scenario
def test_a_batch_completed_after_a_later_run_took_over_its_plan_is_set_aside_not_loaded_twice(
    tmp_path: Path,
) -> None:
    """Run A plans and is killed while a (Dask) worker still parses its batch; run B takes over
    A's plan (the same ingest_seqs) and loads the files; A's worker then completes its batch.
    The next run, and a rebuild, set that batch aside: nothing is recorded twice."""
    from datetime import UTC, datetime

    from flows.warehouse import batch_record, lake, plans
    from flows.warehouse.inbox import known_files, plan_run
    from flows.warehouse.ingest import process_batch
    from flows.warehouse.lake_audit import LATE_BATCH

    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    lake_dir, db_path = wh / "lake", wh / "bulletins.duckdb"
    seen_at = datetime.now(UTC)
    run_a = "20200101T000000000000Z"
    batch_record.create_tables(lake_dir)
    plan_a = plan_run(inbox, known_files([]), seen_at=seen_at)
    plans.write_plan(lake_dir, run_a, plan_a.to_parse)
    assert run(inbox, wh).files_loaded == 6  # run B, with A's seqs
    after_b = snapshot(db_path, ALL_SCHEMAS)
    late = process_batch(inbox, lake_dir, f"{run_a}-0001", plan_a.to_parse, seen_at)  # A's worker, late
    assert late.batch_id in lake.complete_batches(lake_dir)

    summary = run(inbox, wh)

    assert [(p.batch_id, p.set_aside, p.files) for p in summary.lake_problems] == [(late.batch_id, True, 6)]
    assert summary.lake_problems[0].reason.startswith(LATE_BATCH)
    assert snapshot(db_path, ALL_SCHEMAS) == after_b  # loaded once, by B
    assert late.batch_id not in lake.complete_batches(lake_dir)
    assert query(db_path, "select count(*) from ingest.files")[0][0] == 6

    # Completed late again, then a rebuild from the lake: the same warehouse, one batch per entry.
    process_batch(inbox, lake_dir, f"{run_a}-0002", plan_a.to_parse, seen_at)
    result = build.rebuild_warehouse(Settings.resolve(inbox, wh))
    assert [(p.batch_id, p.set_aside) for p in result.problems] == [(f"{run_a}-0002", True)]
    rebuilt = snapshot(db_path, ALL_SCHEMAS)
    # The same rows; the batches loaded are B's (a rebuild loads them again: a new loaded_at).
    assert [b for b, _ in rebuilt.pop("ingest.batches")] == [b for b, _ in after_b.pop("ingest.batches")]
    assert rebuilt == after_b
