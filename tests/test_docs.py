"""The docs (README.md, the front door, and docs/*.md) say what the code does: documented
columns are the warehouse's columns, generated blocks are what the code generates, example
queries run, and every link lands."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path
from typing import Annotated

import pytest
import typer

from flows.devtools import docs_blocks
from flows.settings import PROJECT_DIR, SQL_DIR, VARIABLES, Number
from flows.warehouse import models, seeds
from flows.warehouse.db import connection, create_raw_tables
from flows.warehouse.faults import TEST_HOOKS

README = PROJECT_DIR / "README.md"
DOCS = sorted((PROJECT_DIR / "docs").glob("*.md"))
DOC_FILES = [README, *DOCS]
TABLES_DOC = PROJECT_DIR / "docs" / "tables.md"
REFERENCE = PROJECT_DIR / "docs" / "reference.md"


def documented_columns() -> dict[str, list[str]]:
    """`### `schema.table`` headings in the docs, each with its `| `column` |` rows."""
    docs: dict[str, list[str]] = {}
    current: str | None = None
    lines = [line for path in DOC_FILES for line in [*path.read_text(encoding="utf-8").splitlines(), "#"]]
    for line in lines:
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
        "ingest.corrections",
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
            assert columns == actual, f"the docs' {relation} columns differ from the warehouse"


@pytest.mark.parametrize("block", docs_blocks.BLOCKS, ids=lambda b: b.name)
def test_generated_blocks_are_what_make_docs_writes(block: docs_blocks.Block) -> None:
    """The table docs, the settings and the CLI reference are exactly what `make docs` writes:
    edit the sources (SQL headers, flows/settings/variables.py, flows/cli.py), not the docs."""
    text = block.path.read_text(encoding="utf-8")
    assert docs_blocks.render(text, block, block.make()) == text, f"{block.path.name} is out of date: make docs"


def test_the_generated_blocks_live_where_the_docs_say() -> None:
    assert {b.name: b.path for b in docs_blocks.BLOCKS} == {
        "tables": TABLES_DOC,
        "settings": REFERENCE,
        "cli": REFERENCE,
    }
    assert docs_blocks.main(["--check"]) == 0


def test_generated_docs_follow_the_headers(tmp_path: Path) -> None:
    """A column added to a mart's header shows up in the generated block (the check can fail)."""
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    mart = tmp_path / "marts" / "city_week_performance.sql"
    text = mart.read_text(encoding="utf-8").replace(
        "-- column: issue_date:", "-- column: bulletin_count: bulletins that week | printed\n-- column: issue_date:"
    )
    mart.write_text(text, encoding="utf-8")
    generated = docs_blocks.tables_markdown(tmp_path)
    assert "| `bulletin_count` | bulletins that week \\| printed |" in generated
    tables_block = docs_blocks.BLOCKS[0]
    text = TABLES_DOC.read_text(encoding="utf-8")
    assert docs_blocks.render(text, tables_block, generated) != text


def test_the_settings_reference_lists_every_variable_with_its_default_and_bounds() -> None:
    generated = docs_blocks.settings_markdown()
    for variable in (*VARIABLES, *TEST_HOOKS):
        row = next(line for line in generated.splitlines() if line.startswith(f"| `{variable.name}` |"))
        assert docs_blocks._default(variable) in row
        if isinstance(variable, Number):
            assert variable.takes() in row  # the words of the error a wrong value gets
    assert "| `BULLETINS_MAX_FILE_BYTES` | `2097152` | a whole number of at least 1 |" in generated
    assert "| `BULLETINS_LOCK_TIMEOUT_S` | `120` | a number from 0 to 86400 |" in generated


def test_a_changed_declaration_changes_the_settings_reference() -> None:
    """A default changed in flows/settings/variables.py shows in the generated block (the check can fail)."""
    changed = tuple(
        Number(v.name, 8, v.minimum, v.meaning, v.maximum) if v.name == "BULLETINS_PARSE_WORKERS" else v
        for v in VARIABLES
    )
    generated = docs_blocks.settings_markdown(changed)  # type: ignore[arg-type]
    assert "| `BULLETINS_PARSE_WORKERS` | `8` |" in generated
    assert generated != docs_blocks.settings_markdown()


def test_every_bulletins_variable_the_package_reads_is_declared() -> None:
    """A BULLETINS_* name anywhere in flows/ is one of the declarations the settings reference shows."""
    declared = {v.name for v in (*VARIABLES, *TEST_HOOKS)}
    named = set()
    for path in (PROJECT_DIR / "flows").rglob("*.py"):
        named |= set(re.findall(r"BULLETINS_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
    named.discard("BULLETINS_NOT_SET")  # the doctests' unset variable
    assert named - declared == set()
    assert len(declared) == len(VARIABLES) + len(TEST_HOOKS)


def test_the_cli_reference_has_every_command_and_option() -> None:
    from flows.cli import app

    generated = docs_blocks.cli_markdown()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"### `bulletins {name}`" in generated
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else []:
                assert f"`{opt}`" in generated, (name, opt)


def test_a_new_option_shows_in_the_cli_reference() -> None:
    """A command added to the typer app is in the generated block (the check can fail)."""
    from flows.cli import app

    def probe(depth: Annotated[int, typer.Option(help="How deep to probe")] = 3) -> None:
        """Probe the docs generator."""

    app.command(name="docs-probe")(probe)
    try:
        generated = docs_blocks.cli_markdown()
    finally:
        app.registered_commands.pop()
    assert "### `bulletins docs-probe`" in generated
    assert "| `--depth` | `3` | How deep to probe |" in generated
    assert "docs-probe" not in docs_blocks.cli_markdown()


def test_readme_gives_the_two_commands_and_ci_calls_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
    assert "make test" in (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_is_a_front_door_with_the_quick_start_first() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[2] == "## 快速上手"  # the first screen: right under the title
    assert len(lines) < 120
    for doc in ("docs/guide.md", "docs/reference.md", "docs/tables.md"):
        assert f"]({doc})" in "\n".join(lines)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_anchor("When `serve` or `run` is killed"), github_anchor("提醒（Notifications）")
    ('when-serve-or-run-is-killed', '提醒notifications')
    """
    kept = "".join(c for c in heading.strip().lower() if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file (a repeated heading gets -1, -2, ... as on GitHub)."""
    found: set[str] = set()
    fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and (heading := re.match(r"^#{1,6} (.+)$", line)):
            anchor = github_anchor(heading.group(1))
            n, unique = 0, anchor
            while unique in found:
                n += 1
                unique = f"{anchor}-{n}"
            found.add(unique)
    return found


def relative_links(path: Path) -> list[str]:
    """The relative targets of a file's Markdown links and images, outside code."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_every_relative_link_lands_on_a_file_and_heading(path: Path) -> None:
    broken = []
    links = relative_links(path)
    for target in links:
        file_part, _, anchor = target.partition("#")
        file = (path.parent / file_part).resolve() if file_part else path
        if not file.exists():
            broken.append(f"{target}: no file {file_part}")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert broken == []
    if path != TABLES_DOC:
        assert links, f"{path.name} links nowhere"


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nowhere) [gone](missing.md)\n", encoding="utf-8")
    assert relative_links(page) == ["#title", "#nowhere", "missing.md"]
    assert anchors(page) == {"title"}


def example_queries() -> list[tuple[str, str]]:
    """Every ```sql block of the docs that is a query (not a header excerpt), with its file."""
    found = []
    for path in DOC_FILES:
        for block in re.findall(r"^ *```sql\n(.*?)^ *```", path.read_text(encoding="utf-8"), flags=re.DOTALL | re.M):
            if re.search(r"^\s*(select|with)\b", block, flags=re.M):
                found.append((path.name, block))
    return found


def test_the_docs_carry_their_example_queries() -> None:
    per_file = {name for name, _ in example_queries()}
    assert len(example_queries()) >= 9 and {"guide.md", "reference.md"} <= per_file


@pytest.mark.parametrize("doc,query", example_queries(), ids=lambda v: v if v.endswith(".md") else "")
def test_every_example_query_in_the_docs_runs(doc: str, query: str) -> None:
    """Each example query binds against the warehouse's models (every table and column it names exists)."""
    with connection(None) as con:
        create_raw_tables(con)
        seeds.load_seeds(con)
        models.build_models(con)
        con.execute(query).fetchall()


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
