"""The inbox's walk: what entries a folder or an S3 prefix holds, seen without following
anything (links, hidden entries and special files recorded by name, never opened), and the
reads of a regular file the plan makes (bounded, by file descriptor).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flows.settings import InboxLocation, S3Location
from flows.warehouse import storage
from flows.warehouse.reasons import (
    FOLDER_NOT_LISTED,
    MTIME_OUT_OF_RANGE,
    NAME_ESCAPED,
    NAME_HIDDEN,
    NAME_NOT_UTF8,
    NOT_EXAMINED,
    NOT_READ,
    NOT_REGULAR,
    SYMBOLIC_LINK,
)

FILE, LINK, HIDDEN, SPECIAL, UNLISTED = "file", "symbolic link", "hidden", "special", "unlisted"


@dataclass(frozen=True)
class Entry:
    """One inbox entry as the walk saw it: nothing followed, nothing opened."""

    path: str  # display path (see `display_path`)
    fs_path: str  # relative path as the OS names it
    kind: str  # FILE, LINK, HIDDEN, SPECIAL or UNLISTED
    size_bytes: int
    modified_ns: int  # clamped to what int64 nanoseconds hold (see MTIME_NS_MAX)
    reasons: tuple[str, ...] = ()  # why it is not read; for a FILE, notes
    exact_mtime: bool = True  # False when modified_ns was clamped: size and mtime cannot tell a change


# Text in a name that reads as an escape: a UTF-8 name holding it is escaped too, so
# that no two names are recorded under one path.
_READS_AS_ESCAPE = re.compile(r"\\(?:\\|x[0-9a-f]{2})")


def display_path(fs_path: str) -> tuple[str, bool]:
    r"""The path as recorded, and whether it had to be escaped.

    A path that is not UTF-8 (GBK names from zips made on Windows) is written with every
    byte above 0x7f as \xNN and a backslash as \\: reversible, and text Parquet can hold.
    A UTF-8 path is kept as it is, unless it holds text that reads as such an escape
    (`\\` or `\x` and two hex digits): it is escaped the same way, so that a file
    literally named `\xd6\xd0.txt` is not recorded under the GBK name `中.txt`'s path.
    One path, one name: `fs_name` gives the bytes back.

    >>> display_path("a/页.txt")
    ('a/页.txt', False)
    >>> print(display_path(os.fsdecode(b"2020_\xca\xfd.txt"))[0])
    2020_\xca\xfd.txt
    >>> print(display_path(r"2020_\xca\xfd.txt")[0])
    2020_\\xca\\xfd.txt
    >>> print(display_path(r"a\b.txt")[0])  # a backslash that reads as no escape stays
    a\b.txt
    """
    raw = os.fsencode(fs_path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _READS_AS_ESCAPE.search(text):
            return text, False
    escaped = "".join("\\\\" if b == 0x5C else chr(b) if b < 0x80 else f"\\x{b:02x}" for b in raw)
    return escaped, True


def fs_name(display: str) -> bytes:
    r"""The name's bytes on disk from its recorded path: the inverse of `display_path`.

    >>> fs_name(r"2020_\xca\xfd.txt"), fs_name(r"2020_\\xca.txt"), fs_name("页.txt")
    (b'2020_\xca\xfd.txt', b'2020_\\xca.txt', b'\xe9\xa1\xb5.txt')
    """
    if not _READS_AS_ESCAPE.search(display):
        return display.encode("utf-8")
    return re.sub(
        rb"\\(\\|x([0-9a-f]{2}))",
        lambda m: bytes([int(m[2], 16)]) if m[2] else b"\\",
        display.encode("ascii"),
    )


def _name_note(fs_path: str, display: str) -> str:
    raw = os.fsencode(fs_path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return f"{NAME_ESCAPED} (\\\\ or \\xNN): recorded as {display}"
    note = f"{NAME_NOT_UTF8}: recorded as {display}"
    try:
        return note + f" (as GB18030: {raw.decode('gb18030')})"
    except UnicodeDecodeError:
        return note


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)

# What the lake stores an mtime in: int64 nanoseconds, which end in April 2262. A file
# can carry a later mtime (ext4 goes to 2446); it is stored clamped, with a note.
MTIME_NS_MIN, MTIME_NS_MAX = -(2**63), 2**63 - 1


def _entry(fs_path: str, st: os.stat_result | None, kind: str, reasons: tuple[str, ...] = ()) -> Entry:
    display, escaped = display_path(fs_path)
    if escaped:
        reasons = (*reasons, _name_note(fs_path, display))
    size, mtime = (st.st_size, st.st_mtime_ns) if st is not None else (0, 0)
    stored = min(max(mtime, MTIME_NS_MIN), MTIME_NS_MAX)
    if stored != mtime:
        reasons = (*reasons, f"{MTIME_OUT_OF_RANGE} ({mtime} ns): recorded as {stored}")
    return Entry(display, fs_path, kind, size, stored, reasons, exact_mtime=stored == mtime)


def walk_inbox(inbox: Path) -> Iterator[Entry]:
    """Every entry under the inbox, in path order, without following anything.

    Regular files are FILEs. A symbolic link (wherever it points, even nowhere or in a
    loop), a hidden file or folder (name starting with "."), a FIFO, socket or device,
    and a folder that cannot be listed are entries with a reason and are never opened.
    Folders are walked, not recorded: an empty folder holds nothing to record. The walk
    keeps its own stack of folders, so no depth of folders exhausts Python's recursion.
    """
    if not inbox.is_dir():
        return
    # Each level: what is left to take of one folder, in name order (a subfolder as its prefix).
    stack: list[Iterator[Entry | str]] = [iter(_folder(inbox, ""))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, str):
            stack.append(iter(_folder(inbox, item)))
        else:
            yield item


def _folder(inbox: Path, prefix: str) -> list[Entry | str]:
    """One folder's entries in name order: each an Entry, or a subfolder's relative path to walk."""
    folder = inbox / prefix if prefix else inbox
    try:
        with os.scandir(folder) as it:
            items = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if not prefix:
            raise
        try:
            st: os.stat_result | None = os.lstat(folder)
        except OSError:
            st = None  # e.g. a path too long to name
        return [_entry(prefix, st, UNLISTED, (f"{FOLDER_NOT_LISTED} ({exc.strerror}): {NOT_READ}",))]
    found: list[Entry | str] = []
    for item in items:
        rel = f"{prefix}/{item.name}" if prefix else item.name
        try:
            st = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while walking: nothing to record
        except OSError as exc:  # e.g. a path longer than the system can name
            found.append(_entry(rel, None, SPECIAL, (f"{NOT_EXAMINED} ({exc.strerror}): {NOT_READ}",)))
            continue
        if item.name.startswith("."):
            what = f"{NAME_HIDDEN} folder" if stat.S_ISDIR(st.st_mode) else NAME_HIDDEN
            found.append(_entry(rel, st, HIDDEN, (f"{what} (name starts with '.'): {NOT_READ}",)))
        elif stat.S_ISLNK(st.st_mode):
            try:
                target = display_path(os.readlink(folder / item.name))[0]
            except OSError as exc:
                target = f"? ({exc.strerror})"
            found.append(_entry(rel, st, LINK, (f"{SYMBOLIC_LINK}{target}: not followed",)))
        elif stat.S_ISDIR(st.st_mode):
            found.append(rel)
        elif stat.S_ISREG(st.st_mode):
            found.append(_entry(rel, st, FILE))
        else:
            kind = next((name for test, name in _SPECIAL_KINDS if test(st.st_mode)), "special file")
            found.append(_entry(rel, st, SPECIAL, (f"{NOT_REGULAR} ({kind}): {NOT_READ}",)))
    return found


def walk_s3(inbox: S3Location) -> Iterator[Entry]:
    """Every object under an S3 inbox's prefix, in the order `walk_inbox` gives a folder's files.

    An object's size and ETag (as `storage.etag_stamp`) stand for a file's size and
    mtime. A name part starting with "." is hidden, as in a folder: a hidden object is
    an entry not read, and so is a hidden "folder" (one entry for the prefix, whatever
    it holds). S3 has no links, FIFOs or folders that cannot be listed.
    """
    hidden_folders: set[str] = set()
    for obj in storage.list_objects(inbox):
        parts = obj.key.split("/")
        hidden = next((n for n, part in enumerate(parts) if part.startswith(".")), None)
        if hidden is not None and hidden < len(parts) - 1:
            folder = "/".join(parts[: hidden + 1])
            if folder not in hidden_folders:
                hidden_folders.add(folder)
                yield _s3_entry(folder, 0, 0, HIDDEN, (f"{NAME_HIDDEN} folder (name starts with '.'): {NOT_READ}",))
        elif hidden is not None:
            yield _s3_entry(obj.key, obj.size_bytes, storage.etag_stamp(obj.etag), HIDDEN, (f"{NAME_HIDDEN} (name starts with '.'): {NOT_READ}",))  # fmt: skip
        else:
            yield _s3_entry(obj.key, obj.size_bytes, storage.etag_stamp(obj.etag), FILE)


def _s3_entry(key: str, size: int, stamp: int, kind: str, reasons: tuple[str, ...] = ()) -> Entry:
    display, escaped = display_path(key)
    if escaped:
        reasons = (*reasons, _name_note(key, display))
    return Entry(display, key, kind, size, stamp, reasons)


def walk(inbox: InboxLocation) -> Iterator[Entry]:
    """The inbox's entries: a folder's (`walk_inbox`) or an S3 prefix's (`walk_s3`)."""
    return walk_s3(inbox) if isinstance(inbox, S3Location) else walk_inbox(inbox)


def open_regular(path: Path) -> int:
    """Open a regular file for reading: never through a link, never blocking on a FIFO.

    Raises OSError when the path is (by now) a link, a FIFO or anything but a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def open_binary(path: Path) -> IO[bytes]:
    """A regular file open for reading as a file object (see `open_regular`)."""
    return os.fdopen(open_regular(path), "rb")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` + 1 of them (one more: it grew past the limit)."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return fh.read(limit + 1)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a regular file, read in chunks: bounded memory whatever its size."""
    return sha256_fd(open_regular(path), chunk)


def sha256_fd(fd: int, chunk: int = 1 << 20) -> str:
    """The sha256 of what an open file descriptor reads, in chunks; the descriptor is closed."""
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
