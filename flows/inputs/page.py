"""A converted page: the text the formats read, the tables behind it, and how it was read.

Every reader (`html`, `office`, `pdf`) hands over blocks in reading order: paragraphs
(a string; "\\n" where the source breaks a line) and tables (rows of raw cells). They
become one text the way the e-paper text is laid out (`tests/fixtures` and
`../shared/samples`): a blank line after each paragraph, a table's rows on consecutive
lines with tabs between cells (what a table copied out of a browser, Word or Excel
pastes as; `formats/tables.py` and `page_tables.find_tables` read it), a spanned
cell's text once, at its top-left slot. So a format never sees where a page came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flows.inputs.refusals import too_big
from flows.parsing.records import Rejection
from flows.parsing.tables import RawCell, Table, slot_count, table_from_rows

# The most grid slots (rows x columns, spans resolved) one table may take: a real
# bulletin's table has a few hundred; a crafted colspan/rowspan could ask for billions.
MAX_TABLE_SLOTS = 1_000_000


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table as a reader found it: rows of (text, rowspan, colspan, source) in reading order."""

    origin: str  # "html table 3", "docx table 1", "sheet 汇总", "pdf page 2 table 1"
    rows: Sequence[Sequence[RawCell]]
    # Keep blank rows between printed ones (a sheet's blank rows part its paragraphs);
    # else a blank row prints nothing.
    keep_blank_rows: bool = False


Block = str | RawTable


@dataclass(frozen=True, slots=True)
class InputPage:
    """A file turned into page text, with the structure of its tables."""

    kind: str  # "text", "html", "docx", "xlsx", "pdf"
    encoding: str  # what ingest.files records: "utf-16-le", "html:gb18030", "docx", "xlsx", "pdf"
    text: str
    tables: tuple[Table, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def assemble(kind: str, encoding: str, blocks: Sequence[Block], warnings: Sequence[str] = ()) -> InputPage | Rejection:
    """Lay blocks out as page text (see the module's docstring); refuse a table past MAX_TABLE_SLOTS.

    >>> page = assemble("html", "html:utf-8", ["通报", RawTable("html table 1", [[("单位", 1, 1), ("交办件", 1, 1)], [("甲", 1, 1), ("3件", 1, 1)]])])
    >>> page.text
    '通报\\n\\n单位\\t交办件\\n甲\\t3件\\n'
    >>> page.tables[0].row_lines
    (3, 4)
    """
    lines: list[str] = []
    tables: list[Table] = []
    for block in blocks:
        if isinstance(block, str):
            paragraph = [line.strip() for line in block.split("\n")]
            paragraph = [line for line in paragraph if line]
            if paragraph:
                lines += [*paragraph, ""]
            continue
        slots = slot_count(block.rows)
        if slots > MAX_TABLE_SLOTS:
            return too_big(f"{block.origin} would take {slots:,} cells", f"over {MAX_TABLE_SLOTS:,}")
        table = table_from_rows(len(tables) + 1, block.origin, block.rows)
        printed = ["\t".join(row).rstrip("\t") for row in table.printed_rows()]
        blank = [not line.strip() for line in printed]
        if block.keep_blank_rows:
            # Blank rows part paragraphs inside the table, not before or after it.
            first = next((i for i, b in enumerate(blank) if not b), len(printed))
            last = max((i for i, b in enumerate(blank) if not b), default=-1)
            keep = [first <= i <= last for i in range(len(printed))]
        else:
            keep = [not b for b in blank]
        row_lines: list[int | None] = []
        for line, kept in zip(printed, keep, strict=True):
            if kept:
                lines.append(line if line.strip() else "")
                row_lines.append(len(lines))
            else:
                row_lines.append(None)
        if any(keep):
            lines.append("")
        tables.append(Table(table.seq, table.origin, table.n_rows, table.n_cols, table.cells, tuple(row_lines)))
    return InputPage(kind, encoding, "\n".join(lines), tuple(tables), tuple(warnings))
