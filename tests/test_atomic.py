"""Files written whole or not at all, through one helper (flows/warehouse/atomic.py), synced to disk."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from flows.reporting import exports
from flows.warehouse import atomic


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every file descriptor the helper syncs, in order (the real fsync still runs)."""
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    return calls


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_atomic_with(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_named_temporary_file_is_used_and_renamed(tmp_path: Path) -> None:
    target, seen = tmp_path / "part.parquet", []
    tmp = tmp_path / ".part.parquet.tmp"
    atomic.write_atomic_with(target, lambda t: (seen.append(t), t.write_bytes(b"x")), tmp=tmp)
    assert seen == [tmp] and target.read_bytes() == b"x" and not tmp.exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda path: exports.write_csv(path / "weekly.csv", ["city"], [["驻马店"]]),
        lambda path: exports.write_xlsx(path / "weekly.xlsx", [("weekly", ["city"], [["驻马店"]])]),
        lambda path: exports.write_parquet(path / "weekly.parquet", pa.table({"city": ["驻马店"]})),
    ],
    ids=["csv", "xlsx", "parquet"],
)
def test_an_export_is_synced_with_its_folder_before_anyone_reads_it(
    tmp_path: Path, synced: list[int], write: object
) -> None:
    """The CSV and Excel exports were renamed into place unsynced: a power cut could leave them empty."""
    path = write(tmp_path)  # type: ignore[operator]
    assert path.is_file() and len(synced) == 2  # the file, then its folder
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
