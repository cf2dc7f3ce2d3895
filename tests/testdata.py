"""Test data shared by the test modules: fixture paths, the golden timeline, record builders.

A plain module (tests/ is on sys.path) so that module-level code (parametrize lists,
hypothesis strategies) can use it; the pytest fixtures built on it live in conftest.py.
`from conftest import ...` is not reliable: tests/reliability/conftest.py is a `conftest`
too, and whichever pytest imported last wins the name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin
from flows.warehouse import db, models

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
# The real page (Zhumadian daily, 2020-12-23): one bulletin of 2020-12-14 ~ 12-20.
SAMPLE_PAGE = PAGES / "000_3e19ef32d54e8472.txt"

# The golden marts timeline: input rows of ingest.files and raw.*, and per-table defaults
# for the columns its rows leave out (tests/test_marts_golden.py says what each week tests).
TIMELINE: dict[str, Any] = json.loads((FIXTURES / "marts" / "timeline.json").read_text(encoding="utf-8"))


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows (column -> value) into a table; unit rows get their folded name as ingest gives it."""
    for row in rows:
        if table == "raw.bulletin_units" and "unit_name_key" not in row:
            row = {**row, "unit_name_key": normalize_name(row["unit_name_raw"])}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values())).fetchall()


def load_rows(con: duckdb.DuckDBPyConnection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Create the raw tables and insert rows per table, the timeline's defaults filling the rest."""
    db.create_raw_tables(con)
    for table, table_rows in rows.items():
        defaults = TIMELINE["defaults"].get(table, {})
        insert_rows(con, table, [{**defaults, **row} for row in table_rows])


def build_models(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[str]:
    """Load the alias seed and build every model; returns the relations built."""
    models.load_seeds(con, sql_dir)
    return models.build_models(con, sql_dir)


def load_timeline(con: duckdb.DuckDBPyConnection) -> None:
    """The golden timeline's input rows, models not built."""
    load_rows(con, TIMELINE["rows"])


def bulletin(**fields: Any) -> Bulletin:
    """A Bulletin with nothing read (every figure None, no units, no failed check) but `fields`.

    >>> bulletin(received=4852).received, bulletin().format
    (4852, 'zhumadian_weekly')
    """
    blank: dict[str, Any] = {
        "seq": 1,
        "article_seq": 1,
        "format": "zhumadian_weekly",
        "city": "驻马店",
        "period_label": None,
        "period_start": None,
        "period_end": None,
        "received": None,
        "due": None,
        "closed": None,
        "in_progress": None,
        "overdue": None,
        "disputed": None,
        "closure_rate_published": None,
        "linked_units": None,
        "overdue_units": None,
        "as_of": None,
        "units": (),
        "failed_checks": (),
        "line_start": 1,
        "line_end": 1,
    }
    return Bulletin(**{**blank, **fields})
