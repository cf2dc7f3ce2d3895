"""The package's folders are its layers, and imports only point down.

text           escaping for Markdown and terminals, secrets redacted (stdlib only; any layer)
parsing        pure: bytes -> records (stdlib only)
inputs         web pages, Word, Excel, PDF -> the page text the parser reads (lxml, python-docx, openpyxl, pdfplumber)
warehouse      inbox, lake, DuckDB load, SQL models, readers (DuckDB, pyarrow; no Prefect)
reporting      text and pages for people, from the readers (no Prefect)
orchestration  the Prefect flow, serving, artifacts: the only Prefect importers
cli            the `bulletins` command on top
devtools       synthetic pages and benchmarks, apart from the product
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR

FLOWS = PROJECT_DIR / "flows"

# layer -> the first-party layers it may import (itself included)
ALLOWED_FIRST_PARTY: dict[str, set[str]] = {
    "text": {"text"},
    "settings": {"text"},
    "parsing": {"parsing"},
    "inputs": {"parsing", "inputs", "text"},
    "warehouse": {"parsing", "inputs", "warehouse", "settings", "text"},
    "reporting": {"parsing", "inputs", "warehouse", "reporting", "settings", "text"},
    "orchestration": {"parsing", "inputs", "warehouse", "reporting", "orchestration", "settings", "text"},
    "cli": {"parsing", "inputs", "warehouse", "reporting", "orchestration", "settings", "cli", "text"},
    "devtools": {"parsing", "inputs", "warehouse", "reporting", "orchestration", "settings", "devtools", "text"},
    "__main__": {"cli"},
    "__init__": set(),
}
# layer -> third-party packages it must not import
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "parsing": {"prefect", "duckdb", "pyarrow", "typer", "rich"},
    "inputs": {"prefect", "duckdb", "pyarrow", "typer", "rich"},
    "warehouse": {"prefect", "typer", "rich"},
    "reporting": {"prefect", "typer"},
    "settings": {"prefect", "duckdb", "pyarrow"},
    "cli": {"prefect"},
    "devtools": {"prefect"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(FLOWS)
    return rel.parts[0].removesuffix(".py")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, at any depth (lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


SOURCES = sorted(FLOWS.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FLOWS)))
def test_imports_point_down_the_layers(path: Path) -> None:
    layer = layer_of(path)
    allowed = ALLOWED_FIRST_PARTY[layer]
    forbidden = FORBIDDEN_THIRD_PARTY.get(layer, set())
    wrong = []
    for line, module in imported_modules(path):
        top, _, rest = module.partition(".")
        if top == "flows":
            target = rest.split(".")[0] if rest else "__init__"
            if target not in allowed:
                wrong.append(f"line {line}: {module} (layer {target!r})")
        elif top in forbidden:
            wrong.append(f"line {line}: {module}")
    assert wrong == [], f"{path.relative_to(PROJECT_DIR)} ({layer}) imports what its layer may not: {wrong}"


def test_every_module_belongs_to_a_known_layer() -> None:
    assert {layer_of(p) for p in SOURCES} <= ALLOWED_FIRST_PARTY.keys()


@pytest.mark.parametrize("folder", ["parsing", "text"])
def test_the_parser_and_the_text_helpers_import_only_the_standard_library(folder: str) -> None:
    third_party = set()
    for path in (FLOWS / folder).rglob("*.py"):
        for _, module in imported_modules(path):
            top = module.split(".")[0]
            if top != "flows" and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add((path.name, module))
    assert third_party == set()


def test_the_parser_records_and_the_lake_schemas_name_the_same_columns() -> None:
    """The parser's records and the lake's Arrow schemas stay in step (lineage and derived columns aside)."""
    import dataclasses

    from flows.parsing.records import Article, Bulletin, BulletinUnitRow, ScoreRow
    from flows.warehouse.schema import ARTICLES, BULLETIN_SCORES, BULLETIN_UNITS, BULLETINS, DERIVED_COLUMNS

    lineage = {"file_sha256", "batch_id", "bulletin_id", "issue_date"}
    pairs = [
        (Article, ARTICLES, {"issue_date"}, "articles"),
        (Bulletin, BULLETINS, {"units", "scores"}, "bulletins"),
        (BulletinUnitRow, BULLETIN_UNITS, set(), "bulletin_units"),
        (ScoreRow, BULLETIN_SCORES, set(), "bulletin_scores"),
    ]
    for record, schema, not_stored, table in pairs:
        # a derived column may be in the record too (city: the format sets it, old parts derive it)
        derived = set(DERIVED_COLUMNS.get(table, {}))
        fields = {f.name for f in dataclasses.fields(record)} - not_stored - derived
        columns = set(schema.names) - lineage - derived
        assert fields == columns, (
            f"{record.__name__}: only in the record {fields - columns}, only in the lake {columns - fields}"
        )


def test_every_package_under_flows_is_installed() -> None:
    """pyproject.toml lists the packages (sql/ ships as flows/sql): a new folder must be listed."""
    import tomllib

    from flows.settings import PROJECT_DIR

    config = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(PROJECT_DIR).parts) for init in (PROJECT_DIR / "flows").rglob("__init__.py")
    }
    assert set(config["packages"]) == on_disk | {"flows.sql"}
    assert config["package-dir"] == {"flows.sql": "sql"}


def test_a_pool_worker_imports_neither_duckdb_nor_the_flow() -> None:
    """What a process-pool worker imports to run the parse task (its start-up cost)."""
    import subprocess
    import sys

    code = (
        "import sys, flows.orchestration.parse_task; "
        "print(sorted(m for m in ('duckdb', 'flows.orchestration.flow', 'flows.reporting') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_prefect_local_settings_import_no_prefect() -> None:
    """The CLI and the tests' conftest set Prefect's settings from here before Prefect is imported."""
    import subprocess
    import sys

    code = "import sys, flows.orchestration.prefect_local; print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
