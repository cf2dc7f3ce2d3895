"""The plan hashes its new files with their reads started ahead (`flows.warehouse.hash_ahead`)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from flows.warehouse import hash_ahead
from flows.warehouse.hash_ahead import READ_AHEAD_FILES, HashAhead
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.inbox_walk import walk_inbox

EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)
FILES = READ_AHEAD_FILES * 2 + 3


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    for n in range(FILES):
        (folder / f"{n // 10}").mkdir(parents=True, exist_ok=True)
        (folder / f"{n // 10}" / f"{n:03d}.txt").write_bytes(f"page {n}\n".encode() * (n + 1))
    return folder


@pytest.fixture
def hints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the kernel was asked to read in, in order (by the path each descriptor names)."""
    given: list[str] = []
    real = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_WILLNEED
        given.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real(fd, offset, length, advice)

    monkeypatch.setattr(hash_ahead.os, "posix_fadvise", record)
    return given


def test_the_next_files_are_asked_for_before_each_is_hashed(inbox: Path, hints: list[str]) -> None:
    before = _open_fds()
    ahead = HashAhead(inbox, walk_inbox(inbox), lambda entry: True)
    hashed = {}
    for n, entry in enumerate(ahead):
        # When a file is hashed, the reads of the window's files after it were asked for already.
        assert len(hints) == min(n + READ_AHEAD_FILES, FILES)
        hashed[entry.path] = ahead.sha256(entry)
    assert hashed == {
        p.relative_to(inbox).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.rglob("*.txt")
    }
    assert hints == sorted(hints) and len(hints) == FILES  # each once, in the walk's order
    assert _open_fds() == before


def test_files_not_hashed_and_a_stop_midway_leave_nothing_open(inbox: Path, hints: list[str]) -> None:
    before = _open_fds()
    ahead = HashAhead(inbox, walk_inbox(inbox), lambda entry: True)
    for n, entry in enumerate(ahead):
        if n % 3 == 0:
            ahead.sha256(entry)  # the others are opened ahead and never hashed
        if n == FILES - 5:
            break
    assert _open_fds() == before
    with pytest.raises(RuntimeError, match="stopped"):
        for entry in HashAhead(inbox, walk_inbox(inbox), lambda entry: True):
            raise RuntimeError(f"stopped at {entry.path}")
    assert _open_fds() == before


def test_a_file_not_opened_ahead_or_gone_since_is_hashed_or_refused_as_before(inbox: Path, hints: list[str]) -> None:
    entries = list(walk_inbox(inbox))
    gone = inbox / entries[-1].fs_path
    ahead = HashAhead(inbox, entries, lambda entry: entry.path != entries[0].path)
    seen = []
    for entry in ahead:
        if entry is entries[-3]:
            gone.unlink()  # in the window already: it was opened, so it is hashed as it was
        if entry is entries[0] or entry is entries[-1]:  # the first not wanted: read when hashed
            seen.append(ahead.sha256(entry))
    assert entries[0].path.rsplit("/", 1)[-1] not in hints
    assert seen[0] == hashlib.sha256(b"page 0\n").hexdigest()
    assert seen[1] == hashlib.sha256(f"page {FILES - 1}\n".encode() * FILES).hexdigest()
    # Gone before its turn to be opened: the plan's read fails as it always did.
    later = HashAhead(inbox, entries, lambda entry: True)
    with pytest.raises(OSError):
        for entry in later:
            if entry is entries[-1]:
                later.sha256(entry)


def test_the_plan_reads_ahead_only_the_files_it_hashes(tmp_path: Path, hints: list[str]) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_bytes(b"page a")
    (inbox / "b.txt").write_bytes(b"page b")
    (inbox / "old.txt").write_bytes(b"page old")
    with zipfile.ZipFile(inbox / "m.zip", "w") as archive:
        archive.writestr("c.txt", "page c")
    old = (inbox / "old.txt").stat()
    known = RecordedFiles(
        paths={"old.txt": (old.st_size, old.st_mtime_ns)},
        path_shas=frozenset({("old.txt", hashlib.sha256(b"page old").hexdigest())}),
        taken={hashlib.sha256(b"page old").hexdigest(): "old.txt"},
        max_ingest_seq=1,
    )
    before = _open_fds()
    plan = plan_run(inbox, known)
    assert sorted(hints) == ["a.txt", "b.txt"]  # not the unchanged file, not the archive
    assert {i.path: i.file_sha256 for i in plan.to_parse} == {
        "a.txt": hashlib.sha256(b"page a").hexdigest(),
        "b.txt": hashlib.sha256(b"page b").hexdigest(),
        "m.zip!c.txt": hashlib.sha256(b"page c").hexdigest(),
    }
    assert _open_fds() == before
    assert plan_run(inbox, EMPTY).to_parse[0].file_sha256 == hashlib.sha256(b"page a").hexdigest()
