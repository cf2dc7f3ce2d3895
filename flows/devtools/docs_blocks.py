"""The README's table docs, generated from where each fact lives: never copied by hand.

`ingest.files` comes from the lake's Arrow schema (`flows/warehouse/schema.py`), every
core and mart relation from its SQL header (`sql/core/`, `sql/marts/`: description,
grain, unique key, one line per column). The block sits between two markers in
README.md; `make test` fails when it differs from what this module generates.

    python -m flows.devtools.readme_tables           # rewrite the block in README.md
    python -m flows.devtools.readme_tables --check   # exit 1 when README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from flows.settings import PROJECT_DIR
from flows.warehouse.models import DOCUMENTED_LAYERS, discover_models
from flows.warehouse.schema import FILES, TABLE_COMMENTS

README = PROJECT_DIR / "README.md"
BEGIN = (
    "<!-- BEGIN generated tables: `python -m flows.devtools.readme_tables` writes this block "
    "from the SQL headers and flows/warehouse/schema.py; edit those, not this. -->"
)
END = "<!-- END generated tables -->"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, on one line.

    >>> _cell("file_sha256[:16] || '-' || seq")
    "file_sha256[:16] \\\\|\\\\| '-' \\\\|\\\\| seq"
    """
    return " ".join(text.replace("|", "\\|").split())


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def table_section(relation: str, about: list[str], columns: Mapping[str, str]) -> str:
    """One relation: a heading, what a row is, and a column | meaning table."""
    lines = [f"### `{relation}`", "", " ".join(_sentence(a) for a in about if a), ""]
    lines += ["| column | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in columns.items()]
    return "\n".join(lines)


def tables_markdown(sql_dir: Path | None = None) -> str:
    """Every documented relation, `ingest.files` first, then core and marts in build order."""
    files_columns = {field.name: field.metadata[b"comment"].decode() for field in FILES}
    sections = [table_section("ingest.files", [TABLE_COMMENTS["files"]], files_columns)]
    for model in discover_models(sql_dir):
        if model.layer not in DOCUMENTED_LAYERS:
            continue
        about = [model.description or "", f"grain: {model.grain}" if model.grain else ""]
        if model.unique_key:
            about.append(f"unique key: {', '.join(f'`{c}`' for c in model.unique_key)}")
        sections.append(table_section(model.relation, about, model.columns))
    return "\n\n".join(sections)


def render(readme_text: str, tables: str) -> str:
    """The README with the generated block replaced (the markers must be there, once each)."""
    if readme_text.count(BEGIN) != 1 or readme_text.count(END) != 1:
        raise ValueError(f"{README.name} must hold the markers once each:\n{BEGIN}\n{END}")
    head, rest = readme_text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n\n{tables}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md is out of date")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = render(current, tables_markdown())
    if args.check:
        if wanted != current:
            print("README.md's table docs are out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
        print(f"rewrote the table docs in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
