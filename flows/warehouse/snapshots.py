"""Snapshot reads: readers open a published copy; only the run opens the file it writes.

Two DuckDB files per warehouse:

- the **writer file**, `<warehouse>/.writer/bulletins.duckdb` (`Settings.writer_db_path`): a run (and `rebuild`) loads,
  builds and tests here. No reader is pointed at it, so no reader can make a run wait.
- the **published snapshot**, `<warehouse>/bulletins.duckdb` (`Settings.db_path`, the documented path that
  `bulletins query`, `shell`, `report`, `export`, `status` and any DuckDB client open):
  a complete, checkpointed copy of the writer file, replaced as a whole by `rename(2)`.

A reader that has the snapshot open keeps reading the file it opened (its inode) until it
reconnects, however many runs publish meanwhile; the kernel frees an old snapshot's blocks
when its last reader closes it, so no old snapshot is ever deleted from under a reader
and none outlives its readers. A reader that connects while a run builds sees the last
published snapshot (none before the first run publishes), never a half-built file.

Plain functions, no Prefect. What it costs (one copy of the file per run that changed
it; reflinked where the filesystem can) is in README "Snapshot reads" and BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flows.warehouse.atomic import write_atomic, write_atomic_with

# What the last publish saw of both files: a run publishes only when either changed since.
STAMP_NAME = "published.json"
# Linux ioctl FICLONE: a copy-on-write clone on filesystems that have them (btrfs, XFS).
_FICLONE = 0x40049409
_COPY_CHUNK = 64 * 1024 * 1024


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _identity(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _stamp_path(writer: Path) -> Path:
    return writer.with_name(STAMP_NAME)


def _read_stamp(writer: Path) -> dict[str, list[int] | None]:
    try:
        return json.loads(_stamp_path(writer).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_current(writer: Path, published: Path) -> bool:
    """Whether the published snapshot is the writer file as it now is (nothing to publish)."""
    if _wal(writer).exists():  # committed work not yet checkpointed into the file
        return False
    stamp = _read_stamp(writer)
    now = {"writer": _identity(writer), "published": _identity(published)}
    return None not in now.values() and stamp == now


def adopt_legacy(writer: Path, published: Path) -> bool:
    """Make the writer file from a warehouse of a version without snapshots (call under the run lock).

    Before snapshots the documented path was the file runs wrote. When there is no writer
    file yet, the published file (and its WAL, if a run left one) is copied to the writer's
    place; the end of the run publishes a clean snapshot over it. Also how a deleted writer
    file comes back. Returns whether it copied anything.
    """
    if writer.exists() or not published.exists():
        return False
    writer.parent.mkdir(parents=True, exist_ok=True)
    for source, target in ((published, writer), (_wal(published), _wal(writer))):
        if source.exists():
            write_atomic_with(target, functools.partial(_copy, source), tmp=target.with_name(target.name + ".adopt"))
    return True


@dataclass(frozen=True)
class Published:
    seconds: float
    bytes: int
    cloned: bool  # a copy-on-write clone (no data copied)


def publish(writer: Path, published: Path) -> Published | None:
    """Publish the writer file as the snapshot readers open; None when it is already published.

    Call under the run lock with no connection to the writer file open: DuckDB checkpoints
    on close, so the file then holds every committed change and no WAL. The copy is
    written beside the snapshot under a temporary name, synced, and renamed over it: a
    reader opens either the old snapshot or the new one, whole.
    """
    if not writer.exists():
        return None
    if _wal(writer).exists():
        _checkpoint(writer)
    if is_current(writer, published):
        return None
    started = time.perf_counter()
    cloned: list[bool] = []

    def copy_of_writer(tmp: Path) -> None:
        cloned.append(_copy(writer, tmp))
        # A WAL beside the snapshot belongs to a file of the version before snapshots:
        # removed first, so a reader never pairs it with the new file.
        _wal(published).unlink(missing_ok=True)

    # The temporary name is the one `remove_leftovers` looks for.
    write_atomic_with(published, copy_of_writer, tmp=published.with_name(f".{published.name}.publish-{os.getpid()}"))
    stamp = {"writer": _identity(writer), "published": _identity(published)}
    write_atomic(_stamp_path(writer), json.dumps(stamp))
    return Published(time.perf_counter() - started, published.stat().st_size, cloned[0])


def remove_leftovers(published: Path) -> list[Path]:
    """Delete the temporary copies of a publish that was killed (call under the run lock)."""
    removed = []
    for path in published.parent.glob(f".{published.name}.publish-*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _checkpoint(writer: Path) -> None:
    from flows.warehouse.db import connect

    con = connect(writer)
    try:
        con.execute("checkpoint")
    finally:
        con.close()


def _copy(source: Path, target: Path) -> bool:
    """Copy a file (`write_atomic_with` syncs it); a copy-on-write clone where the filesystem makes one.

    Returns whether it was cloned. `copy_file_range` copies in the kernel (and clones on
    its own on some filesystems); plain reads and writes where it is not available.
    """
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            cloned = True
        except OSError:
            cloned = False
            _copy_data(src, dst)
    return cloned


def _copy_data(src: BinaryIO, dst: BinaryIO) -> None:
    size = os.fstat(src.fileno()).st_size
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src.fileno(), dst.fileno(), min(_COPY_CHUNK, size - copied))
            if n == 0:
                break
            copied += n
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    src.seek(0)
    dst.seek(0)
    dst.truncate()
    shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
