"""Tables as read from a source file: cells with their spans and where they came from.

Pure data and the span rules (stdlib only). A reader in `flows.inputs` builds a
`Table` from whatever the file holds (an HTML `<table>`, a Word table, a sheet, a
ruled PDF table); the page text the formats read prints each table as tab-separated
rows, the way a table copied out of a browser or Word pastes (`flows.inputs.page`), and
`flows.parsing.page_tables.find_tables` finds them there like any printed table. The
`Table` keeps what those lines lose: spans, each cell's position in the source
file, and the page-text line of each row (lineage from a page-table row to its cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# HTML's own clamps (the HTML standard): a colspan over 1000 is 1000, a rowspan over
# 65534 is 65534. A rowspan past the table's last row ends at it, as in browsers.
MAX_COLSPAN = 1000
MAX_ROWSPAN = 65534


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as printed: its top-left slot in the table's grid, its spans and source position."""

    row: int  # 0-based row of its top-left slot
    col: int  # 0-based column of its top-left slot
    text: str  # whitespace runs made one space, trimmed; never holds a tab or newline
    rowspan: int = 1
    colspan: int = 1
    source: str | None = None  # where in the file: "line 120" (HTML), "Sheet1!B3" (xlsx), "page 2" (PDF)


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a page: its cells, its size, and the page-text line of each of its rows."""

    seq: int  # 1-based order of tables on the page
    origin: str  # what it was read from: "html table 3", "docx table 1", "sheet 汇总", "pdf page 2 table 1"
    n_rows: int
    n_cols: int
    cells: tuple[Cell, ...]
    # 1-based line in the page text of each grid row; None for a row printed on no line
    # (one whose every slot is empty or covered by a span from above).
    row_lines: tuple[int | None, ...] = ()

    def grid(self) -> list[list[Cell | None]]:
        """Every slot of the grid with the cell covering it (spans resolved); None where no cell is."""
        slots: list[list[Cell | None]] = [[None] * self.n_cols for _ in range(self.n_rows)]
        for cell in self.cells:
            for r in range(cell.row, min(cell.row + cell.rowspan, self.n_rows)):
                for c in range(cell.col, min(cell.col + cell.colspan, self.n_cols)):
                    slots[r][c] = cell
        return slots

    def printed_rows(self) -> list[list[str]]:
        """Each row's texts as copied out of a browser: a spanned cell's text once, at its top-left slot.

        >>> t = table_from_rows(1, "html table 1", [[("组", 2, 1), ("甲", 1, 1)], [("乙", 1, 1)]])
        >>> t.printed_rows()
        [['组', '甲'], ['', '乙']]
        >>> [[c.text if c else None for c in row] for row in t.grid()]
        [['组', '甲'], ['组', '乙']]
        """
        rows = [[""] * self.n_cols for _ in range(self.n_rows)]
        for cell in self.cells:
            rows[cell.row][cell.col] = cell.text
        return rows


# A cell as a reader hands it over: text, rowspan, colspan, and optionally its source position.
RawCell = tuple[str, int, int] | tuple[str, int, int, str | None]


def table_from_rows(seq: int, origin: str, rows: Sequence[Sequence[RawCell]]) -> Table:
    """Place row-major cells on a grid the way HTML does: each cell takes the next free slot of its row.

    Spans are clamped (MAX_COLSPAN, MAX_ROWSPAN; a rowspan of 0 or past the last row ends
    at the last row, as HTML's rowspan=0 does). A row shorter than the widest is padded
    with empty slots (no cell).

    >>> t = table_from_rows(1, "t", [[("a", 1, 2), ("b", 2, 1)], [("c", 1, 1), ("d", 1, 1)], [("e", 1, 1)]])
    >>> t.printed_rows()
    [['a', '', 'b'], ['c', 'd', ''], ['e', '', '']]
    """
    n_rows = len(rows)
    taken: list[set[int]] = [set() for _ in range(n_rows)]
    cells: list[Cell] = []
    n_cols = 0
    for r, row in enumerate(rows):
        col = 0
        for raw in row:
            text, rowspan, colspan = raw[0], raw[1], raw[2]
            source = raw[3] if len(raw) > 3 else None
            while col in taken[r]:
                col += 1
            colspan = max(1, min(colspan, MAX_COLSPAN))
            rowspan = n_rows - r if rowspan <= 0 else min(rowspan, MAX_ROWSPAN, n_rows - r)
            for rr in range(r, r + rowspan):
                taken[rr].update(range(col, col + colspan))
            cells.append(Cell(r, col, clean_cell_text(text), rowspan, colspan, source))
            col += colspan
            n_cols = max(n_cols, col)
    n_cols = max([n_cols, *(max(t) + 1 for t in taken if t)])
    return Table(seq, origin, n_rows, n_cols, tuple(cells))


def slot_count(rows: Sequence[Sequence[RawCell]]) -> int:
    """The grid slots a table of these rows would take (rows x widest row): to bound it before building it."""
    width = max((sum(max(1, min(raw[2], MAX_COLSPAN)) for raw in row) for row in rows), default=0)
    return len(rows) * width


def clean_cell_text(text: str) -> str:
    """One line of text for a cell: every whitespace run (tabs and newlines included) one space, trimmed.

    >>> clean_cell_text(" 驿城区\\n政府 \\t 1013件 ")
    '驿城区 政府 1013件'
    """
    return " ".join(text.split())
