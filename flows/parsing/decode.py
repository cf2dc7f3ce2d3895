"""Bytes to text: UTF-8 (with or without BOM) or GB18030, LF line ends, or a rejection."""

from __future__ import annotations

from dataclasses import dataclass

from flows.parsing.records import Rejection

BOM = b"\xef\xbb\xbf"
# Like git: a NUL near the start means binary.
BINARY_SNIFF_BYTES = 8000
# C0 controls other than \t \n \v \f \r and ESC, plus DEL: rare in text, common in binaries.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
MAX_CONTROL_SHARE = 0.05
# Up to this share of U+FFFD in the decoded text the page is read with a warning;
# beyond it the file is "mostly undecodable".
MAX_REPLACEMENT_SHARE = 0.01
REPLACEMENT = "\ufffd"
# Whitespace and invisible marks that leave a file with nothing to read.
_INVISIBLE = " \t\r\n\v\f\u3000\u00a0\ufeff\u200b"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A file's text with LF line ends, the encoding that read it and any warnings."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def _control_share(data: bytes) -> float:
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return controls / len(data)


def _to_lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _replacement_share(text: str) -> tuple[int, float]:
    bad = text.count(REPLACEMENT)
    return bad, bad / max(1, len(text))


def _attempt(data: bytes, encoding: str) -> tuple[str, bool]:
    """Decode strictly if possible, else with replacement; say whether it was strict."""
    try:
        return data.decode(encoding), True
    except UnicodeDecodeError:
        return data.decode(encoding, errors="replace"), False


def _choose(data: bytes) -> tuple[str, str, bool]:
    """Pick the encoding: BOM -> utf-8-sig; valid or nearly valid UTF-8; else GB18030."""
    if data.startswith(BOM):
        text, strict = _attempt(data, "utf-8-sig")
        return text, "utf-8-sig", strict
    utf8, strict = _attempt(data, "utf-8")
    # A few bad bytes in UTF-8 text: GBK bytes almost never form valid UTF-8, so a
    # low replacement share means UTF-8 with damage, not GB18030.
    if strict or _replacement_share(utf8)[1] <= MAX_REPLACEMENT_SHARE:
        return utf8, "utf-8", strict
    gb, strict = _attempt(data, "gb18030")
    return gb, "gb18030", strict


def decode(data: bytes) -> Decoded | Rejection:
    """Decode a page's bytes, or reject them as empty, not text or undecodable."""
    if not data.removeprefix(BOM).strip(b" \t\r\n\v\f"):
        return Rejection("empty", f"{len(data)} bytes, no text")
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return Rejection("not text", "NUL bytes near the start: a binary file")
    share = _control_share(data)
    if share > MAX_CONTROL_SHARE:
        return Rejection("not text", f"{share:.0%} control bytes: a binary file")
    text, encoding, strict = _choose(data)
    bad, bad_share = _replacement_share(text)
    if bad_share > MAX_REPLACEMENT_SHARE:
        return Rejection("undecodable", f"{bad} of {len(text)} characters undecodable as {encoding}")
    text = _to_lf(text)
    if not text.strip(_INVISIBLE):
        return Rejection("empty", "only whitespace", encoding)
    warnings: list[str] = []
    if bad:
        how = "undecodable bytes replaced" if not strict else "U+FFFD characters in the text"
        warnings.append(f"{bad} {how} (decoded as {encoding})")
    return Decoded(text, encoding, tuple(warnings))
