"""The README is the user's manual: its documented columns are the warehouse's columns."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flows.devtools import readme_tables
from flows.settings import PROJECT_DIR, SQL_DIR
from flows.warehouse import models, seeds
from flows.warehouse.db import connection, create_raw_tables

README = PROJECT_DIR / "README.md"


def documented_columns() -> dict[str, list[str]]:
    """`### `schema.table`` headings in the README, each with its `| `column` |` rows."""
    docs: dict[str, list[str]] = {}
    current: str | None = None
    for line in README.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(\w+\.\w+)`", line)
        if heading:
            current = heading.group(1)
            docs[current] = []
        elif current and (row := re.match(r"^\| `(\w+)` \|", line)):
            docs[current].append(row.group(1))
        elif line.startswith("#"):
            current = None
    return docs


def test_every_documented_column_exists_and_every_column_is_documented() -> None:
    docs = documented_columns()
    assert {
        "ingest.files",
        "core.articles",
        "core.bulletins",
        "core.bulletin_units",
        "marts.unit_week_performance",
        "marts.city_week_performance",
    } <= docs.keys()
    with connection(None) as con:
        create_raw_tables(con)
        seeds.load_seeds(con)
        models.build_models(con)
        for relation, columns in docs.items():
            schema, name = relation.split(".")
            actual = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where schema_name = ? and table_name = ? order by column_index",
                    [schema, name],
                ).fetchall()
            ]
            assert columns == actual, f"README's {relation} columns differ from the warehouse"


def test_readme_table_docs_are_generated_from_the_sql_headers_and_the_lake_schema() -> None:
    """The README's table block is exactly what `make docs` writes: edit the sources, not the README."""
    text = README.read_text(encoding="utf-8")
    assert readme_tables.render(text, readme_tables.tables_markdown()) == text, "README.md is out of date: make docs"


def test_generated_docs_follow_the_headers(tmp_path: Path) -> None:
    """A column added to a mart's header shows up in the generated block (the check can fail)."""
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    mart = tmp_path / "marts" / "city_week_performance.sql"
    text = mart.read_text(encoding="utf-8").replace(
        "-- column: issue_date:", "-- column: bulletin_count: bulletins that week | printed\n-- column: issue_date:"
    )
    mart.write_text(text, encoding="utf-8")
    generated = readme_tables.tables_markdown(tmp_path)
    assert "| `bulletin_count` | bulletins that week \\| printed |" in generated
    readme = README.read_text(encoding="utf-8")
    assert readme_tables.render(readme, generated) != readme


def test_readme_gives_the_two_commands_and_ci_calls_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
    assert "make test" in (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")


def test_every_table_and_column_users_query_carries_a_comment() -> None:
    schemas = ["ingest", "raw", "seeds", "core", "marts"]
    with connection(None) as con:
        create_raw_tables(con)
        seeds.load_seeds(con)
        models.build_models(con)
        relations = con.execute(
            """
            select schema_name, table_name, comment from duckdb_tables() where schema_name in ?
            union all
            select schema_name, view_name, comment from duckdb_views() where schema_name in ?
            """,
            [schemas, schemas],
        ).fetchall()
        columns = con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns() where schema_name in ?",
            [schemas],
        ).fetchall()
    assert len(relations) >= 12
    assert [r for r in relations if not r[2]] == []
    assert [c for c in columns if not c[3]] == []
