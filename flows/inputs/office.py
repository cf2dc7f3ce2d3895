"""Word (.docx) and Excel (.xlsx) files: paragraphs and tables in document order; each sheet a table.

Both are zip packages of XML. Before a library reads one, every member is unpacked
once in bounded chunks (`check_package`): past MAX_UNPACKED_BYTES in all, or a member
larger than its header says (a zip bomb's trick: zipfile stops at the declared size and
fails the CRC), the file is refused without being read.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from typing import Any

import docx
import openpyxl
from docx.table import Table as DocxTable
from docx.table import _Cell as DocxCell

from flows.inputs.page import MAX_TABLE_SLOTS, Block, InputPage, RawTable, assemble
from flows.inputs.refusals import MIB, broken, too_big
from flows.parsing.records import Rejection
from flows.parsing.tables import RawCell

# A bulletin's .docx or .xlsx unpacks to well under 1 MiB; 64 MiB leaves room for
# embedded pictures while bounding what the XML parsers are handed.
MAX_UNPACKED_BYTES = 64 * MIB
MAX_MEMBERS = 10_000
_CHUNK = MIB


def check_package(data: bytes, kind: str) -> Rejection | None:
    """Refuse a zip package that is broken, or unpacks past MAX_UNPACKED_BYTES, before any library reads it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = package.infolist()
            if len(members) > MAX_MEMBERS:
                return too_big(f"a {kind} file of {len(members):,} parts", f"over {MAX_MEMBERS:,}")
            declared = sum(m.file_size for m in members)
            if declared > MAX_UNPACKED_BYTES:
                return too_big(f"a {kind} file that unpacks to {declared:,} bytes", f"over {MAX_UNPACKED_BYTES:,}")
            unpacked = 0
            for member in members:
                with package.open(member) as stream:
                    # Chunked reads keep memory bounded even when a header lies; zipfile
                    # stops at the declared size and checks the CRC there.
                    while chunk := stream.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            return too_big(f"a {kind} file that unpacks to more than {unpacked:,} bytes", "")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return broken(kind, exc)
    return None


def read_docx(data: bytes) -> InputPage | Rejection:
    """A Word document's paragraphs and tables, in document order."""
    refused = check_package(data, "Word (.docx)")
    if refused is not None:
        return refused
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, DocxTable):
                n = sum(isinstance(b, RawTable) for b in blocks) + 1
                blocks.append(RawTable(f"docx table {n}", _docx_rows(item, n)))
            else:
                blocks.append(item.text)
    except Exception as exc:  # python-docx raises many kinds on a damaged package or XML
        return broken("Word (.docx)", exc)
    return assemble("docx", "docx", blocks)


def _docx_rows(table: DocxTable, n: int) -> list[list[RawCell]]:
    """A Word table's rows: horizontal merges (gridSpan) as colspans, vertical ones (vMerge) as rowspans."""
    rows: list[list[list[Any]]] = []
    above: dict[int, list[Any]] = {}  # grid column -> the cell that starts there, to extend downwards
    for r, tr in enumerate(table._tbl.tr_lst):
        row: list[list[Any]] = []
        col = tr.grid_before
        for c, tc in enumerate(tr.tc_lst):
            span = max(tc.grid_span, 1)
            if tc.vMerge == "continue" and col in above:
                above[col][1] += 1
            else:
                text = "\n".join(p.text for p in DocxCell(tc, table).paragraphs)
                cell = [text, 1, span, f"table {n} row {r + 1} cell {c + 1}"]
                row.append(cell)
                above[col] = cell
            col += span
        rows.append(row)
    return [[(t, rs, cs, src) for t, rs, cs, src in row] for row in rows]


def read_xlsx(data: bytes) -> InputPage | Rejection:
    """A workbook's visible sheets, each one table (merged cells as spans), in sheet order."""
    refused = check_package(data, "Excel (.xlsx)")
    if refused is not None:
        return refused
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged package or XML
        return broken("Excel (.xlsx)", exc)
    blocks: list[Block] = []
    for sheet in workbook.worksheets:
        if sheet.sheet_state != "visible":
            continue
        # The cells that hold a value (`_cells`: openpyxl's own store; `iter_rows` would walk
        # the sheet's whole dimension, which one styled cell at XFD1048576 makes 17 billion).
        if len(sheet._cells) > MAX_TABLE_SLOTS:
            return too_big(f"sheet {sheet.title} of {len(sheet._cells):,} cells", f"over {MAX_TABLE_SLOTS:,}")
        values = {key: cell for key, cell in sheet._cells.items() if cell.value is not None}
        if not values:
            continue
        n_rows = max(r for r, _ in values)
        n_cols = max(c for _, c in values)
        if n_rows * n_cols > MAX_TABLE_SLOTS:
            return too_big(
                f"sheet {sheet.title} spanning {n_rows:,} rows x {n_cols:,} columns", f"over {MAX_TABLE_SLOTS:,} cells"
            )
        blocks.append(
            RawTable(f"sheet {sheet.title}", _sheet_rows(sheet, values, n_rows, n_cols), keep_blank_rows=True)
        )
    return assemble("xlsx", "xlsx", blocks)


def _sheet_rows(sheet: Any, values: dict[tuple[int, int], Any], n_rows: int, n_cols: int) -> list[list[RawCell]]:
    """Rows 1..n_rows of a sheet, every slot a cell but those a merged range covers."""
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    covered: set[tuple[int, int]] = set()
    for merged in sheet.merged_cells.ranges:
        top, left = merged.min_row, merged.min_col
        if top > n_rows or left > n_cols:
            continue
        bottom, right = min(merged.max_row, n_rows), min(merged.max_col, n_cols)
        spans[top, left] = (bottom - top + 1, right - left + 1)
        covered.update((r, c) for r in range(top, bottom + 1) for c in range(left, right + 1))
    rows: list[list[RawCell]] = []
    for r in range(1, n_rows + 1):
        row: list[RawCell] = []
        for c in range(1, n_cols + 1):
            if (r, c) in covered and (r, c) not in spans:
                continue
            cell = values.get((r, c))
            rowspan, colspan = spans.get((r, c), (1, 1))
            text = _cell_text(cell.value, cell.number_format) if cell is not None else ""
            row.append((text, rowspan, colspan, f"{sheet.title}!{openpyxl.utils.get_column_letter(c)}{r}"))
        rows.append(row)
    return rows


def _cell_text(value: Any, number_format: str) -> str:
    """A cell's value as the sheet shows it: 1013.0 as 1013, 0.9058 in a % format as 90.58%.

    >>> _cell_text(1013.0, "General"), _cell_text(0.9058, "0.00%"), _cell_text(date(2020, 12, 20), "yyyy-mm-dd")
    ('1013', '90.58%', '2020-12-20')
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if "%" in number_format:
            decimals = len(number_format.split(".", 1)[1].split("%")[0]) if "." in number_format else 0
            return f"{value * 100:.{decimals}f}%"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return f"{value:.10g}" if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
