"""The sample page as people receive it: a web page, Word, Excel, PDF, UTF-16/32 text.

Built here from the text page (tests never read ../shared): its paragraphs become
paragraphs, and each run of tab-separated lines (the unit tables, with their group
caption and signature rows) a real table of the format, caption and signature rows
spanning the table's width, as publishers lay them out. (The PDF drawn with fpdf2, a
test-only package, is tests/pdf_pages.py's: the bench imports this module too.)
"""

from __future__ import annotations

import io
from html import escape
from pathlib import Path

from flows.settings import PROJECT_DIR

# The real page (Zhumadian daily, 2020-12-23), as the bundled inbox ships it.
SAMPLE_PAGE = PROJECT_DIR / "warehouse" / "inbox" / "000_3e19ef32d54e8472.txt"

Block = str | list[list[str]]  # a paragraph, or a table's rows of cells


def sample_text() -> str:
    return SAMPLE_PAGE.read_text(encoding="utf-8")


def page_blocks(text: str | None = None) -> list[Block]:
    """The page as paragraphs and tables: a run of lines holding tabs is a table."""
    blocks: list[Block] = []
    rows: list[list[str]] = []
    for line in (text if text is not None else sample_text()).split("\n"):
        if "\t" in line:
            cells = line.rstrip("\t").split("\t")
            rows.append(cells)
            continue
        if rows:
            blocks.append(rows)
            rows = []
        if line.strip():
            blocks.append(line.strip())
    if rows:
        blocks.append(rows)
    return blocks


def width(rows: list[list[str]]) -> int:
    return max(len(r) for r in rows)


BOILERPLATE_HEAD = (
    "<title>驻马店日报 第2版 时政要闻</title>"
    '<script type="text/javascript">var _hmt = _hmt || []; document.write("<p>广告</p>");</script>'
    "<style>.nav { color: red } p { margin: 0 }</style>"
)
BOILERPLATE_TOP = (
    '<div class="nav"><a href="/">首页</a> | <a href="/news">新闻中心</a> | <a href="/e">电子报</a></div>'
    '<div id="header"><img src="logo.png" alt="驻马店日报"> 驻马店日报社主办</div>'
    '<div class="breadcrumb">当前位置：首页 &gt; 电子报 &gt; 第2版</div>'
)
BOILERPLATE_END = (
    '<div class="bdshare"><a>分享到微信</a></div>'
    '<div class="footer">版权所有 驻马店日报社 豫ICP备12345678号 技术支持：某某网络公司</div>'
    '<script>var s = document.createElement("script");</script>'
)


def to_html(charset: str, blocks: list[Block] | None = None, *, boilerplate: bool = True, margin: bool = True) -> str:
    """A saved web page: boilerplate around the article, the tables as <table> with spans.

    Caption and signature rows span the width (colspan); a blank margin column, merged
    down the table's rows (rowspan), stands at the right as in many CMS templates.
    """
    out = [f'<!DOCTYPE html>\n<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">']
    out += [BOILERPLATE_HEAD if boilerplate else "", "</head>\n<body>", BOILERPLATE_TOP if boilerplate else ""]
    out.append('<div class="content" id="zoom">')
    for block in blocks if blocks is not None else page_blocks():
        if isinstance(block, str):
            out.append(f"<p>&nbsp;&nbsp;{escape(block)}</p>")
            continue
        n = width(block)
        margin_column = margin
        out.append('<table border="1" cellspacing="0">')
        for i, cells in enumerate(block):
            margin_cell = f'<td rowspan="{len(block)}"></td>' if i == 0 and margin_column else ""
            if (len([c for c in cells if c]) == 1 and len(cells) < n) or len(cells) == 1:
                out.append(f'<tr><td colspan="{n}"><b>{escape(cells[0])}</b></td>{margin_cell}</tr>')
            else:
                tag = "th" if cells[0] == "单位" else "td"
                row = "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells)
                out.append(f"<tr>{row}{margin_cell}</tr>")
        out.append("</table>")
    out += ["</div>", BOILERPLATE_END if boilerplate else "", "</body></html>"]
    return "\n".join(out)


def to_docx(blocks: list[Block] | None = None) -> bytes:
    """A Word file: paragraphs, and each table a Word table, caption and signature rows merged across."""
    import docx

    document = docx.Document()
    for block in blocks if blocks is not None else page_blocks():
        if isinstance(block, str):
            document.add_paragraph(block)
            continue
        n = width(block)
        table = document.add_table(rows=len(block), cols=n)
        table.style = "Table Grid"
        for r, cells in enumerate(block):
            row = table.rows[r].cells
            if len([c for c in cells if c]) == 1 and len(cells) < n:
                merged = row[0].merge(row[n - 1])
                merged.text = cells[0]
            else:
                for c, text in enumerate(cells):
                    row[c].text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def to_xlsx(text: str | None = None) -> bytes:
    """An Excel file as made by pasting the page into a sheet: a row per line, a cell per tab-cell.

    Caption and signature rows are merged across the table's width.
    """
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "第2版"
    lines = (text if text is not None else sample_text()).split("\n")
    for r, line in enumerate(lines, start=1):
        cells = line.rstrip("\t").split("\t")
        for c, value in enumerate(cells, start=1):
            if value:
                sheet.cell(row=r, column=c, value=value)
        if "\t" in line and len([c for c in cells if c]) == 1 and len(cells) == 1:
            sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_pdf_chromium(folder: Path) -> bytes:
    """A PDF with a text layer and ruled tables: the web page (no site furniture) printed by Chromium."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium")
    assert chromium is not None, "needs Debian's chromium (`make browser` installs it)"
    page, pdf = folder / "page.html", folder / "page.pdf"
    page.write_text(to_html("utf-8", boilerplate=False, margin=False), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={folder / 'profile'}"]
    flags += ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()]
    subprocess.run([chromium, *flags], capture_output=True, timeout=120, check=True)
    return pdf.read_bytes()
