"""Pure pieces of the pipeline: planning what is new, batching, the lake's batches."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_helpers import LOADING_HISTORY
from testdata import SAMPLE_PAGE

from flows.parsing.names import normalize_name
from flows.warehouse import batch_record, build, db, inbox_walk, lake, lake_audit, legacy_lake, migrate
from flows.warehouse import inbox as inbox_module
from flows.warehouse.inbox import InboxFile, RecordedFiles, batches, plan_run
from flows.warehouse.inbox_walk import sha256_file
from flows.warehouse.ingest import process_batch
from flows.warehouse.lake_store import Lake
from flows.warehouse.schema import LAKE_TABLES, upgrade
from flows.warehouse.statuses import DUPLICATE

EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_plan_hashes_new_files_and_spots_duplicates(tmp_path: Path) -> None:
    _write(tmp_path, "b.txt", b"page b")
    _write(tmp_path, "a.txt", b"page a")
    _write(tmp_path, "sub/a_copy.txt", b"page a")
    _write(tmp_path, ".hidden.txt", b"editor swap file")
    plan = plan_run(tmp_path, EMPTY)
    assert plan.seen == 4 and plan.unchanged == 0
    assert [(i.path, i.ingest_seq) for i in plan.to_parse] == [("a.txt", 2), ("b.txt", 3)]
    assert [(i.path, i.duplicate_of, i.ingest_seq) for i in plan.duplicates] == [("sub/a_copy.txt", "a.txt", 4)]
    # A hidden file is recorded by name, never read.
    assert [(i.path, i.status, i.reasons, i.ingest_seq) for i in plan.not_read] == [
        (".hidden.txt", "skipped", ("hidden (name starts with '.'): not read",), 1)
    ]


def test_plan_skips_unchanged_paths_without_reading_them(tmp_path: Path, monkeypatch) -> None:
    a = _write(tmp_path, "a.txt", b"page a")
    stat = a.stat()
    known = RecordedFiles(
        paths={"a.txt": (stat.st_size, stat.st_mtime_ns)},
        path_shas=frozenset({("a.txt", sha256_file(a))}),
        taken={sha256_file(a): "a.txt"},
        max_ingest_seq=7,
    )

    def no_reading(path: Path) -> str:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(inbox_walk, "sha256_file", no_reading)
    plan = plan_run(tmp_path, known)
    assert (plan.seen, plan.unchanged, plan.to_parse, plan.duplicates) == (1, 1, [], [])


def test_plan_takes_changed_bytes_at_a_known_path_and_ignores_a_touch(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.txt", b"page a")
    sha_a = sha256_file(a)
    known = RecordedFiles(
        paths={"a.txt": (6, 1)}, path_shas=frozenset({("a.txt", sha_a)}), taken={sha_a: "a.txt"}, max_ingest_seq=1
    )
    assert plan_run(tmp_path, known).unchanged == 1  # mtime differs, bytes the same
    a.write_bytes(b"page a, corrected")
    os.utime(a, ns=(1, 2))
    plan = plan_run(tmp_path, known)
    assert [(i.path, i.ingest_seq) for i in plan.to_parse] == [("a.txt", 2)]


def test_batches_are_bounded_by_count_and_bytes() -> None:
    items = [InboxFile(f"{n}.txt", 10, 0, f"{n:064d}", n) for n in range(7)]
    assert [len(b) for b in batches(items, max_files=3, max_bytes=1000)] == [3, 3, 1]
    assert [len(b) for b in batches(items, max_files=100, max_bytes=25)] == [2, 2, 2, 1]


def test_spread_batches_come_in_a_multiple_of_the_workers_of_even_size() -> None:
    items = [InboxFile(f"{n}.txt", 10 + n % 3, 0, f"{n:064d}", n) for n in range(100)]
    spread = list(batches(items, max_files=1000, max_bytes=400, spread=2))
    assert len(spread) == 4  # 1100 bytes need 3 batches of at most 400: 4 for 2 workers
    assert [i for b in spread for i in b] == items  # all of them, in order
    sizes = [sum(i.size_bytes for i in b) for b in spread]
    assert max(sizes) - min(sizes) <= 2 * 12  # each cut is off by at most one file
    assert [len(b) for b in batches(items[:3], spread=8)] == [1, 1, 1]  # never an empty batch
    assert list(batches([], spread=2)) == []


def _data_file(lake_dir: Path, table: str) -> Path:
    """The one data file a table's Delta log references."""
    (data_file,) = lake.data_files(lake_dir, table)
    return lake.table_dir(lake_dir, table) / data_file.path


def _unreferenced(lake_dir: Path) -> list[Path]:
    """Data files in the raw tables' folders that no Delta log references (an uncommitted write).

    Not the batch record's (`_batches`): a refused or killed commit of its rows leaves the
    file delta-rs wrote, for `bulletins maintain`'s vacuum, as a killed run does."""
    referenced = {_data_file_path(lake_dir, f) for t in LAKE_TABLES for f in lake.data_files(lake_dir, t)}
    found = [p for t in LAKE_TABLES for p in (lake_dir / t).rglob("*.parquet") if "_delta_log" not in p.parts]
    return [p for p in found if p not in referenced]


def _data_file_path(lake_dir: Path, data_file: lake.DataFile) -> Path:
    return lake.table_dir(lake_dir, data_file.table) / data_file.path


def test_a_large_batch_is_written_a_row_group_at_a_time(tmp_path: Path) -> None:
    rows = [
        {
            "bulletin_id": f"b-{n}",
            "file_sha256": "0" * 64,
            "unit_group": "g",
            "unit_name_raw": f"u{n}",
            "unit_name_key": f"u{n}",
        }
        | {"dispatched": n, "unresolved": 0, "row_no": n, "line_no": n, "batch_id": "b1"}
        for n in range(5)
    ]
    with lake.BatchWriter(tmp_path, "b1") as writer:
        writer.write({"bulletin_units": rows[:2]})
        writer.write({"bulletin_units": rows[2:], "files": [_files_row("b1")]})
        assert lake.complete_batches(tmp_path) == []  # nothing in place before commit
        assert lake.data_files(tmp_path, "bulletin_units") == []  # written, not committed: no reader sees it
        writer.commit()
    part = pq.ParquetFile(_data_file(tmp_path, "bulletin_units"))
    assert part.metadata.num_row_groups == 2
    columns = LAKE_TABLES["bulletin_units"].names  # columns a row leaves out are null
    assert part.read().to_pylist() == [{name: row.get(name) for name in columns} for row in rows]
    assert lake.read_batch(tmp_path, "bulletin_units", "b1").to_pylist() == part.read().to_pylist()
    assert lake.complete_batches(tmp_path) == ["b1"]
    assert _unreferenced(tmp_path) == []


def test_a_batch_writes_articles_every_few_files_and_small_tables_in_larger_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The articles (the text a batch holds in memory) go out every ROW_GROUP_FILES files;
    a small table waits until it holds SMALL_TABLE_GROUP_ROWS rows or the batch ends. The
    rows are those of the batch written as one group."""
    from flows.devtools.corpus import write_corpus
    from flows.warehouse import ingest

    inbox = tmp_path / "inbox"
    write_corpus(inbox, start=date(2021, 3, 1), days=4, pages_per_day=8, seed=3)
    plan = plan_run(inbox, inbox_module.known_files([]), 2 * 1024 * 1024, (), datetime.now(UTC))
    (items,) = list(batches(plan.to_parse))
    assert len(items) == 32
    seen_at = datetime(2026, 1, 5, tzinfo=UTC)
    process_batch(inbox, tmp_path / "one-group", "r-0001", items, seen_at)
    monkeypatch.setattr(ingest, "ROW_GROUP_FILES", 8)
    monkeypatch.setattr(ingest, "SMALL_TABLE_GROUP_ROWS", 20)
    process_batch(inbox, tmp_path / "grouped", "r-0001", items, seen_at)

    def groups(lake_dir: Path, table: str) -> list[int]:
        metadata = pq.ParquetFile(_data_file(lake_dir, table)).metadata
        return [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]

    assert len(groups(tmp_path / "grouped", "articles")) == 4  # after files 8, 16, 24 and 32
    assert groups(tmp_path / "grouped", "files") == [24, 8]  # 24 rows at file 24; the rest at the end
    assert groups(tmp_path / "one-group", "files") == [32]
    for table in LAKE_TABLES:
        assert lake.read_batch(tmp_path / "grouped", table, "r-0001").to_pylist() == (
            lake.read_batch(tmp_path / "one-group", table, "r-0001").to_pylist()
        )


def test_bit_rot_in_a_part_the_flow_wrote_never_reads_back_as_other_rows(tmp_path: Path) -> None:
    """Data files carry page checksums: a flipped byte in a page fails the read (lake_audit's check).

    Without them a flip inside zstd's literals can decode to other text, silently.
    """
    rows = [
        {"file_sha256": "0" * 64, "unit_group": "市辖区(管委会)组", "unit_name_raw": f"驿城区政府{n}"}
        | {"bulletin_id": f"b-{n}", "unit_name_key": f"驿城区政府{n}", "dispatched": n, "unresolved": n}
        | {"row_no": n, "line_no": n, "batch_id": "b1"}
        for n in range(200)
    ]
    with lake.BatchWriter(tmp_path, "b1") as writer:
        writer.write({"bulletin_units": rows})
        writer.commit()
    path = _data_file(tmp_path, "bulletin_units")
    good = path.read_bytes()
    expected = pq.read_table(path, page_checksum_verification=True)
    silently_different = []
    for offset in range(4, min(len(good), 1500), 7):  # the column chunks come first, after "PAR1"
        path.write_bytes(good[:offset] + bytes([good[offset] ^ 0x55]) + good[offset + 1 :])
        try:
            data = pq.read_table(path, page_checksum_verification=True)
        except Exception:
            continue  # refused: what the audit needs
        if not data.equals(expected):
            silently_different.append(offset)
    assert silently_different == []


def test_a_batch_left_without_commit_leaves_nothing(tmp_path: Path) -> None:
    try:
        with lake.BatchWriter(tmp_path, "b1") as writer:
            writer.write({"files": [_files_row("b1")]})
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    # The (empty) Delta tables exist; no data file, no commit of the batch.
    assert [p for p in tmp_path.rglob("*.parquet") if "_delta_log" not in p.parts] == []
    for table in LAKE_TABLES:
        dt = lake.open_table(tmp_path, table)
        assert dt is not None and not lake.has_batch(dt, "b1")
    assert lake.complete_batches(tmp_path) == []


def _files_row(batch_id: str, path: str = "a.txt") -> dict:
    return {
        "file_sha256": "0" * 64,
        "path": path,
        "size_bytes": 1,
        "modified_ns": 1,
        "issue_date": None,
        "issue_date_source": None,
        "encoding": None,
        "status": "quarantined",
        "reasons": ["empty"],
        "over_size_limit": False,
        "first_seen_at": datetime(2026, 1, 1, tzinfo=UTC),
        "ingest_seq": 1,
        "batch_id": batch_id,
    }


def _article_row(batch_id: str) -> dict:
    return {"file_sha256": "0" * 64, "seq": 1, "kind": "news", "reporters": [], "correspondents": [],
            "photographers": [], "authors": [], "body": "正文", "original_text": "正文", "line_start": 1,
            "line_end": 1, "batch_id": batch_id}  # fmt: skip


def test_a_batch_is_complete_only_with_its_files_rows(tmp_path: Path) -> None:
    row = _files_row("b1")
    lake.write_batch(tmp_path, "b1", {"files": [row]})
    # An interrupted batch: a table committed, `files` never.
    lake.write_part(tmp_path, "articles", "b2", [_article_row("b2")])
    assert lake.complete_batches(tmp_path) == ["b1"]
    problems = lake_audit.audit(tmp_path, loaded=set(), full=False)
    # The interrupted batch is set aside: its rows leave the table (kept in its history), logged.
    assert [(p.batch_id, p.action, p.reason) for p in problems] == [
        ("b2", lake_audit.SET_ASIDE, lake_audit.UNFINISHED_BATCH)
    ]
    assert lake.batch_ids_in(tmp_path, "articles") == set()
    log = (tmp_path / lake_audit.SET_ASIDE_DIR / lake_audit.SET_ASIDE_LOG).read_text(encoding="utf-8")
    assert "articles rows of batch b2\t1 row(s) deleted" in log
    dt = lake.open_table(tmp_path, "articles")
    assert dt is not None
    dt.load_as_version(dt.version() - 1)
    assert dt.to_pyarrow_dataset().to_table().num_rows == 1  # the row is in the table's history
    for table, schema in LAKE_TABLES.items():
        dataset = lake.dataset(tmp_path, table)
        assert dataset is not None and dataset.schema.remove_metadata() == schema.remove_metadata()
    assert lake.read_files_part(tmp_path, "b1") == [row]
    assert lake_audit.audit(tmp_path, loaded=set(), full=True) == []  # once set aside, sound


def write_twice_and_retry_after_a_kill(lake_dir: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch r-0001 written twice; r-0002 killed between two tables, then retried: each in
    once (tests/test_s3_lake.py runs the same on an S3 lake)."""
    rows = {"articles": [_article_row("r-0001")], "files": [_files_row("r-0001")]}
    lake.write_batch(lake_dir, "r-0001", rows)
    lake.write_batch(lake_dir, "r-0001", rows)  # the same batch again
    assert lake.read_batch(lake_dir, "articles", "r-0001").num_rows == 1
    assert len(lake.read_files_part(lake_dir, "r-0001")) == 1

    class Killed(Exception):
        pass

    def kill_at(point: str) -> None:
        if point == "part:0002:bulletins":  # articles committed, the other tables not
            raise Killed(point)

    with monkeypatch.context() as patch:
        patch.setattr(lake, "checkpoint", kill_at)
        second = {"articles": [_article_row("r-0002")], "files": [_files_row("r-0002", "b.txt")]}
        with pytest.raises(Killed):
            lake.write_batch(lake_dir, "r-0002", second)
    assert lake.read_batch(lake_dir, "articles", "r-0002").num_rows == 1
    assert lake.complete_batches(lake_dir) == ["r-0001"]
    lake.write_batch(lake_dir, "r-0002", second)  # the retry
    assert lake.read_batch(lake_dir, "articles", "r-0002").num_rows == 1
    assert lake.complete_batches(lake_dir) == ["r-0001", "r-0002"]


def test_a_batch_written_twice_or_retried_after_a_kill_between_tables_is_in_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each table commits a batch once (its transaction id): a second write, or a retry of a
    write killed between two tables, adds no row twice."""
    write_twice_and_retry_after_a_kill(tmp_path, monkeypatch)
    assert _unreferenced(tmp_path) == []  # the retry's own copy of articles was never committed, and removed


def two_writers_of_one_batch_at_once(lake_dir: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch r-0003 written by two writers at once (a task Dask ran twice at once): the
    other writer commits the whole batch, and its batch record row, between this writer's
    check and its commit. Each table and the record hold it once, and this writer ends
    without an error (tests/test_s3_lake.py runs the same on an S3 lake)."""
    rows = {"articles": [_article_row("r-0003")], "files": [_files_row("r-0003")]}
    written = batch_record.StateChange("r", "r-0003", batch_record.WRITTEN, files=1)
    batch_record.create_tables(lake_dir)  # as a run does before its workers start
    added_file, write_deltalake = lake.added_file, batch_record.write_deltalake
    raced: list[str] = []

    def the_other_writer_commits_first(*args: Any, **kwargs: Any) -> Any:
        if "batch" not in raced:
            raced.append("batch")
            lake.write_batch(lake_dir, "r-0003", rows)
        return added_file(*args, **kwargs)

    def the_other_record_first(*args: Any, **kwargs: Any) -> Any:
        if "record" not in raced:
            raced.append("record")
            assert batch_record.append(lake_dir, [written]) == 1
        return write_deltalake(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(lake, "added_file", the_other_writer_commits_first)
        patch.setattr(batch_record, "write_deltalake", the_other_record_first)
        lake.write_batch(lake_dir, "r-0003", rows)
        assert batch_record.append(lake_dir, [written]) == 0
    assert raced == ["batch", "record"]
    assert lake.read_batch(lake_dir, "articles", "r-0003").num_rows == 1
    assert len(lake.read_files_part(lake_dir, "r-0003")) == 1
    assert lake.complete_batches(lake_dir) == ["r-0003"]
    record = batch_record.read(lake_dir, [batch_record.WRITTEN])
    assert [(r["batch_id"], r["files"]) for r in record] == [("r-0003", 1)]


def test_two_writers_of_one_batch_at_once_write_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Delta refuses the second commit of a batch's transaction id; the refused writer finds
    the batch in, removes its own data file and ends as a retry does."""
    two_writers_of_one_batch_at_once(tmp_path, monkeypatch)
    assert _unreferenced(tmp_path) == []


def _write_one_batch(args: tuple[str, Any, Any]) -> str:
    """A worker process: writes batch r-0001 and records it. Before its first data file's
    commit and its record row's, it waits for the other process to get there too: both
    have found the batch missing, so one of each pair of commits is refused, every time."""
    lake_dir, both_checked, refused = args
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    def counted(commit: Any, what: str) -> Any:
        def committing(*a: Any, **k: Any) -> Any:
            try:
                return commit(*a, **k)
            except CommitFailedError:
                refused.put(what)
                raise

        return committing

    def after_the_other(step: Any) -> Any:
        waited: list[bool] = []

        def waiting(*a: Any, **k: Any) -> Any:
            if not waited:
                waited.append(True)
                both_checked.wait(60)
            return step(*a, **k)

        return waiting

    DeltaTable.create_write_transaction = counted(DeltaTable.create_write_transaction, "table")  # type: ignore[method-assign]
    lake.added_file = after_the_other(lake.added_file)  # type: ignore[assignment]
    batch_record.write_deltalake = after_the_other(counted(batch_record.write_deltalake, "record"))  # type: ignore[assignment]
    lake.write_batch(Path(lake_dir), "r-0001", {"articles": [_article_row("r-0001")], "files": [_files_row("r-0001")]})
    batch_record.append(Path(lake_dir), [batch_record.StateChange("r", "r-0001", batch_record.WRITTEN, files=1)])
    return "written"


@pytest.mark.slow  # two processes import deltalake (about 4 s)
def test_two_processes_writing_one_batch_at_once_write_it_once(tmp_path: Path) -> None:
    """The race itself, in two processes that have both checked before either commits:
    Delta refuses one commit of the articles and one of the record row, each writer ends
    without an error, and the batch and its row are in once."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    lake_dir = tmp_path / "lake"
    batch_record.create_tables(lake_dir)
    with context.Manager() as manager, context.Pool(2) as pool:
        both_checked, refused = manager.Barrier(2), manager.Queue()
        assert pool.map(_write_one_batch, [(str(lake_dir), both_checked, refused)] * 2) == ["written"] * 2
        refusals = [refused.get() for _ in range(refused.qsize())]
    assert refusals.count("record") == 1 and refusals.count("table") >= 1
    assert lake.read_batch(lake_dir, "articles", "r-0001").num_rows == 1
    assert len(lake.read_files_part(lake_dir, "r-0001")) == 1
    assert len(batch_record.read(lake_dir, [batch_record.WRITTEN])) == 1
    assert _unreferenced(lake_dir) == []


def test_a_delta_error_in_a_pool_worker_reaches_the_run_as_its_reason(tmp_path: Path) -> None:
    """deltalake's exceptions cannot be pickled (module `_internal`): unwrapped, the run saw
    "PicklingError: Can't pickle <class '_internal.DeltaError'>" instead of the reason."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    lake.write_batch(tmp_path / "lake", "r-0000", {})
    latest = sorted((tmp_path / "lake" / "articles" / "_delta_log").glob("*.json"))[-1]
    latest.write_text('{"not": "a whole action"\n')  # the table's log, damaged after the run planned
    seen_at = datetime(2026, 1, 5, tzinfo=UTC)
    with ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(process_batch, tmp_path / "inbox", tmp_path / "lake", "r-0001", [], seen_at)
        with pytest.raises(Exception) as failed:  # which exception reaches the run is the point
            future.result()
    reason = "lake batch r-0001: DeltaError: Kernel error: Json error: Truncated record whilst reading object"
    assert (type(failed.value).__name__, str(failed.value)) == ("LakeWriteFailed", reason)


# ------------------------------------------------------------------ older lake parts and warehouses
# bulletin_units.unit_name_key came after the first lake parts were written: parts
# without it, and warehouses whose raw table lacks it, get it from normalize_name.


def _lake_with_a_spaced_unit_name(tmp_path: Path) -> Path:
    """One lake batch from the sample page, one unit printed with an ideographic space."""
    inbox = tmp_path / "inbox"
    text = SAMPLE_PAGE.read_text(encoding="utf-8").replace("驿城区政府", "驿城区\u3000政府", 1)
    _write(inbox, "2020-12-23_sample.txt", text.encode())
    lake_dir = tmp_path / "lake"
    process_batch(inbox, lake_dir, "b1", plan_run(inbox, EMPTY).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    return lake_dir


def _build(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> dict[str, list[tuple]]:
    db.create_raw_tables(con)
    assert build.load_and_build(con, lake_dir, ["b1"])
    return _core_and_marts(con)


def _core_and_marts(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    relations = con.execute(
        "select distinct schema_name || '.' || table_name from duckdb_columns() "
        "where schema_name in ('core', 'marts') order by 1"
    ).fetchall()
    return {
        r: sorted(con.execute(f"select * from {r}").fetchall(), key=repr)
        for (r,) in relations
        if r not in LOADING_HISTORY  # when it was loaded, not what
    }


def test_ingest_stores_the_folded_name(tmp_path: Path) -> None:
    lake_dir = _lake_with_a_spaced_unit_name(tmp_path)
    units = lake.read_batch(lake_dir, "bulletin_units", "b1").to_pylist()
    assert len(units) == 9
    assert all(u["unit_name_key"] == normalize_name(u["unit_name_raw"]) for u in units)
    assert ("驿城区 政府", "驿城区政府") in [(u["unit_name_raw"], u["unit_name_key"]) for u in units]


def _as_parquet_lake(lake_dir: Path, dropped: dict[str, list[str]]) -> Path:
    """The Delta lake's batch b1 as the versions before Delta wrote it, with `dropped` columns
    left out of its parts (as written before they existed); the Delta tables removed."""
    old = lake_dir.parent / "old_lake"
    for table in LAKE_TABLES:
        data = lake.read_batch(lake_dir, table, "b1").drop_columns(dropped.get(table, []))
        path = legacy_lake.part_path(old, table, "b1")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
    return old


def test_a_lake_part_without_the_folded_name_loads_the_same(tmp_path: Path) -> None:
    """An old Parquet part written before the column existed is converted with it computed."""
    lake_dir = _lake_with_a_spaced_unit_name(tmp_path)
    with db.connection(None) as con:
        expected = _build(con, lake_dir)
    assert ("驿城区 政府", "驿城区政府") in {r[3:5] for r in expected["core.bulletin_units"]}
    old = _as_parquet_lake(lake_dir, {"bulletin_units": ["unit_name_key"]})
    assert not legacy_lake.has_current_schema("bulletin_units", legacy_lake.part_path(old, "bulletin_units", "b1"))
    assert migrate.migrate(old, loaded=set()) is not None
    with db.connection(None) as con:
        assert _build(con, old) == expected


def test_a_lake_part_from_before_the_city_columns_loads_the_same(tmp_path: Path) -> None:
    """bulletins.city/period_label and bulletin_units.closed/closure_rate_published came later."""
    lake_dir = _lake_with_a_spaced_unit_name(tmp_path)
    with db.connection(None) as con:
        expected = _build(con, lake_dir)
    dropped = {"bulletins": ["city", "period_label"], "bulletin_units": ["closed", "closure_rate_published"]}
    old = _as_parquet_lake(lake_dir, dropped)
    for table in dropped:
        assert not legacy_lake.has_current_schema(table, legacy_lake.part_path(old, table, "b1"))
    assert migrate.migrate(old, loaded=set()) is not None
    with db.connection(None) as con:
        assert _build(con, old) == expected
        assert con.execute("select distinct city, period_label from raw.bulletins").fetchall() == [("驻马店", None)]


def test_an_older_warehouse_gains_the_folded_name(tmp_path: Path) -> None:
    lake_dir = _lake_with_a_spaced_unit_name(tmp_path)
    db_path = tmp_path / "bulletins.duckdb"
    with db.connection(db_path) as con:
        expected = _build(con, lake_dir)
        con.execute("alter table raw.bulletin_units drop column unit_name_key").fetchall()
        con.execute("delete from ingest.model_state").fetchall()  # its SQL was older too
    with db.connection(db_path) as con:
        db.create_raw_tables(con)
        rows = con.execute("select unit_name_raw, unit_name_key from raw.bulletin_units").fetchall()
        assert len(rows) == 9 and all(key == normalize_name(raw) for raw, key in rows)
        with pytest.raises(duckdb.ConstraintException):
            con.execute("update raw.bulletin_units set unit_name_key = null").fetchall()
        assert build.load_and_build(con, lake_dir, [])
        assert _core_and_marts(con) == expected


def test_upgrade_nulls_new_optional_columns_and_refuses_missing_required_ones() -> None:
    row = {"bulletin_id": "x-1", "file_sha256": "0" * 64, "seq": 1, "article_seq": 1, "format": "zhumadian_weekly",
           "failed_checks": [], "line_start": 1, "line_end": 2, "batch_id": "b1"}  # fmt: skip
    old = pa.Table.from_pylist([row])
    upgraded = upgrade("bulletins", old)
    assert upgraded.schema == LAKE_TABLES["bulletins"]
    # period_label is new and optional; city is derived from the format that read the bulletin
    assert [upgraded.to_pylist()[0][c] for c in ("as_of", "period_label", "city")] == [None, None, "驻马店"]
    with pytest.raises(ValueError, match="no bulletin format 'f'"):
        upgrade("bulletins", pa.Table.from_pylist([{**row, "format": "f"}]))
    with pytest.raises(ValueError, match="required column bulletin_id"):
        upgrade("bulletins", old.drop_columns(["bulletin_id"]))


def test_a_writer_connection_has_bounded_memory(tmp_path: Path) -> None:
    from flows.warehouse import db

    con = db.connect(tmp_path / "w.duckdb")
    try:
        limit = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()
    assert limit == "244.1 MiB"  # WRITER_MEMORY_LIMIT (256 MB) as DuckDB prints it, not 80% of the machine


def test_a_writer_writes_small_row_groups_into_its_file(tmp_path: Path) -> None:
    """A writer's row groups hold db.WRITER_ROW_GROUP_ROWS rows (DuckDB's default, 122,880
    rows of articles, held a 10-year load in memory until commit); the file is the
    connection's catalog, named as DuckDB names it, spilling beside it, and a plain reader
    opens what it wrote."""
    import duckdb

    from flows.warehouse import db

    rows = 2 * db.WRITER_ROW_GROUP_ROWS + 100
    for name, catalog in (("w.duckdb", "w"), ("memory.duckdb", db.WRITER_ALIAS)):
        con = db.connect(tmp_path / name)
        try:
            con.execute(f"create table t as select range as i from range({rows})")
            groups = con.execute("select count(distinct row_group_id) from pragma_storage_info('t')").fetchall()
            settings = con.execute("select current_database(), current_setting('temp_directory')").fetchall()
        finally:
            con.close()
        assert groups == [(3,)]
        assert settings == [(catalog, str(tmp_path / f"{name}.tmp"))]
        reader = duckdb.connect(str(tmp_path / name), read_only=True)
        try:
            assert reader.execute("select count(*), sum(i) from t").fetchall() == [(rows, rows * (rows - 1) // 2)]
        finally:
            reader.close()


def test_article_text_is_stored_with_zstd(tmp_path: Path) -> None:
    """raw.articles' long text columns are zstd-compressed (db.ZSTD_COLUMNS); the rest as DuckDB chooses."""
    from flows.warehouse import db

    con = db.connect(tmp_path / "w.duckdb")
    try:
        db.create_raw_tables(con)
        con.execute(
            "insert into raw.articles (file_sha256, seq, kind, reporters, correspondents, photographers, authors, "
            "body, original_text, line_start, line_end, batch_id) "
            "select 'f' || (i // 8), i % 8, 'news', [], [], [], [], repeat('正文第' || i || '段。', 40), "
            "repeat('正文第' || i || '段。', 41), 1, 2, 'b' from range(20000) as t(i)"
        ).fetchall()
        con.execute("checkpoint").fetchall()
        compression = dict(
            con.execute(
                "select column_name, string_agg(distinct compression, ',') from pragma_storage_info('raw.articles') "
                "where segment_type = 'VARCHAR' and column_name in ('body', 'original_text', 'kind') group by all"
            ).fetchall()
        )
        body = con.execute("select body from raw.articles where seq = 3 and file_sha256 = 'f7'").fetchall()
    finally:
        con.close()
    assert compression["body"] == compression["original_text"] == "ZSTD"
    assert compression["kind"] != "ZSTD"
    assert body == [("正文第59段。" * 40,)]


# ------------------------------------------------------------------ issue 16: the probe's inbox findings


def _write_bytes_name(folder: Path, name: bytes, data: bytes) -> None:
    with open(os.fsencode(folder) + b"/" + name, "wb") as fh:
        fh.write(data)


def test_escaped_paths_are_one_to_one(tmp_path: Path) -> None:
    """A name that reads as an escape is escaped too: no two names share a recorded path."""
    names = [
        "中.txt".encode("gbk"),  # d6 d0: escaped as \xd6\xd0
        b"\\xd6\\xd0.txt",  # the same text, literally: must not be the GBK name's path
        b"\\\\xd6\\\\xd0.txt",
        "中.txt".encode(),
        b"a\\b.txt",  # a backslash that reads as no escape: kept as it is
        b"a\\\\b.txt",
        b"\\xD6.txt",  # upper-case hex: our escapes are lower-case
        b"\xff\\.txt",
    ]
    for name in names:
        _write_bytes_name(tmp_path, name, name)
    entries = list(inbox_walk.walk_inbox(tmp_path))
    paths = [e.path for e in entries]
    assert len(set(paths)) == len(names)
    assert {inbox_walk.fs_name(e.path): e.path for e in entries} == {
        name: inbox_walk.display_path(os.fsdecode(name))[0] for name in names
    }
    by_name = {os.fsencode(e.fs_path): e for e in entries}
    assert by_name[b"a\\b.txt"].path == "a\\b.txt" and by_name[b"a\\b.txt"].reasons == ()
    assert by_name[b"\\xd6\\xd0.txt"].path == "\\\\xd6\\\\xd0.txt"
    assert by_name[b"\\xd6\\xd0.txt"].reasons == (
        "file name reads as an escape (\\\\ or \\xNN): recorded as \\\\xd6\\\\xd0.txt",
    )
    assert by_name["中.txt".encode("gbk")].path == "\\xd6\\xd0.txt"


def test_a_duplicate_is_recorded_only_with_its_original(tmp_path: Path) -> None:
    """The original is deleted (or changed) after planning: its copy is not recorded as its duplicate."""
    _write(tmp_path, "a.txt", SAMPLE_PAGE.read_bytes())
    _write(tmp_path, "b.txt", SAMPLE_PAGE.read_bytes())
    plan = plan_run(tmp_path, EMPTY)
    assert [(i.path, i.duplicate_of) for i in plan.duplicates] == [("b.txt", "a.txt")]
    (tmp_path / "a.txt").unlink()
    result = process_batch(tmp_path, tmp_path / "lake", "b1", plan.to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    assert result.missing == ["a.txt"]
    assert [i.path for i in plan.recorded_after(result.missing)] == []
    assert [i.path for i in plan.recorded_after([])] == ["b.txt"]


def _recorded_rows(items: list[InboxFile], status: str) -> list[dict]:
    return [
        {"path": i.path, "size_bytes": i.size_bytes, "modified_ns": i.modified_ns, "file_sha256": i.file_sha256}
        | {
            "status": i.status or (DUPLICATE if i.duplicate_of else status),
            "over_size_limit": i.over_size_limit,
            "ingest_seq": i.ingest_seq,
        }
        for i in items
    ]


def test_a_duplicate_of_bytes_no_file_took_is_planned_again(tmp_path: Path) -> None:
    """A warehouse where the loss happened (before the fix): the next plan takes the copy's bytes."""
    _write(tmp_path, "a.txt", b"page a")
    _write(tmp_path, "b.txt", b"page a")
    first = plan_run(tmp_path, EMPTY)
    (tmp_path / "a.txt").unlink()
    known = inbox_module.known_files(_recorded_rows(first.recorded_only, "loaded"))  # a.txt never recorded
    again = plan_run(tmp_path, known)
    assert [(i.path, i.ingest_seq, i.duplicate_of) for i in again.to_parse] == [("b.txt", 3, None)]
    # Its original recorded: the duplicate stays one.
    settled = inbox_module.known_files(_recorded_rows([*first.to_parse, *first.recorded_only], "loaded"))
    assert plan_run(tmp_path, settled).to_parse == []


def test_a_planned_duplicate_is_not_replayed_without_its_original(tmp_path: Path) -> None:
    """A run stopped after planning; its original gone since: the copy is taken, not replayed as a duplicate."""
    _write(tmp_path, "a.txt", b"page a")
    _write(tmp_path, "b.txt", b"page a")
    first = plan_run(tmp_path, EMPTY)
    planned = [*first.to_parse, *first.recorded_only]
    replay = plan_run(tmp_path, EMPTY, planned=planned)
    assert [(i.path, i.ingest_seq) for i in replay.to_parse] == [("a.txt", 1)]
    assert [(i.path, i.ingest_seq, i.duplicate_of) for i in replay.duplicates] == [("b.txt", 2, "a.txt")]
    (tmp_path / "a.txt").unlink()
    after = plan_run(tmp_path, EMPTY, planned=planned)
    assert [(i.path, i.duplicate_of) for i in after.to_parse] == [("b.txt", None)]
    assert after.duplicates == []


def test_the_walk_goes_1000_folders_deep(tmp_path: Path) -> None:
    folder = tmp_path
    for _ in range(1000):  # (os.makedirs recurses)
        folder = folder / "d"
        folder.mkdir()
    (folder / "page.txt").write_bytes(b"page")
    try:
        entries = list(inbox_walk.walk_inbox(tmp_path))
        assert [(e.path, e.kind) for e in entries] == [("d/" * 1000 + "page.txt", "file")]
    finally:
        (folder / "page.txt").unlink()
        for _ in range(1000):
            folder.rmdir()
            folder = folder.parent


def test_a_path_too_long_to_name_is_recorded_skipped(tmp_path: Path) -> None:
    """Folders made relative to each other can nest past PATH_MAX (4096): recorded, not dropped."""
    name = "n" * 200
    fds = [os.open(tmp_path, os.O_RDONLY)]
    try:
        for _ in range(25):
            os.mkdir(name, dir_fd=fds[-1])
            fds.append(os.open(name, os.O_RDONLY, dir_fd=fds[-1]))
        os.close(os.open("page.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fds[-1]))
    finally:
        for fd in fds:
            os.close(fd)
    plan = plan_run(tmp_path, EMPTY)
    assert plan.to_parse == []
    (item,) = plan.not_read
    assert item.path.startswith(name + "/") and len(item.path) > 4096
    assert (item.status, item.reasons) == ("skipped", ("could not be examined (File name too long): not read",))


def test_an_mtime_past_int64_nanoseconds_is_stored_clamped_with_a_note(tmp_path: Path) -> None:
    lake_dir, tmp_path = tmp_path / "lake", tmp_path / "inbox"
    page = _write(tmp_path, "2020-12-23_page.txt", SAMPLE_PAGE.read_bytes())
    os.utime(page, ns=(0, 2**63 + 10**18))
    plan = plan_run(tmp_path, EMPTY)
    (item,) = plan.to_parse
    assert item.modified_ns == 2**63 - 1
    assert item.reasons == (f"modified time out of range ({2**63 + 10**18} ns): recorded as {2**63 - 1}",)
    result = process_batch(tmp_path, lake_dir, "b1", plan.to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    assert result.statuses == {"loaded": 1}
    (row,) = lake.read_files_part(lake_dir, "b1")
    assert (row["modified_ns"], row["reasons"]) == (2**63 - 1, list(item.reasons))
    # Recorded: a touch to another far-future time is no change; new bytes are.
    known = inbox_module.known_files(_recorded_rows(plan.to_parse, "loaded"))
    os.utime(page, ns=(0, 2**63 + 2 * 10**18))
    assert (plan_run(tmp_path, known).unchanged, plan_run(tmp_path, known).to_parse) == (1, [])
    page.write_bytes(SAMPLE_PAGE.read_bytes() + b"\n")
    os.utime(page, ns=(0, 2**63 + 10**18))
    assert [i.path for i in plan_run(tmp_path, known).to_parse] == ["2020-12-23_page.txt"]


def test_the_problem_listing_is_capped() -> None:
    from flows.warehouse.summary import MAX_PROBLEMS_SHOWN, ProblemFile, RunSummary

    problems = [ProblemFile("quarantined", f"{n}.txt", ["empty"]) for n in range(MAX_PROBLEMS_SHOWN + 3)]
    lines = [f"quarantined {n}.txt: empty" for n in range(MAX_PROBLEMS_SHOWN + 3)]
    assert RunSummary(problems=problems[:MAX_PROBLEMS_SHOWN]).problem_lines() == lines[:MAX_PROBLEMS_SHOWN]
    assert RunSummary(problems=problems).problem_lines() == [
        *lines[:MAX_PROBLEMS_SHOWN],
        "……另有 3 个未列出：`bulletins status` 列出全部",
    ]


def test_a_warehouse_inside_its_inbox_is_refused(tmp_path: Path) -> None:
    from flows.settings import Settings, SettingsError, validate_paths

    validate_paths(Settings.resolve(tmp_path / "warehouse" / "inbox", tmp_path / "warehouse"))  # the default layout
    validate_paths(Settings.resolve(tmp_path / "inbox", tmp_path / "warehouse"))
    for inbox, warehouse in [
        (tmp_path, tmp_path),
        (tmp_path, tmp_path / "wh"),
        (tmp_path / "wh" / "lake" / "in", tmp_path / "wh"),
        (tmp_path / "wh" / "reports", tmp_path / "wh"),
    ]:
        with pytest.raises(SettingsError, match="every run would read its own files"):
            validate_paths(Settings.resolve(inbox, warehouse))


def _two_small_files(lake_dir: Path) -> None:
    """Two batches of bulletin_units, one small data file each."""
    for batch in ("b1", "b2"):
        rows = [
            {"file_sha256": "0" * 64, "unit_group": "市辖区(管委会)组", "unit_name_raw": f"驿城区政府{n}"}
            | {"bulletin_id": f"{batch}-{n}", "unit_name_key": f"驿城区政府{n}", "dispatched": n, "unresolved": n}
            | {"row_no": n, "line_no": n, "batch_id": batch}
            for n in range(200)
        ]
        with lake.BatchWriter(lake_dir, batch) as writer:
            writer.write({"bulletin_units": rows})
            writer.commit()


def _silent_flips(path: Path) -> list[int]:
    """Offsets where a flipped byte reads back as other rows instead of failing the read."""
    good = path.read_bytes()
    expected = pq.read_table(path, page_checksum_verification=True)
    silent = []
    for offset in range(4, min(len(good), 1500), 7):
        path.write_bytes(good[:offset] + bytes([good[offset] ^ 0x55]) + good[offset + 1 :])
        try:
            data = pq.read_table(path, page_checksum_verification=True)
        except Exception:
            continue
        if not data.equals(expected):
            silent.append(offset)
    path.write_bytes(good)
    return silent


def test_a_compacted_file_keeps_the_rows_and_page_checksums(tmp_path: Path) -> None:
    """Compaction of a raw table writes as a batch does (zstd, page checksums): bit rot in
    the compacted file still fails its read, and each batch still loads by id."""
    from flows.warehouse import lake_compact, lake_read

    _two_small_files(tmp_path)
    before = {b: lake.read_batch(tmp_path, "bulletin_units", b).to_pylist() for b in ("b1", "b2")}
    assert lake_compact.compact_table(tmp_path, "bulletin_units") == lake_compact.Compacted(2, 1)
    assert {b: lake.read_batch(tmp_path, "bulletin_units", b).to_pylist() for b in ("b1", "b2")} == before
    assert len(before["b2"]) == 200
    assert lake_read.batch_files(tmp_path, "bulletin_units", ["b1"]) == lake_read.batch_files(
        tmp_path, "bulletin_units", ["b2"]
    )
    path = _data_file(tmp_path, "bulletin_units")
    metadata = pq.ParquetFile(path).metadata
    assert {metadata.row_group(g).column(c).compression for g in range(2) for c in range(metadata.num_columns)} == {
        "ZSTD"
    }
    assert _silent_flips(path) == []


def test_compaction_leaves_a_group_with_an_unreadable_file_as_it_was(tmp_path: Path) -> None:
    """A page that fails its checksum is never copied into a new file with a valid one."""
    from flows.warehouse import lake_compact

    _two_small_files(tmp_path)
    files = lake.data_files(tmp_path, "bulletin_units")
    rotten = next(f for f in files if f.min_batch == "b2")
    target = tmp_path / rotten.relative
    data = bytearray(target.read_bytes())
    data[200] ^= 0x55
    target.write_bytes(bytes(data))
    done = lake_compact.compact_table(tmp_path, "bulletin_units")
    assert done == lake_compact.Compacted(2, 2, (rotten.path,))
    assert lake.data_files(tmp_path, "bulletin_units") == files
    assert sorted(p.name for p in (tmp_path / "bulletin_units").glob("*.parquet")) == sorted(f.path for f in files)


def test_delta_rs_own_compaction_would_let_bit_rot_read_as_other_rows(tmp_path: Path) -> None:
    """Why the raw tables are not compacted by `optimize.compact()`: its files have no page
    checksums, so flipped bytes read back as other rows. If a deltalake release changes
    that, this fails, and lake_compact can give way to it."""
    _two_small_files(tmp_path)
    table = lake.open_table(tmp_path, "bulletin_units")
    assert table is not None
    table.optimize.compact()
    (only,) = lake.data_files(tmp_path, "bulletin_units")
    assert _silent_flips(tmp_path / only.relative) != []
