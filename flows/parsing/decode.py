"""Bytes to text: UTF-8 (with or without BOM), UTF-16/32 with a BOM, or GB18030; LF line ends; or a rejection."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from flows.parsing.reasons import (
    DECLARED_CHARSET,
    EMPTY,
    NOT_TEXT,
    SUSPECT_CHARACTERS,
    UNDECODABLE,
    UNDECODABLE_AS,
)
from flows.parsing.records import Rejection

BOM = b"\xef\xbb\xbf"
REPLACEMENT = "\ufffd"
# Undecodable bytes first become one lone surrogate each (which valid UTF-8 or GB18030
# never yields), so they are counted apart from any U+FFFD the file itself holds.
_MARK = "\udcff"
_MARK_ERRORS = "flows.parsing.mark"


def _mark(error: UnicodeError) -> tuple[str, int]:
    """Stand one mark in for each byte the codec could not read."""
    assert isinstance(error, UnicodeDecodeError)  # registered for decoding only
    return _MARK * (error.end - error.start), error.end


codecs.register_error(_MARK_ERRORS, _mark)

# U+FFFD and private-use characters: the e-paper has none; they stand for bytes that did
# not decode (GB18030 maps garbage into its private-use areas).
SUSPECT = re.compile("[\ufffd\ue000-\uf8ff]")
# The same characters in valid UTF-8, by their bytes: U+E000..U+EFFF are the only
# characters whose first byte is EE; U+F000..U+F8FF start EF 80..EF A3, U+FFFD is EF BF BD.
# In valid UTF-8, EE and EF only ever start a character, so neither test can match elsewhere.
_SUSPECT_UTF8 = re.compile(rb"\xef[\x80-\xa3]|\xef\xbf\xbd")
# What errors="surrogateescape" makes of a byte that does not decode (0x80..0xff).
_ESCAPED = re.compile("[\udc80-\udcff]")
# Like git: a NUL near the start means binary.
BINARY_SNIFF_BYTES = 8000
# C0 controls other than \t \n \v \f \r and ESC, plus DEL: rare in text, common in binaries.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_HIGH_BYTES = bytes(range(0x80, 0x100))
MAX_CONTROL_SHARE = 0.05
# GBK text read as UTF-8 fails on nearly all its non-ASCII bytes, while GB18030 reads
# almost any bytes without error: UTF-8 text with some damage is told apart by failing
# on far fewer of them.
UTF8_DAMAGE_SHARE = 0.2  # of the non-ASCII bytes
# Up to this share of the bytes undecodable or suspect the page is read with a warning;
# beyond it the file is "mostly undecodable".
MAX_BAD_SHARE = 0.02
# Whitespace and invisible marks that leave a file with nothing to read.
_INVISIBLE = " \t\r\n\v\f\u3000\u00a0\ufeff\u200b"


# UTF-16 and UTF-32 are read only with their BOM (Notepad's "Unicode" saves one): without
# it their NUL bytes make the file binary. UTF-32 LE's BOM starts with UTF-16 LE's, so it
# is tried first.
WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
# Charsets a web page declares that GB18030 reads (its superset), and the single-byte
# Western ones a Chinese page declares by mistake (a template's default): both are read
# as `decode` reads any page.
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "cp936", "euc-cn", "x-gbk", "hz-gb-2312"})
_DETECT_INSTEAD = frozenset({"utf-8", "utf8", "latin-1", "iso8859-1", "cp1252", "ascii", "us-ascii"})


@dataclass(frozen=True, slots=True)
class Decoded:
    """A file's text with LF line ends, the encoding that read it and any warnings."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def _count(data: bytes, which: bytes) -> int:
    """Count the bytes of `data` that are among `which`."""
    return len(data) - len(data.translate(None, which))


def _read(data: bytes, encoding: str) -> tuple[str, int, int]:
    """Decode with U+FFFD for bad bytes; return the text, the undecodable bytes and the suspect ones.

    Suspect: bytes of U+FFFD or private-use characters already in the file. The e-paper
    has none; GB18030 maps garbage into its private-use areas.
    """
    if encoding != "gb18030":
        return _read_utf8(data, encoding)
    text = data.decode(encoding, errors=_MARK_ERRORS)
    undecodable = text.count(_MARK)
    return text.replace(_MARK, REPLACEMENT), undecodable, _suspect_bytes(text, encoding)


def _suspect_bytes(text: str, encoding: str) -> int:
    """Count the bytes (in `encoding`) of the U+FFFD and private-use characters in `text`."""
    return len("".join(SUSPECT.findall(text)).encode("utf-8" if encoding == "utf-8-sig" else encoding))


def _read_utf8(data: bytes, encoding: str) -> tuple[str, int, int]:
    """`_read` for UTF-8 (with or without BOM), the same figures without a Python call per bad byte.

    A bad byte becomes one lone surrogate (surrogateescape: U+DC80..U+DCFF, handled in C)
    where `_read` puts one mark, over the same ranges: a UTF-8 error never covers an
    ASCII byte, which surrogateescape could not escape, and valid UTF-8 never yields a
    surrogate. Most files decode strictly and hold no suspect character, which the bytes
    tell faster than a search of the text (`_SUSPECT_UTF8`).
    """
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        escaped = data.decode(encoding, errors="surrogateescape")
        undecodable = len(_ESCAPED.findall(escaped))
        return _ESCAPED.sub(REPLACEMENT, escaped), undecodable, _suspect_bytes(escaped, encoding)
    if b"\xee" not in data and _SUSPECT_UTF8.search(data) is None:
        return text, 0, 0
    return text, 0, _suspect_bytes(text, encoding)


def _choose(data: bytes) -> tuple[str, str, int, int]:
    """Pick the encoding: BOM -> utf-8-sig; UTF-8 if it reads (nearly) all; else GB18030."""
    encoding = "utf-8-sig" if data.startswith(BOM) else "utf-8"
    text, undecodable, suspect = _read(data, encoding)
    # (0 undecodable bytes is never more than a share: the count of high bytes is not needed.)
    if encoding == "utf-8" and undecodable and undecodable > UTF8_DAMAGE_SHARE * _count(data, _HIGH_BYTES):
        encoding = "gb18030"
        text, undecodable, suspect = _read(data, encoding)
    return text, encoding, undecodable, suspect


def decode(data: bytes) -> Decoded | Rejection:
    """Decode a page's bytes, or reject them as empty, not text or undecodable.

    >>> decode("交办件".encode("utf-16"))  # with its BOM, as Notepad's "Unicode"
    Decoded(text='交办件', encoding='utf-16-le', warnings=())
    """
    for bom, wide in WIDE_BOMS:
        if data.startswith(bom):
            return _decode_wide(data[len(bom) :], wide)
    if not data.removeprefix(BOM).strip(b" \t\r\n\v\f"):
        return Rejection(EMPTY, f"{len(data)} bytes, no text")
    if data.find(b"\x00", 0, BINARY_SNIFF_BYTES) != -1:  # `in data[:N]` without copying N bytes
        return Rejection(NOT_TEXT, "NUL bytes near the start: a binary file")
    controls = _count(data, _CONTROL_BYTES) / len(data)
    if controls > MAX_CONTROL_SHARE:
        return Rejection(NOT_TEXT, f"{controls:.0%} control bytes: a binary file")
    text, encoding, undecodable, suspect = _choose(data)
    if undecodable + suspect > MAX_BAD_SHARE * len(data):
        detail = f"{undecodable} of {len(data)} bytes undecodable as {encoding}, {suspect} bytes U+FFFD or private-use"
        return Rejection(UNDECODABLE, detail)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip(_INVISIBLE):
        return Rejection(EMPTY, "only whitespace", encoding)
    return Decoded(text, encoding, _damage_warnings(encoding, undecodable, suspect))


# What a page of Chinese text is written in: ASCII and Latin-1, punctuation, letter-like
# symbols, numbers, arrows and box drawing, CJK punctuation and ideographs (with extension
# A and the compatibility blocks), full- and half-width forms. Anything else is foreign.
_FOREIGN = re.compile(
    "[^\t\n\x20-\x7e\xa0-\xff\u2000-\u27bf\u2e80-\u303f\u3100-\u312f\u3200-\u33ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)
MAX_FOREIGN_SHARE = 0.2


def _damage_warnings(encoding: str, undecodable: int, suspect: int) -> tuple[str, ...]:
    """The notes a page read despite some bad bytes carries."""
    warnings = []
    if undecodable:
        warnings.append(f"{UNDECODABLE_AS}{encoding}: {undecodable} byte(s), read as U+FFFD")
    if suspect:
        warnings.append(f"{SUSPECT_CHARACTERS}{suspect} byte(s)")
    return tuple(warnings)


def _decode_wide(body: bytes, encoding: str) -> Decoded | Rejection:
    """Decode UTF-16/32 text after its BOM, with the same rules as `decode` (bad bytes, controls, empty)."""
    marked = body.decode(encoding, errors=_MARK_ERRORS)  # an odd byte at the end is marked too
    undecodable = marked.count(_MARK)
    unit = 4 if encoding.startswith("utf-32") else 2
    suspect = len(SUSPECT.findall(marked)) * unit
    if undecodable + suspect > MAX_BAD_SHARE * max(len(body), 1):
        detail = f"{undecodable} of {len(body)} bytes undecodable as {encoding}, {suspect} bytes U+FFFD or private-use"
        return Rejection(UNDECODABLE, detail, encoding)
    text = marked.replace(_MARK, REPLACEMENT).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip(_INVISIBLE):
        return Rejection(EMPTY, f"{len(body)} bytes after the {encoding} BOM, no text", encoding)
    # Nearly any even run of bytes reads as UTF-16 without an error: garbage after a BOM
    # becomes a mix of scripts no page of Chinese text is written in.
    foreign = len(_FOREIGN.findall(text)) / len(text)
    if foreign > MAX_FOREIGN_SHARE:
        detail = f"{foreign:.0%} of the characters read as {encoding} are of no script a Chinese page uses"
        return Rejection(UNDECODABLE, detail, encoding)
    controls = len(_CONTROL_CHARS.findall(text)) / len(text)
    if controls > MAX_CONTROL_SHARE:
        return Rejection(NOT_TEXT, f"{controls:.0%} control characters as {encoding}: a binary file", encoding)
    return Decoded(text, encoding, _damage_warnings(encoding, undecodable, suspect))


def decode_declared(data: bytes, declared: str | None) -> Decoded | Rejection:
    """Decode a web page by the charset it declares, else as `decode` does.

    A BOM wins over the declaration (as in browsers). GB2312 and GBK are read as GB18030,
    their superset; UTF-8 and Western single-byte charsets (a template's default on a
    Chinese page) are detected as `decode` does. Another declared charset (Big5, say) is
    used when it reads the bytes with at most MAX_BAD_SHARE of them bad; otherwise the
    declaration is ignored, with a warning.

    >>> decode_declared("<p>通报</p>".encode("gbk"), "GB2312").encoding
    'gb18030'
    >>> decode_declared("<p>通報</p>".encode("big5"), "big5").text
    '<p>通報</p>'
    """
    name = _codec_name(declared)
    if name is None or name in _DETECT_INSTEAD or data.startswith((BOM, *(b for b, _ in WIDE_BOMS))):
        return decode(data)
    if name in _GB_FAMILY:
        name = "gb18030"
    first = decode(data)
    if isinstance(first, Decoded) and first.encoding == name:
        return first
    if isinstance(first, Rejection) and first.reason in (EMPTY, NOT_TEXT):
        return first
    marked = data.decode(name, errors=_MARK_ERRORS)
    undecodable = marked.count(_MARK)
    if undecodable > MAX_BAD_SHARE * len(data):
        if isinstance(first, Decoded):
            note = f"{DECLARED_CHARSET}{declared} does not read the page ({undecodable} bad bytes): read as {first.encoding}"
            return Decoded(first.text, first.encoding, (*first.warnings, note))
        return first
    text = marked.replace(_MARK, REPLACEMENT).replace("\r\n", "\n").replace("\r", "\n")
    warnings = (f"{UNDECODABLE_AS}{name}: {undecodable} byte(s), read as U+FFFD",) if undecodable else ()
    return Decoded(text, name, warnings)


def _codec_name(declared: str | None) -> str | None:
    """The codec a declared charset names (lower case, Python's spelling), or None if none or unknown."""
    if not declared:
        return None
    label = declared.strip().strip("\"'").lower()
    if label in _GB_FAMILY:
        return label
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
