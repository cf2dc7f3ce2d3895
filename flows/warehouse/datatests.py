"""Data tests: queries that return the rows breaking a rule; none returned is a pass.

Declared in a model's header (`unique_key`, `not_null`: see `flows.warehouse.models`) or
written as `tests/*.sql` under `flows.settings.SQL_DIR`. Pure functions over a DuckDB
connection; no Prefect here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flows.settings import SQL_DIR
from flows.warehouse.db import fetch_all
from flows.warehouse.models import Model, discover_models, statement


@dataclass(frozen=True)
class DataTest:
    """A query returning the rows that break a rule: declared in a model's header, or a file."""

    name: str  # `<relation>__unique_key`, `<relation>__not_null`, or the test file's stem
    query: str
    path: Path  # the model or test file it comes from


@dataclass(frozen=True)
class DataTestFailure:
    """A data test that returned rows."""

    name: str  # the data test's name
    failing_row_count: int
    sample_rows: list[dict[str, Any]]  # up to 5 failing rows
    source_files: list[str] = field(default_factory=list)  # inbox paths behind the sample rows

    def __str__(self) -> str:
        return self.describe()

    def describe(self, max_rows: int = 2, max_files: int = 5) -> str:
        """One line: the test, its failing rows and the files they come from.

        >>> DataTestFailure("unit_week_unique", 2, [{"week_start": "2020-12-14", "unit_name": "X"}], ["a.txt"]).describe()
        'unit_week_unique (2 rows: week_start=2020-12-14 unit_name=X; files: a.txt)'
        """
        rows = "; ".join(" ".join(f"{k}={v}" for k, v in row.items()) for row in self.sample_rows[:max_rows])
        more = f"; and {len(self.sample_rows) - max_rows} more" if len(self.sample_rows) > max_rows else ""
        files = ", ".join(self.source_files[:max_files])
        if len(self.source_files) > max_files:
            files += f" and {len(self.source_files) - max_files} more"
        noun = "row" if self.failing_row_count == 1 else "rows"
        detail = f": {rows}{more}" if rows else ""
        return f"{self.name} ({self.failing_row_count} {noun}{detail}{'; files: ' + files if files else ''})"


def source_files(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[str]:
    """The inbox paths behind failing rows, from the lineage columns they carry.

    `file_sha256` names a file; `bulletin_id` / `bulletin_ids` a bulletin and so its file;
    `week_start` every file that printed a bulletin of that week.
    """
    shas = {r["file_sha256"] for r in rows if r.get("file_sha256")}
    bulletin_ids = {r["bulletin_id"] for r in rows if r.get("bulletin_id")}
    bulletin_ids |= {b for r in rows for b in (r.get("bulletin_ids") or [])}
    weeks = {r["week_start"] for r in rows if r.get("week_start")}
    if bulletin_ids:
        shas |= {
            row[0]
            for row in fetch_all(
                con, "select file_sha256 from raw.bulletins where bulletin_id in ?", [sorted(bulletin_ids)]
            )
        }
    if weeks:
        shas |= {
            row[0]
            for row in fetch_all(con, "select file_sha256 from raw.bulletins where period_start in ?", [sorted(weeks)])
        }
    if not shas:
        return []
    return [
        row[0]
        for row in fetch_all(
            con,
            "select distinct path from ingest.files where file_sha256 in ? and status <> 'duplicate' order by path",
            [sorted(shas)],
        )
    ]


def declared_tests(model: Model) -> list[DataTest]:
    """The tests a model's header declares: its unique key and its not-null columns.

    >>> [(t.name, t.query.splitlines()[-1]) for t in declared_tests(Model(
    ...     "marts", "m", Path("m.sql"), "", "one row per week", None, {"week_start": "", "n": ""},
    ...     unique_key=("week_start",), not_null=("week_start", "n")))]
    [('marts.m__unique_key', 'having count(*) > 1'), ('marts.m__not_null', 'where week_start is null or n is null')]
    """
    tests = []
    if model.unique_key:
        key = ", ".join(model.unique_key)
        tests.append(
            DataTest(
                name=f"{model.relation}__unique_key",
                query=f"select {key}, count(*) as row_count\nfrom {model.relation}\ngroup by {key}\nhaving count(*) > 1",
                path=model.path,
            )
        )
    if model.not_null:
        nulls = " or ".join(f"{column} is null" for column in model.not_null)
        tests.append(
            DataTest(
                name=f"{model.relation}__not_null",
                query=f"select *\nfrom {model.relation}\nwhere {nulls}",
                path=model.path,
            )
        )
    return tests


def data_tests(sql_dir: Path | None = None) -> list[DataTest]:
    """Every data test, by name: those the models declare, then `sql/tests/*.sql`."""
    tests = [test for model in discover_models(sql_dir) for test in declared_tests(model)]
    tests += [
        DataTest(name=path.stem, query=statement(path.read_text(encoding="utf-8")), path=path)
        for path in sorted(((SQL_DIR if sql_dir is None else Path(sql_dir)) / "tests").glob("*.sql"))
    ]
    names = [test.name for test in tests]
    if len(set(names)) != len(names):
        raise ValueError(f"data test names must be unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return sorted(tests, key=lambda test: test.name)


def run_data_tests(con: duckdb.DuckDBPyConnection, sql_dir: Path | None = None) -> list[DataTestFailure]:
    """Run every data test; returns those that returned rows (empty: all pass)."""
    tests = data_tests(sql_dir)
    if not tests:
        return []
    # Every count in one statement: a statement each cost more in DuckDB's per-statement
    # work than most tests take to run on a day's data.
    counts = fetch_all(con, "select " + ",\n".join(f"(select count(*) from (\n{t.query}\n))" for t in tests))[0]
    failures = []
    for test, count in zip(tests, counts, strict=True):
        if not count:
            continue
        cursor = con.execute(f"select * from (\n{test.query}\n) limit 5")
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        failures.append(
            DataTestFailure(
                name=test.name, failing_row_count=count, sample_rows=sample, source_files=source_files(con, sample)
            )
        )
    return failures
