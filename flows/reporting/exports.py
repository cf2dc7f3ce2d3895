"""The marts as files people open: CSV (with a BOM, for Excel/WPS), xlsx and Parquet.

For the analyst, by default: Chinese headers only (`未办结件`; `headers="en"` gives the
columns' own names, for SQL users), the analyst's columns only (`labels.COLUMNS` flags
each; `all_columns` adds the mart's internal ones: the week before's raw figures, list
keys, ids), and Chinese values in xlsx and CSV: 是/否 for booleans, 新上榜/连续上榜/退出
for `list_change` (`labels.export_value`). Numbers are the marts' own, unrounded (rates
0..1; xlsx shows them as percentages through a number format, the cell still holds the
mart's value). xlsx: columns as wide as their content (a CJK character counts double),
an autofilter and a frozen header row. Parquet is for tools: the mart's values and
types; field names as the headers, and each field's metadata holds both `name` (the
English column) and `label` (the Chinese).

No cell becomes a formula (a unit name is whatever a page printed, `=HYPERLINK(...)`
included). Text starting with `=`, `+`, `-`, `@`, a tab or a carriage return is, in xlsx,
a text cell marked "quote prefix" (shown verbatim, stays text when edited); in CSV, the
OWASP escaping: a single quote `'` in front, and every text field quoted. Numbers stay
numbers: -2 is a number, "-2" from a page is text.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.reporting.labels import COLUMN_LABELS, MART_LABELS, export_header, export_value, is_analyst_column
from flows.warehouse.atomic import write_atomic_with
from flows.warehouse.readers.export import MART_ORDER, mart_arrow, mart_rows

FORMATS = ("xlsx", "csv", "parquet")
HEADERS = ("zh", "en")


class NothingToExport(LookupError):
    """The marts hold no row for the week (or city) asked for."""


def _suffix(city: str | None, week: dt.date | None) -> str:
    parts = [p for p in (city, week.isoformat() if week else None) if p]
    return "".join(f"-{p}" for p in parts)


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


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]], headers: str = "zh") -> Path:
    """UTF-8 with a BOM (Excel then reads the Chinese), one header row, NULL as an empty cell.

    Every text field is quoted and formula-like text escaped (`csv_cell`); numbers are not
    quoted, so they stay numbers.
    """

    def make(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
            writer.writerow([export_header(c, headers) for c in columns])
            writer.writerows([csv_cell(v) for v in row] for row in rows)

    return write_atomic_with(path, make)


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


def display_width(text: str) -> int:
    """Columns the text takes in a spreadsheet's default font: a CJK (wide) character counts two.

    >>> display_width("市城管局"), display_width("2021-01-18"), display_width("90.59%")
    (8, 10, 6)
    """
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown_width(value: Any, fmt: str | None) -> int:
    """How wide a cell's value shows (its number format applied, roughly)."""
    if value is None:
        return 0
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, float):
        return len(f"{value * 100:+.2f}%") if fmt == "0.00%" else len(f"{value:+.2f}")
    return max((display_width(line) for line in str(value).splitlines()), default=0)


# Column widths in characters: at least the autofilter's arrow and a short number, at most
# a long unit name (longer text is cut at the cell's edge, as Excel does, and wraps in the formula bar).
MIN_WIDTH, MAX_WIDTH = 8, 60


def column_width(header: str, values: Sequence[Any], fmt: str | None = None) -> float:
    """A column's width: its widest cell or header (+2 for padding, +2 for the autofilter's arrow on the header)."""
    widest = max([display_width(header) + 2, *(_shown_width(v, fmt) for v in values)])
    return float(max(MIN_WIDTH, min(MAX_WIDTH, widest + 2)))


def write_xlsx(
    path: Path, tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]], headers: str = "zh"
) -> Path:
    """One sheet per mart: a header row (frozen, with an autofilter), the rows, rates as percentages, dates as dates."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table, columns, rows in tables:
        sheet = book.create_sheet(MART_LABELS.get(table, table)[:31])
        sheet.append([export_header(c, headers) for c in columns])
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
            fmt = "yyyy-mm-dd" if column in {"week_start", "week_end", "issue_date"} else _number_format(column)
            values = [row[index - 1] for row in rows]
            sheet.column_dimensions[letter].width = column_width(export_header(column, headers), values, fmt)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
        sheet.freeze_panes = "A2"
        if columns:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, sheet.max_row)}"
    return write_atomic_with(path, book.save)


def labelled(table: pa.Table, headers: str = "en") -> pa.Table:
    """The table with each field named by its header, its metadata holding `name` (English) and `label` (Chinese)."""
    fields = [
        pa.field(
            export_header(f.name, headers),
            f.type,
            f.nullable,
            {**(f.metadata or {}), b"name": f.name.encode(), b"label": COLUMN_LABELS.get(f.name, f.name).encode()},
        )
        for f in table.schema
    ]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def write_parquet(path: Path, table: pa.Table, headers: str = "en") -> Path:
    """Parquet written whole or not at all (`flows.warehouse.atomic`)."""
    return write_atomic_with(path, lambda tmp: pq.write_table(labelled(table, headers), tmp, compression="zstd"))


def exported_columns(columns: Sequence[str], all_columns: bool = False) -> list[str]:
    """The columns an export shows: the analyst's (labels.COLUMNS), or every one with `all_columns`.

    >>> exported_columns(["city", "unit_list", "unit_name", "prev_unresolved"])
    ['city', 'unit_name']
    """
    return list(columns) if all_columns else [c for c in columns if is_analyst_column(c)]


def for_people(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], all_columns: bool = False
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The exported columns of the rows, their values in Chinese (是/否, 新上榜): what xlsx and CSV hold."""
    shown = exported_columns(columns, all_columns)
    at = [list(columns).index(c) for c in shown]
    return shown, [tuple(export_value(columns[i], row[i]) for i in at) for row in rows]


def export_marts(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    out_dir: Path,
    city: str | None = None,
    week: dt.date | None = None,
    *,
    headers: str = "zh",
    all_columns: bool = False,
) -> list[Path]:
    """Write every mart (of one city, of the published week containing `week`) in `fmt`; the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if headers not in HEADERS:
        raise ValueError(f"headers must be one of {', '.join(HEADERS)}, not {headers!r}")
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
    shown = [(t, *for_people(columns, rows, all_columns)) for t, columns, rows in tables]
    if fmt == "xlsx":
        return [write_xlsx(out_dir / f"bulletins-marts{suffix}.xlsx", shown, headers)]
    if fmt == "csv":
        return [write_csv(out_dir / f"{t}{suffix}.csv", columns, rows, headers) for t, columns, rows in shown]
    paths = []
    for t, columns, _ in tables:
        data = mart_arrow(con, t, city, week)
        paths.append(
            write_parquet(
                out_dir / f"{t}{suffix}.parquet", data.select(exported_columns(columns, all_columns)), headers
            )
        )
    return paths
