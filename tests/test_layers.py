"""The package's folders are its layers, and imports only point down.

The rules are import-linter contracts in .importlinter (where each layer is described);
`make lint` runs `lint-imports`, and so do the tests here, on the tree and on a copy with
planted imports that each contract must catch. What no contract can say is checked
below: parsing and text import only the standard library, and every package is listed
in pyproject.toml.
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.settings import PROJECT_DIR

FLOWS = PROJECT_DIR / "flows"


def _read_config(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(path, encoding="utf-8")
    return config


CONTRACTS = PROJECT_DIR / ".importlinter"
CONTRACT_IDS = [
    section.removeprefix("importlinter:contract:")
    for section in _read_config(CONTRACTS).sections()
    if section.startswith("importlinter:contract:")
]

# Run in a fresh process from `root` (so `flows` is root's): {contract id: kept}. Each
# contract is checked alone, through import-linter's public entry point (its exit status).
_CHECK_CONTRACTS = """
import contextlib, io, json, sys
from importlinter.cli import lint_imports
kept = {}
with contextlib.redirect_stdout(io.StringIO()):
    for contract in sys.argv[1:]:
        kept[contract] = lint_imports(limit_to_contracts=(contract,), no_cache=True, no_logo=True) == 0
print(json.dumps(kept))
"""


def contracts_kept(root: Path) -> dict[str, bool]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", _CHECK_CONTRACTS, *CONTRACT_IDS], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, at any depth (lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_the_import_contracts_hold() -> None:
    """Every contract in .importlinter is kept by the tree (`lint-imports` says which import breaks one)."""
    assert CONTRACT_IDS, "no import contracts declared"
    assert contracts_kept(PROJECT_DIR) == dict.fromkeys(CONTRACT_IDS, True)


# One planted import per contract, each breaking that contract alone: (file, line).
PLANTED = {
    "layers": ("warehouse/statuses.py", "from flows.reporting import labels"),
    "entry-point": ("__main__.py", "import flows.warehouse.db"),
    "package-init": ("__init__.py", "from flows import settings"),
    "package-root": ("reporting/labels.py", "import flows"),
    "settings": ("settings/resolution.py", "from flows.parsing import dates"),
    "pure-parsing": ("inputs/page.py", "import pyarrow"),
    "pure-warehouse": ("warehouse/holds.py", "from prefect import task"),
    "pure-reporting": ("reporting/charts.py", "import typer"),
    "prefect-in-orchestration": ("devtools/bench.py", "import prefect"),
    "dask-in-orchestration": ("warehouse/ingest.py", "import distributed"),
}


def _copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(FLOWS, tmp_path / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONTRACTS, tmp_path / CONTRACTS.name)
    return tmp_path


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    """Each contract catches what it forbids: a copy of the package with one bad import per contract."""
    assert sorted(PLANTED) == sorted(CONTRACT_IDS), "plant an import for every contract"
    root = _copy_of_the_package(tmp_path)
    for file, line in PLANTED.values():
        path = root / "flows" / file
        path.write_text(
            path.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n    {line}\n", encoding="utf-8"
        )
    assert contracts_kept(root) == dict.fromkeys(CONTRACT_IDS, False)


def test_every_module_belongs_to_a_known_layer(tmp_path: Path) -> None:
    """A new module directly under flows/ must be given a layer (the layers contract is exhaustive)."""
    root = _copy_of_the_package(tmp_path)
    (root / "flows" / "helpers.py").write_text("X = 1\n", encoding="utf-8")
    assert contracts_kept(root)["layers"] is False


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


# What pip writes as the `bulletins` script, for an entry point `module:main`.
CONSOLE_SCRIPT = """\
import sys
from {module} import main

def heavy_modules_loaded():
    return sorted(m for m in ("flows.cli", "typer", "duckdb") if m in sys.modules)

if __name__ == "__main__":
    import multiprocessing
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print(pool.apply(heavy_modules_loaded))
"""


@pytest.mark.parametrize(("module", "loaded"), [("flows.launcher", "[]"), ("flows.cli", "['flows.cli', 'typer']")])
def test_a_spawned_pool_worker_does_not_import_the_command_line(tmp_path: Path, module: str, loaded: str) -> None:
    """A spawned worker re-imports the script that started its parent, and pip's script
    imports its entry point's module at the top: the entry point must be `flows.launcher`,
    which imports the CLI only when called (with `flows.cli`, the control case, every parse
    worker would import typer and the commands before its first task)."""
    import tomllib

    scripts = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["bulletins"] == "flows.launcher:main"
    script = tmp_path / "bulletins"
    script.write_text(CONSOLE_SCRIPT.format(module=module), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, env=env, timeout=120
    )
    assert result.stdout.strip() == loaded


def test_prefect_local_settings_import_no_prefect() -> None:
    """The CLI and the tests' conftest set Prefect's settings from here before Prefect is imported."""
    import subprocess
    import sys

    code = "import sys, flows.orchestration.prefect_local; print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
