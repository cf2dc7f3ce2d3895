"""Test data shared by the test modules: fixture paths, the golden timeline, record builders.

A plain module (tests/ is on sys.path) so that module-level code (parametrize lists,
hypothesis strategies) can use it; the pytest fixtures built on it live in conftest.py.
`from conftest import ...` is not reliable: tests/reliability/conftest.py is a `conftest`
too, and whichever pytest imported last wins the name.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin
from flows.warehouse import db, models, seeds

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
# The real page (Zhumadian daily, 2020-12-23): one bulletin of 2020-12-14 ~ 12-20.
SAMPLE_PAGE = PAGES / "000_3e19ef32d54e8472.txt"

# Zhumadian's two unit groups (one list, printed in two tables).
DISTRICTS, CITY_UNITS = "市辖区(管委会)组", "市直单位及企业组"

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
    seeds.load_seeds(con, sql_dir)
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


# ------------------------------------------------------------------ input rows by hand
# Rows of ingest.files, raw.bulletins and raw.bulletin_units for file n (sha c<n>000...),
# its bulletin `seq` and unit rows; load_rows fills the timeline's defaults.


def plus_days(day: str, days: int) -> str:
    return str(date.fromisoformat(day) + timedelta(days=days))


def file_row(n: int, issue_date: str | None, status: str = "loaded") -> dict[str, Any]:
    return {
        "file_sha256": f"c{n}".ljust(64, "0"),
        "path": f"f{n}.txt",
        "issue_date": issue_date,
        "status": status,
        "ingest_seq": n,
        "batch_id": f"b{n}",
    }


def bulletin_row(
    n: int, seq: int, period_start: str, issue_date: str | None, failed: list[str] | None = None, **figures: Any
) -> dict[str, Any]:
    """A Zhumadian week (Monday to Sunday) with figures that add up, overridden by `figures`."""
    row = {
        "bulletin_id": f"c{n}".ljust(16, "0") + f"-{seq}",
        "file_sha256": f"c{n}".ljust(64, "0"),
        "seq": seq,
        "issue_date": issue_date,
        "period_start": period_start,
        "period_end": plus_days(period_start, 6),
        "received": 100,
        "due": 100,
        "closed": 90,
        "in_progress": 5,
        "overdue": 5,
        "disputed": 0,
        "closure_rate_published": 0.9,
        "overdue_units": 1,
        "failed_checks": failed or [],
        "batch_id": f"b{n}",
    }
    row.update(figures)
    return row


def unit_row(
    n: int, seq: int, name: str, dispatched: int, unresolved: int, row_no: int = 1, group: str = DISTRICTS
) -> dict[str, Any]:
    return {
        "bulletin_id": f"c{n}".ljust(16, "0") + f"-{seq}",
        "file_sha256": f"c{n}".ljust(64, "0"),
        "unit_group": group,
        "unit_name_raw": name,
        "dispatched": dispatched,
        "unresolved": unresolved,
        "row_no": row_no,
        "batch_id": f"b{n}",
    }


def regrouped_unit_rows() -> dict[str, list[dict[str, Any]]]:
    """Three consecutive Zhumadian weeks in which 市城市管理局 moves between its groups.

    2021-01-04: 市城市管理局 in the city units' group (8 of 40, rank 2 behind 中国电信 12 of 60);
    驿城区政府 heads the districts (10 of 100).
    2021-01-11: 市城市管理局 printed in the districts' group (5 of 50, rank 2 behind
    驿城区政府 9 of 90); 中国电信 alone in the city units (6 of 60).
    2021-01-18: 市城市管理局 alone on the list, still with the districts (3 of 30).
    """
    weeks = [
        ("2021-01-04", 65, 30, [(CITY_UNITS, "中国电信驻马店分公司", 60, 12), (CITY_UNITS, "市城市管理局", 40, 8),
                                (DISTRICTS, "驿城区政府", 100, 10)]),
        ("2021-01-11", 75, 20, [(DISTRICTS, "驿城区政府", 90, 9), (DISTRICTS, "市城市管理局", 50, 5),
                                (CITY_UNITS, "中国电信驻马店分公司", 60, 6)]),
        ("2021-01-18", 92, 3, [(DISTRICTS, "市城市管理局", 30, 3)]),
    ]  # fmt: skip
    rows: dict[str, list[dict[str, Any]]] = {"ingest.files": [], "raw.bulletins": [], "raw.bulletin_units": []}
    for n, (start, closed, overdue, units) in enumerate(weeks, start=1):
        issue = plus_days(start, 9)
        rows["ingest.files"].append(file_row(n, issue))
        rows["raw.bulletins"].append(
            bulletin_row(
                n, 1, start, issue,
                closed=closed, overdue=overdue, overdue_units=len(units), closure_rate_published=closed / 100,
            )
        )  # fmt: skip
        rows["raw.bulletin_units"] += [
            unit_row(n, 1, name, dispatched, unresolved, row_no=k, group=group)
            for k, (group, name, dispatched, unresolved) in enumerate(units, start=1)
        ]
    return rows
