"""Which reader a file goes to (by its bytes first, then its name), and the parse after it.

`read_input` turns any file into page text (`InputPage`) or a rejection that says what to
do; `parse_input` then parses that text exactly as a text page is parsed, so a format
never sees where a page came from. A plain text page (UTF-8, GB18030, UTF-16/32 with a
BOM) goes straight to `flows.parsing.parse_file`, as before.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import PurePath

from flows.inputs.page import InputPage
from flows.inputs.refusals import needs_ocr, refuse
from flows.parsing import parse_file
from flows.parsing.decode import BOM, WIDE_BOMS, Decoded
from flows.parsing.parse import parse_decoded
from flows.parsing.reasons import EMPTY, UNSUPPORTED_FORMAT
from flows.parsing.records import ParsedPage, Rejection

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office (.doc, .xls, .ppt, WPS's .wps/.et)
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".tif": "TIFF", ".tiff": "TIFF",
                   ".bmp": "BMP", ".webp": "WebP"}  # fmt: skip
_HTML_SUFFIXES = frozenset({".html", ".htm", ".shtml", ".xhtml"})
_HTML_START = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta)\b", re.I | re.S
)
_ANY_TAG = re.compile(rb"<(?:[a-zA-Z][a-zA-Z0-9]*|!doctype|/[a-zA-Z])")
SNIFF_BYTES = 1024


def kind_of(file_name: str, data: bytes) -> str:
    """The reader a file goes to: its leading bytes decide, its name's suffix only where they cannot.

    >>> kind_of("a.txt", b"%PDF-1.7 ..."), kind_of("p.txt", b"<!DOCTYPE html><p>x"), kind_of("p.txt", b"abc")
    ('pdf', 'html', 'text')
    """
    head = data[:SNIFF_BYTES]
    suffix = PurePath(file_name).suffix.lower()
    if head.startswith(b"%PDF-") or (suffix == ".pdf" and b"%PDF-" in head):
        return "pdf"
    if head.startswith(_OLE):
        return "ole"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _package_kind(data, suffix)
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if any(head.startswith(magic) for magic, _ in _IMAGES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if _looks_like_html(head) or (suffix in _HTML_SUFFIXES and _ANY_TAG.search(data, 0, 8 * SNIFF_BYTES)):
        return "html"
    return "text"


def _package_kind(data: bytes, suffix: str) -> str:
    """A zip: a Word or Excel file by its parts, else an archive (read by the inbox, `archives`)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return {".docx": "docx", ".xlsx": "xlsx"}.get(suffix, "zip")  # the reader says it is damaged
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return {".docx": "docx", ".xlsx": "xlsx"}.get(suffix, "zip")


def _looks_like_html(head: bytes) -> bool:
    """Say whether a file starts like a web page (a doctype, <html>, <head>, <body> or <meta>), any encoding."""
    for bom, encoding in WIDE_BOMS:
        if head.startswith(bom):
            return _HTML_START.match(head[len(bom) :].decode(encoding, errors="ignore")) is not None
    return _HTML_START.match(head.removeprefix(BOM).decode("latin-1")) is not None


def read_input(file_name: str, data: bytes) -> InputPage | Rejection | None:
    """A file as page text, or a rejection saying what to do; None for a plain text page (parsed as it is)."""
    kind = kind_of(file_name, data)
    suffix = PurePath(file_name).suffix.lower()
    if kind == "text":
        if suffix in _IMAGE_SUFFIXES and data.find(b"\x00", 0, SNIFF_BYTES) != -1:
            return needs_ocr(f"a {_IMAGE_SUFFIXES[suffix]} image")
        return None
    # The readers are imported on first use: lxml, python-docx, openpyxl and pdfplumber
    # take over a second to import, which a run of text pages (and each pool worker) skips.
    if kind == "html":
        from flows.inputs.html import read_html

        return read_html(data)
    if kind in ("docx", "xlsx"):
        from flows.inputs.office import read_docx, read_xlsx

        return read_docx(data) if kind == "docx" else read_xlsx(data)
    if kind == "pdf":
        from flows.inputs.pdf import read_pdf

        return read_pdf(data)
    if kind == "image":
        name = next((label for magic, label in _IMAGES if data.startswith(magic)), "WebP")
        return needs_ocr(f"a {name} image")
    if kind == "ole":
        word = suffix in (".doc", ".wps", ".dot")
        what = "an old binary Word file (.doc)" if word else "an old binary Office file (.xls, .doc, .ppt)"
        return refuse(
            UNSUPPORTED_FORMAT,
            what,
            "open it in Word, WPS or Excel and save it as .docx or .xlsx, then put that file in the inbox",
            "旧版 Office 文件：请用 Word、WPS 或 Excel 另存为 .docx 或 .xlsx 后放入收件箱",
        )
    if kind == "rtf":
        return refuse(UNSUPPORTED_FORMAT, "a Rich Text file (.rtf)", "save it as .docx", "RTF 文件：请另存为 .docx")
    return None  # a zip archive: the inbox reads its members; whole, it is binary (parse_file says so)


def parse_input(file_name: str, data: bytes, *, not_after: date | None = None) -> ParsedPage | Rejection:
    """Parse any file the inbox holds: read by its kind (`read_input`), then parsed as a text page."""
    page = read_input(file_name, data)
    if page is None:
        return parse_file(file_name, data, not_after=not_after)
    if isinstance(page, Rejection):
        return page
    if not page.text.strip():
        return Rejection(EMPTY, f"a {page.kind} file with no text (文件中没有文字)", page.encoding)
    parsed = parse_decoded(file_name, Decoded(page.text, page.encoding, page.warnings), not_after=not_after)
    if isinstance(parsed, ParsedPage):
        return replace(parsed, source_tables=page.tables)
    return parsed
