"""PDFs with a text layer: text in reading order and ruled tables (pdfplumber); scans refused.

Per page, the ruled tables (`find_tables`: cells drawn with lines) are taken out first;
the text outside them becomes lines in reading order, a line that reaches the right
margin joined to the next (a wrapped paragraph), a vertical gap of more than
PARAGRAPH_GAP line heights a paragraph break. Tables and paragraphs are then laid out
from top to bottom. A PDF with no character on any page is a scan: needs OCR.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pdfplumber
import pypdfium2
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from flows.inputs.page import Block, InputPage, RawTable, assemble
from flows.inputs.refusals import broken, needs_ocr, refuse, too_big
from flows.parsing.reasons import ENCRYPTED
from flows.parsing.records import Rejection
from flows.parsing.tables import RawCell

# A bulletin is a page or two; a PDF of a whole year's paper is not read in a run.
MAX_PAGES = 300
PARAGRAPH_GAP = 0.8  # of a line's height
# A line ending within this many characters of the margin wraps: Chinese line breaking
# moves a character or two to the next line (no line may start with 、 or ，).
WRAP_SLACK_CHARS = 4
# Some PDF makers (Chromium's print, for one) map glyphs to CJK radical code points: the
# Kangxi radicals (⼯ U+2F2F) NFKC folds to their ideographs, the supplement's simplified
# ones (⻢ U+2EE2, ⻚ U+2EDA) and a few others (⺠ U+2EA0) it does not: these are the
# ideographs they stand for, or 驻⻢店 would not be 驻马店.
_RADICALS = str.maketrans(
    "\u2eb0\u2ec5\u2ec6\u2ec9\u2ecb\u2ed0\u2ed3\u2ed4\u2ed9\u2eda\u2edb\u2edc\u2ee0\u2ee2\u2ee5"
    "\u2ee6\u2ee7\u2ee8\u2ee9\u2eea\u2eec\u2eee\u2ef0\u2ef3\u2ea0\u2ec4",
    "纟见角贝车钅长门韦页风飞饣马鱼鸟卤麦黄黾齐齿龙龟民西",
)
# pdfminer logs a warning per glyph of some fonts (FontBBox): its findings show in the result.
logging.getLogger("pdfminer").setLevel(logging.ERROR)


def read_pdf(data: bytes) -> InputPage | Rejection:
    """A PDF's text and ruled tables, page by page; a rejection for a scan, a password, damage."""
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) > MAX_PAGES:
                return too_big(f"a PDF of {len(pdf.pages):,} pages", f"over {MAX_PAGES}")
            blocks: list[Block] = []
            chars, pages = 0, len(pdf.pages)
            for number, page in enumerate(pdf.pages, start=1):
                chars += len(page.chars)
                page_blocks = _page_blocks(page, number)
                # A table cut by a page break: its rows on the next page continue it.
                if blocks and page_blocks and _continues(blocks[-1], page_blocks[0]):
                    previous, following = blocks.pop(), page_blocks[0]
                    assert isinstance(previous, RawTable) and isinstance(following, RawTable)
                    page_blocks[0] = RawTable(previous.origin, [*previous.rows, *following.rows])
                blocks += page_blocks
    except Exception as exc:  # pdfminer raises many kinds on damaged files
        if _encrypted(exc):
            return refuse(
                ENCRYPTED,
                "a PDF with a password",
                "open it with the password and save or print a copy without one, then put that copy in the inbox",
                "PDF 已加密：请用密码打开后另存或打印为无密码的副本，再放入收件箱",
            )
        return broken("PDF", exc)
    if chars == 0:
        # pdfminer reads no character of some fonts (fpdf2's CJK subsets) that PDFium reads.
        text_pages = _pdfium_pages(data)
        if any(page.strip() for page in text_pages):
            note = "PDF text read with PDFium (pdfminer read none): lines as printed, tables not found as tables"
            return assemble("pdf", "pdf", [page.translate(_RADICALS) for page in text_pages], [note])
        return needs_ocr(f"a PDF of {pages} page(s) with no text on any, a scan")
    return assemble("pdf", "pdf", [_unradical(block) for block in blocks])


def _unradical(block: Block) -> Block:
    """A block with the radical code points some PDF makers use put back to their ideographs (`_RADICALS`)."""
    if isinstance(block, str):
        return block.translate(_RADICALS)
    rows = [[(cell[0].translate(_RADICALS), *cell[1:]) for cell in row] for row in block.rows]
    return RawTable(block.origin, rows, block.keep_blank_rows)


def _pdfium_pages(data: bytes) -> list[str]:
    """Each page's text as PDFium reads it (lines as printed); [] when PDFium cannot open the file."""
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return []
    try:
        return [document[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(document))]
    finally:
        document.close()


def _continues(last: Block, first: Block) -> bool:
    """Say whether a page's first block continues the table that ended the page before: two tables as wide."""
    if not (isinstance(last, RawTable) and isinstance(first, RawTable) and last.rows and first.rows):
        return False
    return len(last.rows[-1]) == len(first.rows[0])


def _encrypted(exc: BaseException) -> bool:
    """Say whether pdfminer refused the file for its encryption (pdfplumber wraps pdfminer's errors)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PDFPasswordIncorrect | PDFEncryptionError):
            return True
        if isinstance(seen, PdfminerException) and seen.args and isinstance(seen.args[0], BaseException):
            seen = seen.args[0]
            continue
        seen = seen.__cause__ or seen.__context__
    return False


def _page_blocks(page: Any, number: int) -> list[Block]:
    """One page's paragraphs and tables, top to bottom."""
    placed: list[tuple[float, int, Block]] = []
    tables = page.find_tables()
    outside = page
    for k, table in enumerate(tables, start=1):
        placed.append((table.bbox[1], len(placed), RawTable(f"pdf page {number} table {k}", _rows(table, number))))
        outside = outside.outside_bbox(table.bbox)
    for top, paragraph in _paragraphs(outside.extract_text_lines(return_chars=False)):
        placed.append((top, len(placed), paragraph))
    return [block for _, _, block in sorted(placed, key=lambda p: (p[0], p[1]))]


def _paragraphs(lines: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """Lines to paragraphs: wrapped lines joined, a paragraph ended by a gap (or a line short of the margin)."""
    if not lines:
        return []
    lines = sorted(lines, key=lambda line: (line["top"], line["x0"]))
    margin = max(line["x1"] for line in lines)
    paragraphs: list[tuple[float, str]] = []
    top, text, previous = lines[0]["top"], lines[0]["text"], lines[0]
    for line in lines[1:]:
        height = max(previous["bottom"] - previous["top"], 1.0)
        width = (previous["x1"] - previous["x0"]) / max(len(previous["text"]), 1)
        if line["top"] - previous["bottom"] > PARAGRAPH_GAP * height:
            paragraphs.append((top, text))
            top, text = line["top"], line["text"]
        elif previous["x1"] >= margin - WRAP_SLACK_CHARS * width:
            text = _join(text, line["text"])
        else:
            text += "\n" + line["text"]
        previous = line
    paragraphs.append((top, text))
    return paragraphs


def _join(first: str, second: str) -> str:
    """Glue a wrapped line to the next: no space in Chinese, one between two Latin words."""
    if first[-1:].isascii() and first[-1:].isalnum() and second[:1].isascii() and second[:1].isalnum():
        return f"{first} {second}"
    return first + second


def _rows(table: Any, number: int) -> list[list[RawCell]]:
    """A ruled table's rows; a slot a merged cell covers is read as an empty cell (pdfplumber gives no span)."""
    rows: list[list[RawCell]] = []
    for row in table.extract():
        cells: list[RawCell] = []
        for value in row:
            text = ""
            for part in (value or "").split("\n"):
                text = _join(text, part) if text else part
            cells.append((text, 1, 1, f"page {number}"))
        rows.append(cells)
    return rows
