"""The lake in S3 (`s3://bucket/prefix`, BULLETINS_LAKE / --lake), against a real server (SeaweedFS).

An S3 inbox and an S3 lake give the warehouse a folder gives; a rerun changes nothing;
a batch retried after a kill between tables is in once; rebuild, maintain and the audit
work on S3; the read-only key reads the lake but a run with it is one line; a wrong key
and a missing bucket are one line each, exit 2, no secret shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deltalake import CommitProperties, Transaction, write_deltalake
from pipeline_helpers import ALL_SCHEMAS, bulletins, query, snapshot
from servers.seaweedfs import READER, WRITER, Key, SeaweedS3
from test_inbox_and_lake import (
    _article_row,
    _files_row,
    two_writers_of_one_batch_at_once,
    write_twice_and_retry_after_a_kill,
)
from test_lake_upgrade import UPGRADED, commit_without_rows, old_files_batches
from test_s3_inbox import files_rows, local_inbox, new_prefix, upload

from flows.settings import S3Location, Settings
from flows.warehouse import batch_record, corrections, holds, lake, lake_audit, lake_store, lake_upgrade, maintain
from flows.warehouse.db import connect, create_raw_tables, load_batches
from flows.warehouse.readers.export import MART_ORDER
from flows.warehouse.schema import LAKE_TABLES


def _use(monkeypatch: pytest.MonkeyPatch, server: SeaweedS3, key: Key) -> None:
    for name, value in server.env(key).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def writer_env(seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs read and write with the writer key (the inbox and the lake share it here)."""
    _use(monkeypatch, seaweedfs, WRITER)


def _raw_counts(db: Path) -> dict[str, int]:
    return {t: query(db, f"select count(*) from {t}")[0][0] for t in ("ingest.files", "raw.bulletin_units")}


@pytest.mark.slow  # four flow runs, a maintenance and a rebuild (about 25 s)
@pytest.mark.usefixtures("prefect_harness", "writer_env")
def test_an_s3_inbox_and_an_s3_lake_give_the_warehouse_a_folder_gives(
    seaweedfs: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.orchestration.flow import bulletin_etl
    from flows.warehouse.build import rebuild_warehouse

    folder = local_inbox(tmp_path / "inbox")
    inbox, lake_at = new_prefix("inbox"), new_prefix("lake")
    upload(seaweedfs, folder, inbox)
    local_db, s3_db = tmp_path / "local" / "bulletins.duckdb", tmp_path / "s3" / "bulletins.duckdb"

    bulletin_etl(inbox=str(folder), warehouse=str(local_db.parent))
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(s3_db.parent), lake=str(lake_at))
    assert (summary.files_seen, summary.files_new) == (7, 7)
    assert snapshot(s3_db) == snapshot(local_db)  # core and marts, row for row
    assert files_rows(s3_db) == files_rows(local_db)
    assert not (s3_db.parent / "lake").exists()  # everything of the lake went to S3
    names = lake_store.list_files(lake_at, "")
    assert any(n.startswith("articles/part-") for n in names) and "_maintained.json" in names
    assert all(lake.mart_exists(lake_at, t) for t in MART_ORDER)
    assert batch_record.batches_in(lake_at, batch_record.LOADED) == set(lake.complete_batches(lake_at))

    # A rerun changes nothing, in the warehouse or in the lake's tables.
    before, versions = snapshot(s3_db, ALL_SCHEMAS), _versions(lake_at)
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(s3_db.parent), lake=str(lake_at))
    assert (summary.files_new, summary.files_unchanged, summary.models_built) == (0, 7, False)
    assert snapshot(s3_db, ALL_SCHEMAS) == before
    assert {t: v for t, v in _versions(lake_at).items() if t in LAKE_TABLES} == {
        t: v for t, v in versions.items() if t in LAKE_TABLES
    }

    # The audit reads every data file on S3 and finds nothing wrong.
    settings = Settings.resolve(str(inbox), s3_db.parent, lake=str(lake_at))
    assert lake_audit.audit(lake_at, loaded=set(lake.complete_batches(lake_at)), full=True) == []

    # Maintenance on S3: small files compacted, the rows and batch ids unchanged.
    files_before = len(lake.data_files(lake_at, "files"))
    done = maintain.maintain(settings, retention_hours=0)
    assert done.compacted["files"] == (files_before, 1) and files_before > 1
    assert lake.complete_batches(lake_at) == sorted(batch_record.batches_in(lake_at, batch_record.WRITTEN))

    # Rebuild from the S3 lake (after the compaction): the same warehouse.
    result = rebuild_warehouse(settings)
    assert result.problems == [] and result.batches == len(lake.complete_batches(lake_at))
    assert snapshot(s3_db) == snapshot(local_db)

    # Holds and decisions are objects in the lake, read back as written.
    holds.add_holds(lake_at, "fp", [holds.Hold("a" * 64, "x.txt", "held out: test")])
    assert [h.path for h in holds.read_holds(lake_at)] == ["x.txt"]
    written = corrections.write_decision(lake_at, "forget", [corrections.DecidedFile("b" * 64, "y.txt")], "why", "张三")
    assert written.name.endswith(".json") and [c.path for c in corrections.read_decisions(lake_at).corrections] == [
        "y.txt"
    ]

    # The read-only key reads the lake: its tables, and a load into a new DuckDB file.
    _use(monkeypatch, seaweedfs, READER)
    assert lake.open_table(lake_at, "files") is not None
    con = connect(tmp_path / "reader.duckdb")
    try:
        create_raw_tables(con)
        load_batches(con, lake_at, lake.complete_batches(lake_at))
        con.commit()
    finally:
        con.close()
    assert _raw_counts(tmp_path / "reader.duckdb") == _raw_counts(s3_db)


@pytest.mark.usefixtures("writer_env")
def test_two_writers_of_one_batch_at_once_write_it_once_on_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    """On S3 the refused commit is the log's next version already taken (If-None-Match) and
    the batch's transaction id found in the winning commit: the same outcome as in a folder."""
    lake_at = new_prefix("lake")
    two_writers_of_one_batch_at_once(lake_at, monkeypatch)
    assert len(_articles_files_all_referenced(lake_at)) == 1  # the refused writer's copy removed


def _articles_files_all_referenced(lake_at: S3Location) -> set[str]:
    """The data files of `articles` its log references, asserting they are every data file
    in the table's prefix (an uncommitted copy would be one more)."""
    referenced = {f.path for f in lake.data_files(lake_at, "articles")}
    on_s3 = {n for n in lake_store.list_files(lake_at, "articles") if lake_store.is_data_file_name(n)}
    assert on_s3 == referenced
    return referenced


def _versions(lake_at: S3Location) -> dict[str, int]:
    return {t: dt.version() for t in [*LAKE_TABLES, "_batches"] if (dt := lake.open_table(lake_at, t)) is not None}


@pytest.mark.scenario
@pytest.mark.usefixtures("writer_env")
def test_a_batch_retried_after_a_kill_between_tables_is_in_once_on_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    lake_at = new_prefix("lake")
    write_twice_and_retry_after_a_kill(lake_at, monkeypatch)
    # The retry's own copy of articles was never committed, and was removed.
    assert len(_articles_files_all_referenced(lake_at)) == 2
    # The audit's strays on S3: a file that is no part of the table is set aside and logged.
    lake_store.write_text(lake_at, "articles/notes.txt", "not a data file")
    problems = lake_audit.audit(lake_at, loaded=set(), full=True)
    assert [p.reason for p in problems] == ["articles/notes.txt is not a file of its Delta table"]
    assert lake_store.is_file(lake_at, "_quarantine/articles/notes.txt")
    assert "articles/notes.txt" in lake_store.read_set_aside_log(lake_at)
    # A damaged data file on S3: found when read, taken out of its table and set aside, its
    # batch set aside too (no warehouse to restore it from).
    (damaged,) = [f for f in lake.data_files(lake_at, "articles") if f.min_batch == "r-0002"]
    lake_store.write_text(lake_at, damaged.relative, "PAR1 not parquet at all")
    problems = lake_audit.audit(lake_at, loaded=set(), full=True)
    assert [(p.batch_id, p.set_aside) for p in problems] == [("r-0002", True)]
    assert "unreadable" in problems[0].reason
    assert lake.complete_batches(lake_at) == ["r-0001"]
    assert lake_store.is_file(lake_at, f"_quarantine/{damaged.relative}")
    assert not lake_store.is_file(lake_at, damaged.relative)


@pytest.mark.usefixtures("writer_env")
def test_a_table_of_an_older_schema_is_upgraded_on_s3() -> None:
    """`files` as the previous version wrote it to S3 (no over_size_limit): the upgrade
    writes its files again in the current schema, every row and transaction id kept."""
    lake_at = new_prefix("lake")
    batches = old_files_batches()
    commit_without_rows(lake_at, list(batches))
    for batch_id, rows in batches.items():  # by delta-rs's writer, as a batch to S3 once was
        write_deltalake(
            lake.table_uri(lake_at, "files"), rows, mode="append", storage_options=lake.storage_options(lake_at),
            commit_properties=CommitProperties(app_transactions=[Transaction(app_id=batch_id, version=1)]),
        )  # fmt: skip
    assert lake_upgrade.outdated_tables(lake_at) == ["files"]

    done, problems = lake_upgrade.upgrade_lake(lake_at, lambda: pytest.fail("no file is unreadable"))

    assert (done.tables, problems) == ({"files": ["over_size_limit"]}, [])
    dt = lake.open_table(lake_at, "files")
    assert dt is not None and (dt.transaction_version("b1"), dt.transaction_version("b2")) == (1, 1)
    found = sorted((r["path"], r["batch_id"], r["over_size_limit"]) for r in dt.to_pyarrow_table().to_pylist())
    assert found == UPGRADED
    assert lake.complete_batches(lake_at) == ["b1", "b2"]
    assert lake_audit.audit(lake_at, loaded=set(), full=True) == []


def _run(seaweedfs: SeaweedS3, tmp_path: Path, lake_url: str, key: Key) -> Any:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return bulletins(
        "run", "--inbox", str(inbox), "--warehouse", str(tmp_path / "wh"), "--lake", lake_url,
        env=seaweedfs.env(key), drop=("AWS_", "BULLETINS_LAKE"), timeout=120,
    )  # fmt: skip


def _one_error_line(done: Any) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return str(lines[0])


def test_a_run_with_the_read_only_key_is_one_line(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    lake_url = str(new_prefix("lake"))
    line = _one_error_line(_run(seaweedfs, tmp_path, lake_url, READER))
    assert line.startswith("error: S3 拒绝写入湖 s3://"), line
    assert READER.secret_key not in line and READER.access_key not in line
    # rebuild records what it loaded in the lake and writes the marts' copy there: the same line.
    done = bulletins(
        "rebuild", "--warehouse", str(tmp_path / "wh"), "--lake", lake_url,
        env=seaweedfs.env(READER), drop=("AWS_", "BULLETINS_LAKE"),
    )  # fmt: skip
    assert _one_error_line(done).startswith("error: S3 拒绝写入湖 s3://")


def test_a_wrong_key_and_a_missing_bucket_for_the_lake_are_one_line_each(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    wrong = Key(WRITER.access_key, "not-the-secret-9876543210")
    line = _one_error_line(_run(seaweedfs, tmp_path, str(new_prefix("lake")), wrong))
    assert line.startswith("error: S3 拒绝了访问密钥"), line
    assert wrong.secret_key not in line and WRITER.secret_key not in line
    line = _one_error_line(_run(seaweedfs, tmp_path, "s3://no-such-bucket/lake", WRITER))
    assert line.startswith("error: S3 桶 no-such-bucket 不存在"), line
    assert WRITER.secret_key not in line


def test_the_lake_is_a_setting_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULLETINS_LAKE", raising=False)
    assert Settings.resolve(tmp_path / "in", tmp_path / "wh").lake_dir == (tmp_path / "wh" / "lake").resolve()
    monkeypatch.setenv("BULLETINS_LAKE", "s3://bucket/lake/")
    assert Settings.resolve(tmp_path / "in", tmp_path / "wh").lake_dir == S3Location("bucket", "lake")
    assert Settings.resolve(tmp_path / "in", tmp_path / "wh", lake=str(tmp_path / "l")).lake_dir == tmp_path / "l"
    from flows.settings import SettingsError, validate_paths

    with pytest.raises(SettingsError, match="overlap"):
        validate_paths(Settings.resolve("s3://bucket/lake/inbox", tmp_path / "wh"))
    with pytest.raises(SettingsError, match="inside the inbox"):
        validate_paths(Settings.resolve(tmp_path / "in", tmp_path / "wh", lake=str(tmp_path / "in" / "lake")))


def _write_batches(args: tuple[str, dict[str, str], str, int]) -> None:
    """A writer host: its own process commits `count` batches to the shared S3 lake."""
    import os

    lake_url, env, prefix, count = args
    os.environ.update(env)
    lake_at = lake_store.location(lake_url)
    for n in range(count):
        batch_id = f"{prefix}-{n:04d}"
        lake.write_batch(lake_at, batch_id, {"articles": [_article_row(batch_id)], "files": [_files_row(batch_id)]})


@pytest.mark.slow  # two processes import deltalake and race 12 commits (about 9 s)
@pytest.mark.usefixtures("writer_env")
def test_writers_committing_to_one_s3_lake_at_once_lose_nothing(seaweedfs: SeaweedS3) -> None:
    """Commits race for the log's next version; delta-rs puts it with If-None-Match, which
    SeaweedFS honours: the loser commits at the next version (docs/s3.md, "Concurrent commits")."""
    import multiprocessing

    lake_at = new_prefix("lake")
    lake.write_batch(lake_at, "a-0000", {"files": [_files_row("a-0000")]})  # the tables exist before the race
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_write_batches, [(str(lake_at), seaweedfs.env(WRITER), p, 6) for p in ("w1", "w2")])
    expected = ["a-0000", *(f"{p}-{n:04d}" for p in ("w1", "w2") for n in range(6))]
    assert lake.complete_batches(lake_at) == sorted(expected)
    articles = lake.open_table(lake_at, "articles")
    assert articles is not None and articles.to_pyarrow_table().num_rows == 12
    # Version 0 its creation, 1 a-0000's commit (no rows), then one per batch: none overwritten.
    assert articles.version() == 13 and len(articles.history()) == 14
