"""Zip archives in the inbox: each member an entry of its own, read in memory, never extracted.

A member is recorded under `archive.zip!member` (its name in the archive after the
`!`), with its own sha256, status and reasons, and parsed from its bytes like a file of
that name. Nothing is ever written to disk: a member's name is only a label, so a name
like `../../etc/passwd` cannot reach anything, but it is refused all the same (it is a
trick, not a page). Every way an archive or a member can be hostile ends in a status
with a reason, in Chinese and English, saying what to do:

- a corrupt archive, or one with more than `MAX_MEMBERS` entries: the archive is
  `quarantined` and no member is read;
- members together larger than `TOTAL_FACTOR` times the size limit: the archive is
  `quarantined` as `too large` (listed again once the limit is raised enough); an
  archive that expands more than `MAX_RATIO` times (a zip bomb): `quarantined`;
- a member larger than the size limit: `quarantined` as `too large` (read once the
  limit allows), one that expands more than `MAX_RATIO` times: `quarantined` as a
  bomb; neither is decompressed;
- a member with an unsafe name (`..`, an absolute path or drive, a backslash, a NUL), an
  encrypted member, a zip inside the zip (one level is read, no deeper), a member whose
  bytes do not decompress or fail their CRC: `quarantined`;
- a hidden member (a name part starting with `.`, as macOS's `__MACOSX/._x` are) or a
  symbolic link stored in the archive: `skipped`, as in the inbox.

Sizes are bounded before anything is decompressed (the declared sizes in the central
directory), and reading a member never takes more than the limit + 1 bytes, so a member
that lies about its size costs no more than an honest one.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO

from flows.settings import InboxLocation
from flows.warehouse.reasons import MEMBER_NAME_TWICE, TOO_LARGE, ZIP_ARCHIVE
from flows.warehouse.statuses import QUARANTINED, SKIPPED

ARCHIVE_SUFFIXES = (".zip",)
MEMBER_SEPARATOR = "!"  # `archive.zip!member`
MAX_MEMBERS = 4096  # entries (folders included) an archive may hold: a month of daily pages is ~300
TOTAL_FACTOR = 16  # members together: at most this many times BULLETINS_MAX_FILE_BYTES
MAX_RATIO = 100  # text compresses 3-10 times; a zip bomb 1,000 times and more
RATIO_FROM_BYTES = 1 << 20  # the ratio is judged only from this size: a small file may compress well
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# The reasons, each in Chinese and English, saying what to do.
_SPLIT = "（压缩包过大：请拆分成几个压缩包）split the archive into smaller ones"
_TOO_MANY = (
    "压缩包文件过多：请拆分成几个压缩包，每个不超过 {max} 个文件 / split it into archives of at most {max} entries"
)
_CORRUPT = "压缩包已损坏，无法读取：请重新下载或重新打包 / corrupt zip archive ({detail}): download or pack it again"
_UNSAFE = "压缩包内文件名不安全（{what}）：未读取；请用普通文件名重新打包 / unsafe name in the archive ({what}): not read; pack it again with plain names"
_ENCRYPTED = (
    "压缩包内文件已加密：未读取；请解密后放入收件箱 / encrypted member: not read; put it in the inbox decrypted"
)
_NESTED = "压缩包内又是压缩包：只读一层；请解开外层，把内层压缩包放入收件箱 / a zip inside the zip: only one level is read; unpack the outer archive and put the inner one in the inbox"
_BAD_MEMBER = (
    "压缩包内文件无法解压（{detail}）：请重新打包 / member could not be decompressed ({detail}): pack the archive again"
)
_BOMB = "解压比例异常（{ratio}倍，疑似压缩炸弹）：未读取 / expands {ratio} times (a zip bomb?), over {max}: not read"
_MEMBER_TOO_LARGE = (
    f"{TOO_LARGE}: {{size}} bytes uncompressed, over the limit of {{limit}} (BULLETINS_MAX_FILE_BYTES): "
    "not read（文件过大：请调高 BULLETINS_MAX_FILE_BYTES 后重新运行）"
)
_TOTAL_TOO_LARGE = (
    f"{TOO_LARGE}: members hold {{size}} bytes uncompressed, over {TOTAL_FACTOR} times the limit of "
    f"{{limit}} (BULLETINS_MAX_FILE_BYTES): not read {_SPLIT}"
)


class MemberGone(Exception):
    """The member planned is no longer in the archive (the archive changed or was removed)."""


def is_archive(path: str) -> bool:
    """Whether an inbox file is read as an archive (by its name).

    >>> is_archive("2021/三月.ZIP"), is_archive("page.txt")
    (True, False)
    """
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def member_path(archive: str, name: str) -> str:
    """The recorded path of a member: `archive.zip!member`."""
    return f"{archive}{MEMBER_SEPARATOR}{name}"


def split_member_path(path: str) -> list[tuple[str, str]]:
    """The ways a recorded path reads as (archive path, member name), shortest archive first
    (a file literally named `a.zip!b.zip` may hold members too); none for a plain file.

    >>> split_member_path("月报/2021-03.zip!第1版.txt"), split_member_path("a!b.txt")
    ([('月报/2021-03.zip', '第1版.txt')], [])
    """
    lowered = path.lower()
    found = []
    for suffix in ARCHIVE_SUFFIXES:
        at = lowered.find(suffix + MEMBER_SEPARATOR)
        while at >= 0:
            cut = at + len(suffix)
            found.append((path[:cut], path[cut + 1 :]))
            at = lowered.find(suffix + MEMBER_SEPARATOR, cut)
    return sorted(found, key=lambda split: len(split[0]))


def member_name(info: zipfile.ZipInfo) -> str:
    r"""A member's name as text: UTF-8 when flagged so or when it decodes, else GB18030.

    Zips made on Windows store GBK names without the UTF-8 flag (bit 11); `zipfile` reads
    them as cp437, which gives back their bytes. A NUL or another control character is
    written \xNN, so the recorded name shows it.
    """
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            pass  # already decoded some other way (metadata_encoding)
        else:
            for encoding in ("utf-8", "gb18030"):
                try:
                    name = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in name)


@dataclass(frozen=True)
class Member:
    """One member of an archive as the plan sees it (its bytes are read again when parsed)."""

    name: str  # as recorded after the `!` (see `member_name`)
    zip_name: str  # the name `zipfile` knows it by, to find it again
    size_bytes: int  # uncompressed, as declared
    file_sha256: str  # of its bytes; for a member not read, of the reasons
    status: str | None = None  # None: to parse; else QUARANTINED or SKIPPED
    reasons: tuple[str, ...] = ()
    over_size_limit: bool = False  # quarantined for its size: read again once it fits


@dataclass(frozen=True)
class Listing:
    """What an archive holds: its members, or why it was not read (`refused`)."""

    members: list[Member] = field(default_factory=list)
    refused: tuple[str, ...] = ()  # the archive's reasons when no member is read
    notes: tuple[str, ...] = ()  # notes on the archive (a member name given twice)
    over_size_limit: bool = False  # refused for its members' size together: listed again once it fits

    def summary(self, archive: str) -> str:
        """The archive's own reason when its members were read."""
        return (
            f"{ZIP_ARCHIVE}{len(self.members)} members, each an entry of its own "
            f"({member_path(archive, '<member>')})（压缩包：每个文件单独记录）"
        )


def _not_read_sha(*parts: object) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode("utf-8")).hexdigest()


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """What makes a member's name a path trick, else None."""
    name = info.orig_filename
    if "\x00" in name:
        return "NUL in the name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in the path"
    return None


def _is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _ratio(size: int, compressed: int) -> int:
    return size // max(compressed, 1)


def list_members(fh: IO[bytes], archive_size: int, max_file_bytes: int) -> Listing:
    """Every member of the archive open in `fh`, each read once (bounded) for its sha256."""
    try:
        zf = zipfile.ZipFile(fh)
    except Exception as exc:  # zipfile raises many kinds on a damaged directory: all mean corrupt
        return Listing(refused=(_CORRUPT.format(detail=f"{type(exc).__name__}: {exc}"),))
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return Listing(refused=(f"{len(infos)} entries, over {MAX_MEMBERS}: {_TOO_MANY.format(max=MAX_MEMBERS)}",))
        files = [i for i in infos if not i.is_dir()]
        total = sum(i.file_size for i in files)
        if total > TOTAL_FACTOR * max_file_bytes:
            return Listing(refused=(_TOTAL_TOO_LARGE.format(size=total, limit=max_file_bytes),), over_size_limit=True)
        if total > RATIO_FROM_BYTES and _ratio(total, archive_size) > MAX_RATIO:
            bomb = _BOMB.format(ratio=_ratio(total, archive_size), max=MAX_RATIO)
            return Listing(refused=(f"members hold {total} bytes uncompressed: {bomb}",))
        members: list[Member] = []
        seen: set[str] = set()
        twice: list[str] = []
        for info in files:
            name = member_name(info)
            if name in seen:
                twice.append(name)
                continue
            seen.add(name)
            members.append(_member(zf, info, name, max_file_bytes))
    notes = tuple(f"{MEMBER_NAME_TWICE}（同名文件只读第一个）: {n}" for n in twice)
    return Listing(members, notes=notes)


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_file_bytes: int) -> Member:
    def refused(status: str, reason: str, over_size_limit: bool = False) -> Member:
        sha = _not_read_sha(reason, info.CRC, info.file_size, info.compress_size)
        return Member(name, info.filename, info.file_size, sha, status, (reason,), over_size_limit)

    if (trick := _unsafe(info)) is not None:
        return refused(QUARANTINED, _UNSAFE.format(what=trick))
    if any(part.startswith(".") for part in name.split("/")):
        return refused(SKIPPED, "hidden (name starts with '.'): not read（隐藏文件：未读取）")
    if _is_link(info):
        return refused(SKIPPED, "symbolic link in the archive: not followed（符号链接：未读取）")
    if info.flag_bits & 0x1:
        return refused(QUARANTINED, _ENCRYPTED)
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return refused(QUARANTINED, _NESTED)
    if info.file_size > max_file_bytes:
        return refused(QUARANTINED, _MEMBER_TOO_LARGE.format(size=info.file_size, limit=max_file_bytes), True)
    if info.file_size > RATIO_FROM_BYTES and _ratio(info.file_size, info.compress_size) > MAX_RATIO:
        bomb = _BOMB.format(ratio=_ratio(info.file_size, info.compress_size), max=MAX_RATIO)
        return refused(QUARANTINED, f"{info.file_size} bytes uncompressed: {bomb}")
    try:
        data = read_info(zf, info, max_file_bytes)
    except Exception as exc:  # CRC, zlib, unsupported method, truncated data: the member is damaged
        return refused(QUARANTINED, _BAD_MEMBER.format(detail=f"{type(exc).__name__}: {exc}"))
    if data.startswith(_ZIP_MAGIC) and _is_archive_bytes(name, data):
        return refused(QUARANTINED, _NESTED)
    return Member(name, info.filename, len(data), hashlib.sha256(data).hexdigest())


def _is_archive_bytes(name: str, data: bytes) -> bool:
    """Whether zip bytes are an archive, not a Word or Excel file (also zips): as the parse step
    decides a file's kind (`flows.inputs.kind_of`), so a member `x.docx` is read as a file `x.docx` is."""
    from flows.inputs import kind_of  # the readers' imports: only for a member that is a zip

    return kind_of(name, data) == "zip"


def read_info(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, at most `limit` + 1 of them (more: it is over the limit)."""
    with zf.open(info) as member:
        return member.read(limit + 1)


class MemberReader:
    """Read members for parsing, keeping the last archive open (a batch's members come in order).

    Members are found by the name `zipfile` knows them by; of two with one name, the first
    (as the plan read it).
    """

    def __init__(self, inbox: InboxLocation, open_file: Callable[[InboxLocation], IO[bytes]]) -> None:
        self.inbox = inbox
        self.open_file = open_file
        self.source: str | None = None
        self.fh: IO[bytes] | None = None
        self.zf: zipfile.ZipFile | None = None
        self.infos: dict[str, zipfile.ZipInfo] = {}

    def read(self, archive: str, zip_name: str, limit: int) -> bytes:
        """The member's bytes (at most `limit` + 1); MemberGone or OSError when it cannot be had."""
        if self.source != archive:
            self.close()
            self.fh = self.open_file(self.inbox / archive)
            self.source = archive
            try:
                self.zf = zipfile.ZipFile(self.fh)
            except Exception as exc:  # replaced by something that is no archive since planning
                raise MemberGone(str(exc)) from exc
            for each in self.zf.infolist():
                self.infos.setdefault(each.filename, each)
        found = self.infos.get(zip_name)
        if self.zf is None or found is None:
            raise MemberGone(zip_name)
        try:
            return read_info(self.zf, found, limit)
        except Exception as exc:  # damaged since planning
            raise MemberGone(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.zf is not None:
            self.zf.close()
        if self.fh is not None:
            self.fh.close()
        self.source, self.fh, self.zf, self.infos = None, None, None, {}

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def member_names(archive: InboxLocation, open_file: Callable[[InboxLocation], IO[bytes]]) -> frozenset[str]:
    """The recorded names (`member_name`) of an archive's members now; none when it cannot be read."""
    try:
        with open_file(archive) as fh, zipfile.ZipFile(fh) as zf:
            return frozenset(member_name(i) for i in zf.infolist() if not i.is_dir())
    except Exception:  # gone, a link now, corrupt: its members are not there
        return frozenset()
