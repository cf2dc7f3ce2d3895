"""Files written whole or not at all: a temporary name beside the target, fsync, rename, fsync of the folder.

A reader (or a run after a power cut) finds the old file or the new one, never a part.
Every such write in the package goes through here: `write_atomic` for bytes or text,
`write_atomic_with` for a file another library writes (CSV, Excel, Parquet, a copy),
`replace_durably` for a file already made under a temporary name (a rebuilt DuckDB file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, path: Path) -> Path:
    """Sync `tmp`'s bytes, rename it over `path`, sync the folder; return `path`."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def write_atomic_with(path: Path, make: Callable[[Path], object], *, tmp: Path | None = None) -> Path:
    """Have `make` write the file under a temporary name beside `path`, then put it in place durably.

    `tmp` names the temporary file where something looks for leftovers by name (default
    `.<name>.<pid>.tmp`); it is removed when `make` or the rename fails.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_atomic_with(folder / "a.txt", lambda tmp: tmp.write_text("whole")).read_text()
    'whole'
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt']
    """
    tmp = tmp or path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        make(tmp)
        return replace_durably(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # gone already when only the folder's sync failed
        raise


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically and durably; return `path`."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return write_atomic_with(path, lambda tmp: tmp.write_bytes(payload))
