"""Hostile zip archives in the inbox (issue 17, item 1): each ends in a status with a reason.

Zip bombs (a member over the limit, a member or an archive that expands a thousand
times, members together over the archive's bound), path tricks (`../`, absolute names
and drives, backslashes, a NUL), a zip inside a zip, an encrypted member, a damaged
member, a truncated archive, garbage named `.zip`, a link stored in an archive, a name
given twice and an archive of 10,000 entries are dropped in one inbox with a real page;
one run takes them all. Nothing is ever written outside the warehouse, the run never
stops, the page loads, and every entry has the status and reason it should, by name.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import random
import stat
import time
import warnings
import zipfile
from pathlib import Path

from pipeline_helpers import load_without_prefect, query, snapshot
from testdata import SAMPLE_PAGE

from flows.warehouse import archives
from flows.warehouse.statuses import LOADED, QUARANTINED, SKIPPED

SAMPLE = SAMPLE_PAGE.read_bytes()
MIB = 1024 * 1024
LIMIT = 2 * MIB  # the default BULLETINS_MAX_FILE_BYTES
NOISE = random.Random(17).randbytes(120_000)


def _zip(members: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", method) as zf:
        warnings.simplefilter("ignore")  # a name given twice, on purpose
        for name, data in members:
            zf.writestr(name, data, compress_type=method)
    return buf.getvalue()


def _encrypted() -> bytes:
    """A member flagged encrypted (bit 0) in both its headers: zipfile cannot write one."""
    data = bytearray(_zip([("secret.txt", SAMPLE)]))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flags_at] |= 0x01
    return bytes(data)


def _damaged_member() -> bytes:
    """A stored member whose bytes no longer match its CRC."""
    data = bytearray(_zip([("page.txt", SAMPLE)], zipfile.ZIP_STORED))
    data[30 + len("page.txt") + 100] ^= 0xFF
    return bytes(data)


def _nul_name() -> bytes:
    return _zip([("evilXname.txt", b"x")]).replace(b"evilXname.txt", b"evil\x00name.txt")


def _link() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link.txt")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _many(count: int) -> bytes:
    return _zip([(f"p{n:05d}.txt", f"第{n}页\n".encode()) for n in range(count)], zipfile.ZIP_STORED)


# name -> (archive bytes, {member (None: the archive) -> (status, words in the first reason)}).
# Made when a test asks, not at import: pytest imports this module in every process that
# collects (its archives take most of a second to compress), and `make test-fast` deselects it.
@functools.cache
def cases() -> dict[str, tuple[bytes, dict[str | None, tuple[str, str]]]]:
    return {
        "bomb.zip": (
            # with incompressible bytes beside, so that the archive as a whole does not read as a bomb
            _zip([("big.txt", b"0" * (3 * MIB)), ("dense.txt", b"0" * (3 * MIB // 2)), ("noise.bin", NOISE)]),
            {
                None: (LOADED, "zip archive: 3 members"),
                "big.txt": (QUARANTINED, "too large: 3145728 bytes uncompressed, over the limit of 2097152"),
                "dense.txt": (QUARANTINED, "a zip bomb?"),
            },
        ),
        "many_small_bombs.zip": (
            _zip([(f"z{n}.txt", bytes([48 + n]) * MIB) for n in range(10)]),
            {None: (QUARANTINED, "members hold 10485760 bytes uncompressed: 解压比例异常")},
        ),
        "over_the_total.zip": (
            _zip([(f"t{n}.txt", bytes([48 + n]) * (LIMIT - 1)) for n in range(archives.TOTAL_FACTOR + 1)]),
            {None: (QUARANTINED, f"over {archives.TOTAL_FACTOR} times the limit")},
        ),
        "tricks.zip": (
            _zip(
                [
                    ("../../etc/passwd", b"root"),
                    ("/etc/shadow", b"root"),
                    ("C:/Windows/win.ini", b"x"),
                    ("a\\..\\..\\b.txt", b"y"),
                    (_link(), b"/etc/passwd"),
                    ("dup.txt", b"first"),
                    ("dup.txt", b"second"),
                ]
            ),
            {
                None: (LOADED, "zip archive: 6 members"),
                "../../etc/passwd": (QUARANTINED, "unsafe name in the archive ('..' in the path)"),
                "/etc/shadow": (QUARANTINED, "unsafe name in the archive (absolute path)"),
                "C:/Windows/win.ini": (QUARANTINED, "unsafe name in the archive (absolute path)"),
                "a\\..\\..\\b.txt": (QUARANTINED, "unsafe name in the archive (backslash in the name)"),
                "link.txt": (SKIPPED, "symbolic link in the archive"),
                "dup.txt": (LOADED, "in zip archive tricks.zip"),  # the first one
            },
        ),
        "nul.zip": (_nul_name(), {"evil\\x00name.txt": (QUARANTINED, "unsafe name in the archive (NUL in the name)")}),
        "nested.zip": (
            _zip([("inner.zip", _zip([("page.txt", SAMPLE)])), ("inner.bin", _zip([("page.txt", b"x")]))]),
            {"inner.zip": (QUARANTINED, "a zip inside the zip"), "inner.bin": (QUARANTINED, "a zip inside the zip")},
        ),
        "encrypted.zip": (_encrypted(), {"secret.txt": (QUARANTINED, "encrypted member")}),
        "damaged.zip": (_damaged_member(), {"page.txt": (QUARANTINED, "member could not be decompressed (BadZipFile")}),
        "truncated.zip": (_zip([("page.txt", SAMPLE)])[:-30], {None: (QUARANTINED, "corrupt zip archive")}),
        "garbage.zip": (b"this is not a zip archive\n" * 10, {None: (QUARANTINED, "corrupt zip archive")}),
        "ten_thousand.zip": (_many(10_000), {None: (QUARANTINED, "10000 entries, over 4096")}),
    }


def test_hostile_archives_end_in_a_status_with_a_reason(tmp_path: Path, reliability) -> None:
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE)
    for name, (data, _) in cases().items():
        (inbox / name).write_bytes(data)
    started = time.monotonic()
    db_path = load_without_prefect(inbox, wh)
    seconds = time.monotonic() - started
    rows = query(db_path, "select path, status, reasons from core.files")
    recorded = {path: (status, list(reasons)) for path, status, reasons in rows}
    assert recorded[SAMPLE_PAGE.name][0] == LOADED
    assert query(db_path, "select count(*) from marts.unit_week_performance")[0][0] > 0
    # nothing was extracted: the inbox and the folder around it hold what they held
    assert sorted(os.listdir(tmp_path)) == ["inbox", "wh"]
    assert sorted(os.listdir(inbox)) == sorted([SAMPLE_PAGE.name, *cases()])
    member_names = {"passwd", "shadow", "win.ini", "b.txt", "secret.txt", "inner.zip", "big.txt", "link.txt"}
    assert not [p for p in tmp_path.rglob("*") if p.name in member_names]
    wrong = []
    for name, (_, expected) in cases().items():
        for member, (status, words) in expected.items():
            path = name if member is None else archives.member_path(name, member)
            got = recorded.get(path)
            if got is None or got[0] != status or not any(words in r for r in got[1]):
                wrong.append(f"{path}: expected {status} '{words}', got {got}")
            elif got[0] != LOADED:  # every refusal says what to do, in Chinese too
                assert any(any("\u4e00" <= c <= "\u9fff" for c in r) for r in got[1]), got
    assert not wrong, wrong
    ((dup_sha,),) = query(db_path, "select file_sha256 from core.files where path = 'tricks.zip!dup.txt'")
    assert dup_sha == hashlib.sha256(b"first").hexdigest()
    assert any("member name given twice" in r for r in recorded["tricks.zip"][1])
    groups = {
        "bomb": ["bomb.zip", "many_small_bombs.zip", "over_the_total.zip"],
        "traversal": ["tricks.zip", "nul.zip"],
        "nested": ["nested.zip"],
        "encrypted": ["encrypted.zip"],
        "corrupt": ["damaged.zip", "truncated.zip", "garbage.zip"],
        "10,000 members": ["ten_thousand.zip"],
    }
    for group, names in groups.items():
        entries = [p for p in recorded if p.split("!", 1)[0] in names]
        found = ", ".join(f"{p} {recorded[p][0]}" for p in sorted(entries))
        reliability.record(
            f"17 hostile zip: {group}",
            f"{len(names)} archive(s) beside a real page, one run ({seconds:.1f} s for all)",
            found,
            not wrong,
        )
    # a rerun reads nothing new and changes nothing
    snap = snapshot(db_path, ("ingest", "core", "marts"))
    load_without_prefect(inbox, wh)
    assert snapshot(db_path, ("ingest", "core", "marts")) == snap


def test_a_large_archive_is_read_member_by_member(tmp_path: Path, reliability) -> None:
    """An archive at the member bound (4,096 entries) is read: each member an entry."""
    count = reliability.scale(fast=400, full=archives.MAX_MEMBERS)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "month.zip").write_bytes(_many(count))
    started = time.monotonic()
    db_path = load_without_prefect(inbox, tmp_path / "wh")
    seconds = time.monotonic() - started
    statuses = dict(query(db_path, "select status, count(*) from core.files where path like 'month.zip!%' group by 1"))
    assert sum(statuses.values()) == count
    reliability.record(
        "17 zip with many members",
        f"one archive of {count} small members",
        f"{count} entries recorded ({statuses}) in {seconds:.1f} s",
        sum(statuses.values()) == count,
    )
