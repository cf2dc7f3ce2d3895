"""The lake's tables: one explicit Arrow schema per table, with a comment per column.

This module is the one place that defines the raw tables' columns. The lake's Delta tables
are written with these schemas and the warehouse's `raw.*` / `ingest.files` tables are
created from them (with the comments as COMMENT ON), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from flows.parsing.formats import city_of_format
from flows.parsing.names import normalize_name
from flows.warehouse.reasons import TOO_LARGE


def _f(name: str, type_: pa.DataType, comment: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"comment": comment})


_STR_LIST = pa.list_(pa.string())

FILES = pa.schema(
    [
        _f(
            "file_sha256",
            pa.string(),
            "sha256 of the file's bytes (lineage key); for a skipped entry, of the reason it was not read",
            False,
        ),
        _f(
            "path",
            pa.string(),
            "path of the file relative to the inbox (a path that is not UTF-8: bytes above 0x7f as \\xNN; "
            "a member of a zip archive: archive.zip!member)",
            False,
        ),
        _f("size_bytes", pa.int64(), "size of the file in bytes", False),
        _f("modified_ns", pa.int64(), "file mtime in ns when seen (skip unchanged paths)", False),
        _f("issue_date", pa.date32(), "date of the newspaper issue"),
        _f("issue_date_source", pa.string(), "where issue_date came from: file_name, page or inferred"),
        _f("encoding", pa.string(), "encoding the file was decoded with"),
        _f(
            "status",
            pa.string(),
            "loaded, partial, quarantined, duplicate or skipped, as recorded at ingest "
            "(core.files applies the warehouse's rules)",
            False,
        ),
        _f("reasons", _STR_LIST, "why the file is partial, quarantined, duplicate or skipped", False),
        _f(
            "over_size_limit",
            pa.bool_(),
            "true when it was not read for its size (a file or an archive's member over "
            "BULLETINS_MAX_FILE_BYTES, or an archive's members together over their limit): "
            "read again once it fits",
            False,
        ),
        _f("first_seen_at", pa.timestamp("us", tz="UTC"), "when a run first saw this path with these bytes", False),
        _f("ingest_seq", pa.int64(), "order in which files were taken in (ties: the later wins)", False),
        _f("batch_id", pa.string(), "lake batch the file's rows were written in", False),
    ]
)

ARTICLES = pa.schema(
    [
        _f("file_sha256", pa.string(), "source file's sha256", False),
        _f("seq", pa.int32(), "1-based position of the item on the page", False),
        _f("section", pa.string(), "the page's section name"),
        _f("kind", pa.string(), "news, photo, commentary or bulletin", False),
        _f("kicker", pa.string(), "kicker line above the title (引题)"),
        _f("title", pa.string(), "title line"),
        _f("subtitle", pa.string(), "subtitle line"),
        _f("reporters", _STR_LIST, "reporters named in the byline (记者)", False),
        _f("correspondents", _STR_LIST, "correspondents named in the byline (通讯员)", False),
        _f("photographers", _STR_LIST, "photo credits (记者 X 摄)", False),
        _f("authors", _STR_LIST, "commentary authors (after □)", False),
        _f("event_date", pa.date32(), "date in the lead, year taken from the issue"),
        _f("body", pa.string(), "normalised paragraphs, joined by newlines", False),
        _f("editor_code", pa.string(), "editor's code at the end of the item, as printed (②6)"),
        _f("original_text", pa.string(), "the item's lines as decoded, before normalisation", False),
        _f("line_start", pa.int32(), "first line of the item in the decoded file", False),
        _f("line_end", pa.int32(), "last line of the item in the decoded file", False),
        _f("batch_id", pa.string(), "lake batch", False),
    ]
)

BULLETINS = pa.schema(
    [
        _f("bulletin_id", pa.string(), "file_sha256[:16] || '-' || seq", False),
        _f("file_sha256", pa.string(), "source file's sha256", False),
        _f("seq", pa.int32(), "1-based order of bulletins in the file", False),
        _f("article_seq", pa.int32(), "the article (kind bulletin) it was read from", False),
        _f("format", pa.string(), "bulletin format module that read it", False),
        _f("city", pa.string(), "the publishing city, from the format that read it (驻马店, 三门峡)", False),
        _f(
            "period_label",
            pa.string(),
            "the publisher's own label of the period (2021第7期); NULL when none is printed",
        ),
        _f("issue_date", pa.date32(), "issue date of the page it was printed in"),
        _f("period_start", pa.date32(), "first day of the week reported"),
        _f("period_end", pa.date32(), "last day of the week reported"),
        _f("received", pa.int32(), "cases taken in that week (受理)"),
        _f("due", pa.int32(), "cases due to be closed that week (应结案)"),
        _f("closed", pa.int32(), "cases closed (已结案)"),
        _f("in_progress", pa.int32(), "cases in progress (正在办理中)"),
        _f("overdue", pa.int32(), "cases past deadline, still open (超时未办结)"),
        _f("disputed", pa.int32(), "cases not handled: responsibility disputed (确权争议)"),
        _f("closure_rate_published", pa.decimal128(9, 6), "closure rate as printed, 0..1 (90.58% -> 0.9058)"),
        _f("linked_units", pa.int32(), "units the centre dispatches to (联动单位)"),
        _f("overdue_units", pa.int32(), "units with overdue cases, as printed"),
        _f("as_of", pa.timestamp("us"), "the 截至 time of the figures (local time)"),
        _f("failed_checks", _STR_LIST, "names of failed checks; empty when clean", False),
        _f(
            "check_details",
            _STR_LIST,
            "one line per failed check, in failed_checks' order, with the numbers and the line it compared "
            "(units_sum_to_overdue: rows sum to 41, the bulletin prints 38 (line 57)); NULL in batches "
            "written before it was recorded",
        ),
        _f("line_start", pa.int32(), "first line of the bulletin in the decoded file", False),
        _f("line_end", pa.int32(), "last line of the bulletin in the decoded file", False),
        _f(
            "period_kind",
            pa.string(),
            "what the period is: week (the weekly lists), month or quarter (scorecards, 月报)",
            False,
        ),
        _f("batch_id", pa.string(), "lake batch", False),
    ]
)

BULLETIN_UNITS = pa.schema(
    [
        _f("bulletin_id", pa.string(), "the bulletin the row belongs to", False),
        _f("file_sha256", pa.string(), "source file's sha256", False),
        _f("unit_group", pa.string(), "table group (市辖区(管委会)组, 市直单位及企业组)"),
        _f("unit_name_raw", pa.string(), "unit name as printed", False),
        _f(
            "unit_name_key",
            pa.string(),
            "unit name folded (NFKC, whitespace removed): the key it is matched on with the alias seed",
            False,
        ),
        _f("dispatched", pa.int32(), "cases dispatched to the unit (交办件)"),
        _f("unresolved", pa.int32(), "cases overdue at the unit (未办结件)"),
        _f("row_no", pa.int32(), "1-based row order in the bulletin", False),
        _f("line_no", pa.int32(), "line of the row in the decoded file", False),
        _f("closed", pa.int32(), "cases the unit completed (完成数); NULL where the format prints none"),
        _f(
            "closure_rate_published",
            pa.decimal128(9, 6),
            "the unit's rate as printed (完成率/结案率: closed / dispatched), 0..1; NULL where none is printed",
        ),
        _f("batch_id", pa.string(), "lake batch", False),
    ]
)

BULLETIN_SCORES = pa.schema(
    [
        _f("bulletin_id", pa.string(), "the scorecard (bulletin) the row belongs to", False),
        _f("file_sha256", pa.string(), "source file's sha256", False),
        _f("unit_group", pa.string(), "the group, a ranking of its own, as printed (县、市组, 建成区组, ...)", False),
        _f("unit_name_raw", pa.string(), "unit name as printed", False),
        _f(
            "unit_name_key",
            pa.string(),
            "unit name folded (NFKC, whitespace removed): the key it is matched on with the alias seed",
            False,
        ),
        _f("score", pa.decimal128(9, 4), "score as printed (分); NULL for 无数据 (no data, never 0)"),
        _f("grade", pa.string(), "grade as printed (优秀/良好/合格 等次); NULL where none is printed"),
        _f("rank", pa.int32(), "1-based rank in the group, ties share one; NULL where unknown (bad list, 无数据)"),
        _f(
            "score_list",
            pa.string(),
            "good (处置好), bad (处置差) or none: the group's list the unit is printed in",
            False,
        ),
        _f("no_data", pa.bool_(), "true when printed 无数据", False),
        _f("row_no", pa.int32(), "1-based row order in the bulletin", False),
        _f("line_no", pa.int32(), "line of the row in the decoded file", False),
        _f("batch_id", pa.string(), "lake batch", False),
    ]
)

PAGE_TABLES = pa.schema(
    [
        _f("file_sha256", pa.string(), "source file's sha256", False),
        _f("table_no", pa.int32(), "1-based order of the table on the page", False),
        _f("layout", pa.string(), "how the table was printed: pipe, cell_per_line, column_list, aligned", False),
        _f("row_no", pa.int32(), "1-based row of the table (the header is not a row)", False),
        _f("column_no", pa.int32(), "1-based column of the row", False),
        _f("header", pa.string(), "the header text of the column; NULL when the table prints no header for it"),
        _f("text", pa.string(), "the cell as printed (normalised: NFKC, trimmed)", False),
        _f(
            "number",
            pa.decimal128(18, 6),
            "the number when the whole cell is one, units and % dropped (1013件 -> 1013, 98.5% -> 98.5); else NULL",
        ),
        _f("line_no", pa.int32(), "line of the cell in the decoded file (lineage)", False),
        _f(
            "source",
            pa.string(),
            "where the file holds the cell, for a web page's, Word's, Excel's or PDF's table "
            "(line 120, Sheet1!B3); NULL for a text page",
        ),
        _f("batch_id", pa.string(), "lake batch", False),
    ]
)


def _weekly(format_name: str) -> str:
    """period_kind of a bulletin recorded before the column existed: every format read then was weekly."""
    return "week"


def _over_size_limit(reasons: list[str]) -> bool:
    """over_size_limit of a file recorded before the column existed: its reason was the only
    record of it (the planner reads the column, never the text)."""
    return any(r.startswith(TOO_LARGE) for r in reasons)


# Columns computed from another column of the same row by one Python function. Ingest
# writes them; parts of the Parquet lake, Delta tables and warehouses from before a column
# existed get it computed by the same function (`upgrade` when `migrate` converts an old
# part or `lake_upgrade` rewrites a table; `db.create_raw_tables`; `plans` for old plans).
DERIVED_COLUMNS: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    # before the city column, every bulletin was read by a format of one city
    "bulletins": {"city": ("format", city_of_format), "period_kind": ("format", _weekly)},
    "bulletin_units": {"unit_name_key": ("unit_name_raw", normalize_name)},
    "bulletin_scores": {"unit_name_key": ("unit_name_raw", normalize_name)},
    "files": {"over_size_limit": ("reasons", _over_size_limit)},
}

TABLE_COMMENTS: dict[str, str] = {
    "files": "one row per inbox path and content seen, with its status (incremental state)",
    "articles": "every item parsed from a page, as written to the lake",
    "bulletins": "every bulletin parsed from a page, with its figures and failed checks",
    "bulletin_units": "every unit row of every bulletin table, as printed",
    "bulletin_scores": "every unit score of every scorecard (monthly, quarterly), as printed",
    "page_tables": "every cell of every table found on a page (flows.parsing.tables), as printed",
}

# Lake table (a Delta table, `lake/<name>/`) -> schema. `files` is committed last in a
# batch: a batch is complete when its files rows are in (`lake.complete_batches`).
LAKE_TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "bulletins": BULLETINS,
    "bulletin_units": BULLETIN_UNITS,
    "bulletin_scores": BULLETIN_SCORES,
    "page_tables": PAGE_TABLES,
    "files": FILES,
}

# Lake tables added after batches of the Parquet lake were first written. An old batch from
# before one existed has no part of it and holds no rows of it: `legacy_audit` does not
# ask for it and `migrate` commits the batch to that Delta table with no rows.
ADDED_TABLES: frozenset[str] = frozenset({"bulletin_scores", "page_tables"})

# Lake table -> warehouse table it loads into.
WAREHOUSE_TABLES: dict[str, str] = {
    "articles": "raw.articles",
    "bulletins": "raw.bulletins",
    "bulletin_units": "raw.bulletin_units",
    "bulletin_scores": "raw.bulletin_scores",
    "page_tables": "raw.page_tables",
    "files": "ingest.files",
}


def computable(table: str, field: pa.Field) -> bool:
    """Whether `upgrade` fills the column in rows written without it (derived, or nullable)."""
    return field.nullable or field.name in DERIVED_COLUMNS.get(table, {})


def upgrade(table: str, data: pa.Table) -> pa.Table:
    """Rows of `table` written under an older schema, in the current one.

    A missing derived column is computed from its source column; a missing nullable
    column is NULL; a missing required column raises ValueError.
    """
    schema = LAKE_TABLES[table]
    derived = DERIVED_COLUMNS.get(table, {})
    columns: list[pa.Array | pa.ChunkedArray] = []
    for field in schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        elif field.name in derived:
            source, derive = derived[field.name]
            values = data.column(source).to_pylist()
            columns.append(pa.array([None if v is None else derive(v) for v in values], field.type))
        elif field.nullable:
            columns.append(pa.nulls(data.num_rows, field.type))
        else:
            raise ValueError(f"lake table {table}: a part lacks the required column {field.name}")
    return pa.Table.from_arrays(columns, schema=schema)
