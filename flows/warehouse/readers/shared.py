"""What the readers share: SQL fragments that tolerate an older warehouse, and how an
inferred issue date is marked.

Each `sql_*` function looks at the warehouse once and returns a fragment to put in a query
(a column that may be missing reads as NULL, a relation that may be missing as no join).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from flows.warehouse.db import relation_exists


def sql_check_details(con: duckdb.DuckDBPyConnection) -> str:
    """core.bulletins.check_details, or NULL in a warehouse built before the column."""
    has_details = con.execute(
        "select 1 from duckdb_columns() where schema_name = 'core' and table_name = 'bulletins' "
        "and column_name = 'check_details'"
    ).fetchall()
    return "b.check_details" if has_details else "null::varchar[]"


INFERRED_ISSUE_DATE = "刊发日期（推断）"  # how an inferred issue date is marked wherever it is shown


def inferred_mark(source: str | None) -> str:
    """What follows an issue date that was inferred, in Chinese text ('' for a date read).

    >>> "2021-03-09 刊" + inferred_mark("inferred"), inferred_mark("page")
    ('2021-03-09 刊，刊发日期（推断）', '')
    """
    return f"，{INFERRED_ISSUE_DATE}" if source == "inferred" else ""


def issue_date_text(issue_date: dt.date | None, source: str | None) -> str:
    """An issue date as `status` shows it, marked when it was inferred (not from the name or a date line).

    >>> issue_date_text(dt.date(2021, 3, 9), "inferred"), issue_date_text(dt.date(2021, 3, 10), "file_name")
    ('2021-03-09, inferred 刊发日期（推断）', '2021-03-10')
    """
    text = str(issue_date) if issue_date is not None else "?"
    return f"{text}, inferred {INFERRED_ISSUE_DATE}" if source == "inferred" and issue_date is not None else text


def sql_weeks_only(con: duckdb.DuckDBPyConnection, bulletins: str = "b") -> str:
    """SQL keeping the weekly bulletins of `bulletins` (a month's or quarter's scorecard is
    not a week); nothing in a warehouse built before core.bulletins had period_kind."""
    has_kind = con.execute(
        "select 1 from duckdb_columns() where schema_name = 'core' and table_name = 'bulletins' "
        "and column_name = 'period_kind'"
    ).fetchall()
    return f"and {bulletins}.period_kind = 'week'" if has_kind else ""


def sql_issue_source(con: duckdb.DuckDBPyConnection, bulletins: str = "b", files: str = "ingest.files") -> str:
    """SQL for where the issue date of the bulletin `bulletins` came from (its file's
    `issue_date_source` in ingest.files; null when there is no ingest.files). `files`: a
    relation of ingest.files' rows to look in (a query's own few, rather than all)."""
    if not relation_exists(con, "ingest.files"):
        return "null"
    return (
        f"(select min(f.issue_date_source) from {files} as f "
        f"where f.file_sha256 = {bulletins}.file_sha256 and f.status <> 'duplicate')"
    )


def sql_files_join(con: duckdb.DuckDBPyConnection, files: str = "ingest.files") -> tuple[str, str]:
    """A join to each file's inbox path (the path it was taken under, not a later duplicate's);
    `files` as for `sql_issue_source`."""
    if not relation_exists(con, "ingest.files"):
        return "", "null"
    join = f"""
        left join (
            select
                file_sha256,
                coalesce(min(path) filter (where status <> 'duplicate'), min(path)) as path,
            from {files}
            group by file_sha256
        ) as files using (file_sha256)
    """
    return join, "files.path"


def files_relation(con: duckdb.DuckDBPyConnection) -> str | None:
    """Where each inbox path's status is: `core.files` (current content, warehouse rules
    applied); `ingest.files` in a warehouse whose models were never built; else None."""
    for relation in ("core.files", "ingest.files"):
        if relation_exists(con, relation):
            return relation
    return None
