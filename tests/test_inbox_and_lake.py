"""Pure pieces of the pipeline: planning what is new, batching, the lake's batches."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from flows.warehouse import inbox as inbox_module
from flows.warehouse import lake
from flows.warehouse.inbox import InboxFile, Known, batches, plan_run, sha256_file
from flows.warehouse.schema import LAKE_TABLES

EMPTY = Known(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)


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
    assert plan.seen == 3 and plan.unchanged == 0
    assert [(i.path, i.ingest_seq) for i in plan.to_parse] == [("a.txt", 1), ("b.txt", 2)]
    assert [(i.path, i.duplicate_of, i.ingest_seq) for i in plan.duplicates] == [("sub/a_copy.txt", "a.txt", 3)]


def test_plan_skips_unchanged_paths_without_reading_them(tmp_path: Path, monkeypatch) -> None:
    a = _write(tmp_path, "a.txt", b"page a")
    stat = a.stat()
    known = Known(
        paths={"a.txt": (stat.st_size, stat.st_mtime_ns)},
        path_shas=frozenset({("a.txt", sha256_file(a))}),
        taken={sha256_file(a): "a.txt"},
        max_ingest_seq=7,
    )

    def no_reading(path: Path) -> str:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(inbox_module, "sha256_file", no_reading)
    plan = plan_run(tmp_path, known)
    assert (plan.seen, plan.unchanged, plan.to_parse, plan.duplicates) == (1, 1, [], [])


def test_plan_takes_changed_bytes_at_a_known_path_and_ignores_a_touch(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.txt", b"page a")
    sha_a = sha256_file(a)
    known = Known(
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


def test_a_batch_is_complete_only_with_its_files_part(tmp_path: Path) -> None:
    row = {
        "file_sha256": "0" * 64,
        "path": "a.txt",
        "size_bytes": 1,
        "modified_ns": 1,
        "issue_date": None,
        "issue_date_source": None,
        "encoding": None,
        "status": "quarantined",
        "reasons": ["empty"],
        "first_seen_at": datetime(2026, 1, 1, tzinfo=UTC),
        "ingest_seq": 1,
        "batch_id": "b1",
    }
    lake.write_batch(tmp_path, "b1", {"files": [row]})
    # An interrupted batch: table parts written, `files` never.
    lake.write_part(tmp_path, "articles", "b2", [])
    (tmp_path / "articles" / ".b3.parquet.tmp").write_bytes(b"half")
    assert lake.complete_batches(tmp_path) == ["b1"]
    removed = sorted(p.name for p in lake.remove_incomplete(tmp_path))
    assert removed == [".b3.parquet.tmp", "b2.parquet"]
    for table, schema in LAKE_TABLES.items():
        assert pq.read_schema(lake.part_path(tmp_path, table, "b1")).remove_metadata() == schema.remove_metadata()
    assert lake.read_files_part(tmp_path, "b1") == [row]
