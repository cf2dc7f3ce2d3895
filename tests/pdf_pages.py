"""The sample page as a PDF with a text layer, drawn with fpdf2 (a test-only package: the `dev`
extra). Here rather than in flows/devtools/input_files.py, which the bench imports too:
flows/ imports only the packages pyproject.toml's dependencies list.
"""

from __future__ import annotations

from pathlib import Path

from flows.devtools.input_files import Block, page_blocks, width

# fonts-noto-cjk (Debian): the PDF needs a face with the page's characters.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def to_pdf(blocks: list[Block] | None = None) -> bytes:
    """A PDF with a text layer: paragraphs wrapped to the page, tables ruled, caption rows spanning."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("noto", "", str(CJK_FONT))
    pdf.set_font("noto", size=10)
    pdf.add_page()
    for block in blocks if blocks is not None else page_blocks():
        if isinstance(block, str):
            pdf.multi_cell(0, 6, block, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
            continue
        n = width(block)
        with pdf.table(col_widths=[3] + [1] * (n - 1), text_align="LEFT", first_row_as_headings=False) as table:
            for cells in block:
                row = table.row()
                if len([c for c in cells if c]) == 1 and len(cells) < n:
                    row.cell(cells[0], colspan=n)
                else:
                    for text in [*cells, *[""] * (n - len(cells))]:
                        row.cell(text)
        pdf.ln(4)
    return bytes(pdf.output())
