"""Snapshot reads (flows/warehouse/snapshots.py): what a publish does to the two files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flows.warehouse import snapshots

# Holds a read-only connection to argv[1]; answers `count` with the rows of t; `quit` ends.
READER = """
import sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    print(con.execute("select count(*) from t").fetchall()[0][0], flush=True)
con.close()
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    writer, published = tmp_path / ".writer" / "bulletins.duckdb", tmp_path / "bulletins.duckdb"
    writer.parent.mkdir()
    _write(writer, "create table t as select range as i from range(1000)")
    return writer, published


def _write(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(sql)
    finally:
        con.close()


def _count(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select count(*) from t").fetchall()[0][0]
    finally:
        con.close()


def test_publish_copies_the_writer_file_whole_and_only_when_it_changed(files: tuple[Path, Path]) -> None:
    writer, published = files
    first = snapshots.publish(writer, published)
    assert first is not None and first.bytes == writer.stat().st_size
    assert published.read_bytes() == writer.read_bytes()
    assert snapshots.publish(writer, published) is None  # nothing changed: no copy
    _write(writer, "insert into t values (-1)")
    assert snapshots.publish(writer, published) is not None
    assert _count(published) == 1001
    # Opening the writer file and changing nothing leaves it as it was: still nothing to publish.
    _write(writer, "select count(*) from t")
    assert snapshots.publish(writer, published) is None


def test_a_snapshot_changed_or_removed_by_someone_else_is_published_again(files: tuple[Path, Path]) -> None:
    writer, published = files
    snapshots.publish(writer, published)
    _write(published, "delete from t")  # someone opened the snapshot read-write
    assert snapshots.publish(writer, published) is not None
    assert _count(published) == 1000
    published.unlink()
    assert snapshots.publish(writer, published) is not None
    assert _count(published) == 1000


def test_an_open_reader_keeps_its_snapshot_until_it_reconnects(files: tuple[Path, Path]) -> None:
    writer, published = files
    snapshots.publish(writer, published)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert reader.stdin is not None and reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "ready"
        for n in range(3):  # three runs publish while the reader stays open
            _write(writer, f"insert into t values ({n})")
            assert snapshots.publish(writer, published) is not None
        reader.stdin.write("count\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1000"  # the snapshot it opened
        assert _count(published) == 1003  # a new connection: the newest
        # The old snapshot lives on only as the reader's open file, unlinked.
        held = [os.readlink(fd) for fd in Path(f"/proc/{reader.pid}/fd").iterdir()]
        assert f"{published} (deleted)" in held
    finally:
        reader.stdin.write("quit\n")
        reader.stdin.close()
        reader.wait(timeout=30)
        reader.stdout.close()
    assert sorted(p.name for p in published.parent.iterdir()) == [".writer", "bulletins.duckdb"]


def test_a_warehouse_from_before_snapshots_is_adopted_with_its_log(tmp_path: Path) -> None:
    """The old layout had only bulletins.duckdb (runs wrote it), maybe with a WAL a killed run left."""
    writer, published = tmp_path / ".writer" / "bulletins.duckdb", tmp_path / "bulletins.duckdb"
    _write(published, "create table t as select range as i from range(10)")
    wal = published.with_name("bulletins.duckdb.wal")
    wal.write_bytes(b"")  # an empty log: DuckDB replays nothing from it
    assert snapshots.adopt_legacy(writer, published)
    assert writer.read_bytes() == published.read_bytes()
    assert writer.with_name("bulletins.duckdb.wal").exists()
    assert not snapshots.adopt_legacy(writer, published)  # once
    writer.with_name("bulletins.duckdb.wal").unlink()
    _write(writer, "insert into t values (10)")
    assert snapshots.publish(writer, published) is not None
    assert not wal.exists()  # the old log never pairs with the new snapshot
    assert _count(published) == 11


def test_a_killed_publish_leaves_a_temporary_copy_that_the_next_run_removes(files: tuple[Path, Path]) -> None:
    _, published = files
    leftover = published.with_name(".bulletins.duckdb.publish-4242")
    leftover.write_bytes(b"half a snapshot")
    assert snapshots.remove_leftovers(published) == [leftover]
    assert not leftover.exists()


def test_a_failed_copy_leaves_the_old_snapshot_and_no_temporary_file(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, published = files
    snapshots.publish(writer, published)
    before = published.read_bytes()
    _write(writer, "insert into t values (-1)")

    def disk_full(source: Path, target: Path) -> bool:
        target.write_bytes(b"part")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots, "_copy", disk_full)
    with pytest.raises(OSError, match="No space left"):
        snapshots.publish(writer, published)
    assert published.read_bytes() == before
    assert not list(published.parent.glob(".bulletins.duckdb.publish-*"))
    monkeypatch.undo()
    assert snapshots.publish(writer, published) is not None  # the next run publishes it
    assert _count(published) == 1001
