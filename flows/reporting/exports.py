"""The marts as files people open: CSV (with a BOM, for Excel), xlsx and Parquet.

Headers read `未办结件 (unresolved)`: Chinese for the reader, the column's own name for
the SQL user. Values are the marts' own, unrounded (rates 0..1; xlsx shows them as
percentages through a number format, the cell still holds the mart's value). Parquet
keeps the column names and types, with the Chinese label in each field's metadata.

No cell becomes a formula (a unit name is whatever a page printed, `=HYPERLINK(...)`
included). Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return is, in xlsx,
a text cell marked "quote prefix" (shown verbatim, stays text when edited); in CSV, the
OWASP escaping: a single quote `'` in front, and every text field quoted. Numbers stay
numbers: -2 is a number, "-2" from a page is text.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.reporting.labels import COLUMN_LABELS, export_header, label
from flows.warehouse.readers import MART_ORDER, mart_arrow, mart_rows

FORMATS = ("xlsx", "csv", "parquet")

# Sheet names in the workbook (Excel allows 31 characters).
SHEET_NAMES = {"city_week_performance": "城市周表现", "unit_week_performance": "单位周表现"}


class NothingToExport(LookupError):
    """The marts hold no row for the week (or city) asked for."""


def _suffix(city: str | None, week: dt.date | None) -> str:
    parts = [p for p in (city, week.isoformat() if week else None) if p]
    return "".join(f"-{p}" for p in parts)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


# What makes Excel, LibreOffice and Google Sheets read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def could_be_formula(value: object) -> bool:
    """Whether a spreadsheet would take this value for a formula: text starting with = + - @ tab CR.

    >>> [could_be_formula(v) for v in ("=1+2", "@SUM(1)", "-1+2", "\\t=x", "市城管局", -1, "")]
    [True, True, True, True, False, False, False]
    """
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """A value for the CSV: formula-like text behind a single quote (OWASP), the rest as is.

    >>> [csv_cell(v) for v in ("=市城管局+驿城区政府", "市城管局", -1.5, None)]
    ["'=市城管局+驿城区政府", '市城管局', -1.5, None]
    """
    return f"'{value}" if could_be_formula(value) else value


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """UTF-8 with a BOM (Excel then reads the Chinese), one header row, NULL as an empty cell.

    Every text field is quoted and formula-like text escaped (`csv_cell`); numbers are not
    quoted, so they stay numbers.
    """
    tmp = _tmp(path)
    with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow([export_header(c) for c in columns])
        writer.writerows([csv_cell(v) for v in row] for row in rows)
    os.replace(tmp, path)
    return path


def _number_format(column: str) -> str | None:
    if column.endswith(("_rate", "_share")) or column.endswith("_rate_published"):
        return "0.00%"
    if column.endswith("_pp"):
        return "+0.00;-0.00;0.00"
    if column.endswith(("_change",)):
        return "+0;-0;0"
    return None


def _xlsx_value(value: Any) -> Any:
    # XML cannot hold most C0 controls: openpyxl refuses them (IllegalCharacterError), which
    # would stop the whole export for one odd unit name; they are written as visible \xNN.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def write_xlsx(path: Path, tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> Path:
    """One sheet per mart: a header row, the rows, rates shown as percentages, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table, columns, rows in tables:
        sheet = book.create_sheet(SHEET_NAMES.get(table, table[:31]))
        sheet.append([export_header(c) for c in columns])
        for row in rows:
            sheet.append([_xlsx_value(v) for v in row])
            for cell in sheet[sheet.max_row]:
                if could_be_formula(cell.value):
                    # openpyxl makes any text starting with "=" a formula (<f>): keep it text,
                    # and mark it so Excel keeps it text when someone edits the cell.
                    cell.data_type = "s"
                    cell.quotePrefix = True
        for index, column in enumerate(columns, start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = max(10, min(40, 2 * len(label(column)) + len(column) // 2 + 4))
            fmt = "yyyy-mm-dd" if column in {"week_start", "week_end", "issue_date"} else _number_format(column)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"
    tmp = _tmp(path)
    book.save(tmp)
    os.replace(tmp, path)
    return path


def labelled(table: pa.Table) -> pa.Table:
    """The table with each field's Chinese label in its metadata (`label`)."""
    fields = [
        f.with_metadata({**(f.metadata or {}), b"label": COLUMN_LABELS[f.name].encode()})
        if f.name in COLUMN_LABELS
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def write_parquet(path: Path, table: pa.Table) -> Path:
    """Parquet written under a temporary name, fsynced, then renamed."""
    tmp = _tmp(path)
    pq.write_table(labelled(table), tmp, compression="zstd")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def export_marts(
    con: duckdb.DuckDBPyConnection, fmt: str, out_dir: Path, city: str | None = None, week: dt.date | None = None
) -> list[Path]:
    """Write both marts (of one city, of the published week containing `week`) in `fmt`; the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    tables = [(t, *mart_rows(con, t, city, week)) for t in MART_ORDER]
    if not any(rows for _, _, rows in tables):
        what = " and ".join(p for p in (f"city {city}" if city else "", f"the week of {week}" if week else "") if p)
        raise NothingToExport(f"the marts hold no row{' for ' + what if what else ''}: nothing to export")
    if week is not None:  # files named by the week's first day when the cities agree on it
        _, columns, rows = tables[0]
        starts = {row[columns.index("week_start")] for row in rows}
        week = starts.pop() if len(starts) == 1 else week
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = _suffix(city, week)
    if fmt == "xlsx":
        return [write_xlsx(out_dir / f"bulletins-marts{suffix}.xlsx", tables)]
    if fmt == "csv":
        return [write_csv(out_dir / f"{t}{suffix}.csv", columns, rows) for t, columns, rows in tables]
    return [write_parquet(out_dir / f"{t}{suffix}.parquet", mart_arrow(con, t, city, week)) for t in MART_ORDER]
