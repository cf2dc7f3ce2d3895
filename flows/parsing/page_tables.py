"""Every table on a page, found in its lines: rows of cells, each cell with its line number.

A format reads the tables of its own bulletin; this module finds all of them, whatever
the format, so that a city's figures are in the warehouse (`core.page_tables`) before a
format reads them, and a table no format claims can be reported (`formats/unknown.py`).
Standard library only; it runs on every page, so each line costs a few cheap tests.
(`flows.parsing.tables` is the structure the file readers build from HTML, Word, Excel
and PDF tables; they print each table's rows as tab-separated lines, found here.)

Layouts found (lines are normalised: NFKC, trimmed; blank lines are skipped):

- ``pipe``: rows of cells between pipes, ``部门 | 派遣数 | 完成数 |`` (the trailing pipe
  optional), two or more in a run. The first is the header when none of its cells holds
  a digit.
- ``tabs``: two or more lines in a run with cells split by tabs (a table copied out of a
  browser, Word or Excel, or the e-paper's); the header as for pipes.
- ``cell_per_line`` (Sanmenxia's web pages): a header word alone on a line (部门, 单位, ...),
  then two or more column names alone on lines (派遣数, 完成率: ending in 数, 率, 件, 分 or
  naming case work), then rows: a name, then one value per column, each on a line of its
  own. The table ends at a name with no value after it, or at a row cut short.
- ``column_list`` (Sanmenxia's category counts): three or more names, one per line, then
  as many numbers, one per line: the i-th number is the i-th name's. No header.
- ``aligned`` (Zhumadian's e-paper as text): a name then numbers, cells split by runs of
  spaces or tabs, the two mixed (or single spaces, the name ending at its first digit:
  ``驿城区政府 1013件 8件``), optionally under a header line of words (``单位  交办件  未办结件``). A header and one
  row, or two rows, make a table.

A cell's number is read when the whole cell is one: digits with an optional sign and
decimals, and an optional unit (件, 个, %, 分, ...): ``1013件`` -> 1013, ``98.5%`` -> 98.5
(the value as printed: a percentage stays in percent). ``1,013`` or ``4 852`` is no number.

    >>> from flows.parsing.normalize import to_line
    >>> lines = [to_line(n, t) for n, t in enumerate(["部门 | 派遣数 | 完成率 |", "一支队 | 4 | 100% |"], 1)]
    >>> table = find_tables(lines)[0]
    >>> table.header, [(c.text, c.number, c.line_no) for c in table.rows[0]]
    (('部门', '派遣数', '完成率'), [('一支队', None, 2), ('4', Decimal('4'), 2), ('100%', Decimal('100'), 2)])
    >>> table.describe()
    'table 部门|派遣数|完成率 of 1 row at line 1'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flows.parsing.normalize import Line, fold
from flows.parsing.tables import Table as SourceTable

# The whole cell a number: sign, digits (at most 12), decimals (at most 6), a unit.
_NUMBER = re.compile(r"([-−+]?)(\d{1,12}(?:\.\d{1,6})?)\s*(?:件|个|%|分|人|次|名|起|家|户|条|处)?")
# Cells that stand for "no number" in a number column.
_PLACEHOLDERS = frozenset({"-", "—", "/", "无", "无数据", "空", "--"})
_SEPARATORS = re.compile(r"\t|\s{2,}")
_SENTENCE_PUNCT = re.compile(r"[,。;:!?、]")
_DIGIT = re.compile(r"\d")
# A header cell naming a column of figures (cell_per_line layout).
_COLUMN_WORDS = re.compile(r"派遣|完成|结案|处置|办结|交办|得分|排名|分值|扣分|案件|数量|比率|合计")
_COLUMN_ENDS = tuple("数率件分名次值")
# Words that open a one-cell-per-line table (its first column's header).
HEADER_WORDS = frozenset({"部门", "单位", "单位名称", "责任单位", "名称", "城区", "区域", "县区", "序号", "排名"})
MAX_NAME_CHARS = 40
MAX_HEADER_CELL_CHARS = 12
MAX_ROW_CHARS = 80  # an aligned row: a name (at most 40 characters) and a few numbers
MIN_COLUMN_LIST = 3  # names (and numbers) of a column list
DESCRIBED_COLUMNS = 3  # header cells named in `PageTable.describe`


@dataclass(frozen=True, slots=True)
class TableCell:
    """One cell of a table: its text as printed (normalised), its number, its line."""

    text: str
    number: Decimal | None  # the number when the whole cell is one (units and % dropped)
    line_no: int  # 1-based line of the cell in the decoded file (lineage)


@dataclass(frozen=True, slots=True)
class PageTable:
    """A table found in a page's lines: its header (may be empty) and its rows of cells."""

    layout: str  # pipe, tabs, cell_per_line, column_list, aligned
    header: tuple[str, ...]  # column names, in order; () when the table prints none
    rows: tuple[tuple[TableCell, ...], ...]
    line_start: int  # first line (the header's, if any)
    line_end: int

    def describe(self) -> str:
        """Name the table in a line: `table 部门|派遣数|完成数… of 12 rows at line 40`."""
        shown = self.header or (tuple(c.text for c in self.rows[0]) if self.rows else ())
        head = "|".join(shown[:DESCRIBED_COLUMNS]) + ("…" if len(shown) > DESCRIBED_COLUMNS else "")
        if not self.header:
            head = f"(no header) {head}"
        rows = f"{len(self.rows)} row{'' if len(self.rows) == 1 else 's'}"
        return f"table {head} of {rows} at line {self.line_start}"

    def column(self, k: int) -> str | None:
        """The header text of column k (0-based), or None past the header."""
        return self.header[k] if k < len(self.header) else None


def number(text: str) -> Decimal | None:
    """Read a cell that is wholly a number: `1013件` -> 1013, `98.5%` -> 98.5; else None.

    >>> number("1013件"), number("-8"), number("99.02分"), number("1,013"), number("无数据")
    (Decimal('1013'), Decimal('-8'), Decimal('99.02'), None, None)
    """
    if not text or len(text) > 24 or not (text[0].isdigit() or text[0] in "-−+"):
        return None
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    return Decimal(("-" if m[1] in ("-", "−") else "") + m[2])


def _is_value(text: str) -> bool:
    """Say whether a cell holds a number or a placeholder for one."""
    return text in _PLACEHOLDERS or number(text) is not None


def _is_name(text: str) -> bool:
    """Say whether a line can be a row's name: short, not a number, not a sentence."""
    return (
        0 < len(text) <= MAX_NAME_CHARS
        and not _is_value(text)
        and "|" not in text
        and "\t" not in text
        and _SENTENCE_PUNCT.search(text) is None
    )


def _is_column_name(text: str) -> bool:
    """Say whether a line names a column of figures (派遣数, 完成率, 得分)."""
    return (
        0 < len(text) <= MAX_HEADER_CELL_CHARS
        and _DIGIT.search(text) is None
        and (text.endswith(_COLUMN_ENDS) or _COLUMN_WORDS.search(text) is not None)
        and _SENTENCE_PUNCT.search(text) is None
    )


def _cell(text: str, line_no: int) -> TableCell:
    return TableCell(text, number(text), line_no)


def _trimmed(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _pipe_cells(text: str) -> list[str]:
    """Split a pipe row into trimmed cells; a leading empty cell (`| a | b |`) and trailing ones dropped."""
    cells = _trimmed([c.strip() for c in text.split("|")])
    if cells and not cells[0] and text.lstrip().startswith("|"):
        cells.pop(0)
    return cells


def _tab_cells(line: Line) -> list[str]:
    """Split a tab-separated row; from the line as decoded, so that a row whose first cells are
    empty (under a cell spanning rows) keeps its columns (the normalised text is trimmed)."""
    return _trimmed([fold(c).strip() for c in line.raw.split("\t")])


def _aligned_cells(text: str) -> list[str] | None:
    """Split an aligned row into cells: by runs of spaces, else a name then numbers."""
    if "\t" in text or "  " in text:
        return _trimmed([c.strip() for c in _SEPARATORS.split(text)])
    digit = _DIGIT.search(text)
    if digit is None or digit.start() == 0:
        return None
    name, numbers = text[: digit.start()].strip(), text[digit.start() :].split()
    return [name, *numbers] if name and numbers else None


def _aligned_row(text: str) -> list[str] | None:
    """The cells of a row of a name and numbers (placeholders allowed, one number at least)."""
    if len(text) > MAX_ROW_CHARS:
        return None
    cells = _aligned_cells(text)
    if cells is None or len(cells) < 2 or not _is_name(cells[0]):
        return None
    rest = cells[1:]
    if not all(_is_value(c) for c in rest) or not any(number(c) is not None for c in rest):
        return None
    return cells


def _aligned_header(text: str) -> list[str] | None:
    """The cells of a header line of words (no digits), split by runs of spaces (or single ones)."""
    if _DIGIT.search(text):
        return None
    if "\t" in text or "  " in text:
        cells = _trimmed([c.strip() for c in _SEPARATORS.split(text)])
    else:
        cells = text.split(" ")
    if len(cells) < 2 or not all(0 < len(c) <= MAX_HEADER_CELL_CHARS for c in cells):
        return None
    return cells if all(_SENTENCE_PUNCT.search(c) is None for c in cells) else None


def _split_rows(lines: Sequence[Line], i: int, mark: str) -> tuple[PageTable, int] | None:
    """A run of lines holding `mark` with two or more cells each (pipe and tab tables)."""
    rows: list[tuple[Line, list[str]]] = []
    j = i
    while (
        j < len(lines)
        and mark in lines[j].text
        and len(cells := _pipe_cells(lines[j].text) if mark == "|" else _tab_cells(lines[j])) >= 2
    ):
        rows.append((lines[j], cells))
        j += 1
    if len(rows) < 2:
        return None
    header: tuple[str, ...] = ()
    if not any(_DIGIT.search(c) for c in rows[0][1]):
        header, rows = tuple(rows[0][1]), rows[1:]
    body = tuple(tuple(_cell(c, line.no) for c in cells) for line, cells in rows)
    layout = "pipe" if mark == "|" else "tabs"
    return PageTable(layout, header, body, lines[i].no, lines[j - 1].no), j


def _cell_per_line(lines: Sequence[Line], i: int) -> tuple[PageTable, int] | None:
    header = [lines[i].text]
    j = i + 1
    while j < len(lines) and _is_column_name(lines[j].text):
        header.append(lines[j].text)
        j += 1
    if len(header) < 3:
        return None
    rows: list[tuple[TableCell, ...]] = []
    while j < len(lines) and _is_name(lines[j].text) and not _is_column_name(lines[j].text):
        cells = [_cell(lines[j].text, lines[j].no)]
        k = j + 1
        while len(cells) < len(header) and k < len(lines) and _is_value(lines[k].text):
            cells.append(_cell(lines[k].text, lines[k].no))
            k += 1
        if len(cells) == 1:
            break  # a name with no value after it: the table has ended
        rows.append(tuple(cells))
        j = k
        if len(cells) < len(header):
            break  # cut mid-row
    if not rows:
        return None
    return PageTable("cell_per_line", tuple(header), tuple(rows), lines[i].no, lines[j - 1].no), j


def _column_list(lines: Sequence[Line], i: int, names: int) -> tuple[PageTable, int] | None:
    """`names` name lines from i, then as many number lines: a two-column table."""
    values = lines[i + names : i + 2 * names]
    if len(values) < names or not all(number(v.text) is not None for v in values):
        return None
    rows = tuple((_cell(n.text, n.no), _cell(v.text, v.no)) for n, v in zip(lines[i : i + names], values, strict=True))
    return PageTable("column_list", (), rows, lines[i].no, values[-1].no), i + 2 * names


def _aligned(lines: Sequence[Line], i: int) -> tuple[PageTable, int] | None:
    header = _aligned_header(lines[i].text)
    j = i + 1 if header is not None else i
    rows: list[tuple[TableCell, ...]] = []
    while j < len(lines) and (cells := _aligned_row(lines[j].text)) is not None:
        rows.append(tuple(_cell(c, lines[j].no) for c in cells))
        j += 1
    if len(rows) < (1 if header is not None else 2):
        return None
    return PageTable("aligned", tuple(header or ()), tuple(rows), lines[i].no, lines[j - 1].no), j


def _name_run(lines: Sequence[Line], i: int) -> int:
    """How many lines from i are plain names without digits (for a column list)."""
    k = i
    while k < len(lines) and _is_name(lines[k].text) and _DIGIT.search(lines[k].text) is None:
        k += 1
    return k - i


def find_tables(lines: Sequence[Line]) -> tuple[PageTable, ...]:
    """Find the page's tables, in page order."""
    text_lines = [line for line in lines if line.text]
    tables: list[PageTable] = []
    i = 0
    run_checked = 0  # column lists: a run of names is measured once, from its first line
    while i < len(text_lines):
        text = text_lines[i].text
        found: tuple[PageTable, int] | None = None
        if "|" in text:
            found = _split_rows(text_lines, i, "|")
        elif "\t" in text:
            found = _split_rows(text_lines, i, "\t")
        elif text in HEADER_WORDS:
            found = _cell_per_line(text_lines, i)
        # (a paragraph of news is longer than a row of a name and numbers: the cheap test first)
        if found is None and len(text) <= MAX_ROW_CHARS and (" " in text or "\t" in text or _DIGIT.search(text)):
            found = _aligned(text_lines, i)
        if found is None and i >= run_checked and len(text) <= MAX_NAME_CHARS:
            names = _name_run(text_lines, i)
            run_checked = i + max(names, 1)
            if names >= MIN_COLUMN_LIST:
                found = _column_list(text_lines, i, names)  # the numbers follow the whole run
        if found is None:
            i += 1
            continue
        table, i = found
        tables.append(table)
    return tuple(tables)


def cell_sources(tables: Sequence[PageTable], sources: Sequence[SourceTable]) -> dict[tuple[int, int, int], str]:
    """Where the file holds each cell of the tab tables a reader printed: (table_no, row_no, column_no) -> source.

    A web page's, Word's, Excel's or PDF's table (`flows.parsing.tables.Table`) is printed
    one tab-separated line per row; its cells keep their position in the file ("line 120",
    "Sheet1!B3"). A cell covered by a span from another row or column has none of its own.
    """
    slots: dict[tuple[int, int], str] = {}  # (page line, column) -> source
    for source in sources:
        grid = source.grid()
        for r, line_no in enumerate(source.row_lines):
            if line_no is None:
                continue
            for c, slot in enumerate(grid[r]):
                if slot is not None and (slot.row, slot.col) == (r, c) and slot.source:
                    slots[(line_no, c)] = slot.source
    found: dict[tuple[int, int, int], str] = {}
    for table_no, table in enumerate(tables, start=1):
        if table.layout != "tabs":
            continue
        for row_no, row in enumerate(table.rows, start=1):
            for column_no, cell in enumerate(row, start=1):
                if (where := slots.get((cell.line_no, column_no - 1))) is not None:
                    found[(table_no, row_no, column_no)] = where
    return found
