"""The docs' generated blocks, written from where each fact lives: never copied by hand.

- the table docs (docs/tables.md): `ingest.files` from the lake's Arrow schema
  (`flows/warehouse/schema.py`), every core and mart relation from its SQL header
  (`sql/core/`, `sql/marts/`: description, grain, unique key, one line per column);
- the settings reference (docs/reference.md): every BULLETINS_* variable as declared in
  `flows/settings/variables.py` (`VARIABLES`, the declarations `Settings.resolve` reads) and the fault
  injection's two (`flows/warehouse/faults.py`, `TEST_HOOKS`);
- the CLI reference (docs/reference.md): every `bulletins` command and option, from the
  typer app in `flows/cli.py` (what `--help` prints).

Each block sits between two markers in its file; `make test` fails when one differs from
what this module generates (tests/test_docs.py).

    python -m flows.devtools.docs_blocks           # rewrite the blocks (`make docs`)
    python -m flows.devtools.docs_blocks --check   # exit 1 when a block is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flows.settings import PROJECT_DIR, VARIABLES, Number, Text
from flows.warehouse.faults import TEST_HOOKS
from flows.warehouse.models import DOCUMENTED_LAYERS, discover_models
from flows.warehouse.schema import FILES, TABLE_COMMENTS

DOCS_DIR = PROJECT_DIR / "docs"


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


def _default(variable: Number[int] | Number[float] | Text) -> str:
    """A variable's default as the table shows it.

    >>> _default(Number("BULLETINS_X", 120.0, 0.0, "x"))
    '`120`'
    >>> _default(Text("BULLETINS_Y", None, "y", "y"))
    'unset'
    """
    if isinstance(variable, Number):
        if variable.default_note:
            return variable.default_note
        return f"`{variable.default:g}`" if isinstance(variable.default, float) else f"`{variable.default}`"
    return "unset" if variable.default is None else f"`{variable.default}`"


def settings_markdown(
    variables: tuple[Number[int] | Number[float] | Text, ...] = VARIABLES, hooks: tuple[Text, ...] = TEST_HOOKS
) -> str:
    """Every BULLETINS_* variable: name, default, what a usable value is, what it sets; then the test hooks."""

    def rows(group: tuple[Number[int] | Number[float] | Text, ...]) -> list[str]:
        lines = ["| variable | default | takes | what it sets |", "|---|---|---|---|"]
        for v in group:
            takes = v.takes() if isinstance(v, Number) else v.takes
            lines.append(f"| `{v.name}` | {_default(v)} | {_cell(takes)} | {_cell(v.meaning)} |")
        return lines

    lines = rows(variables)
    lines += ["", "Read by the reliability suite's fault injection only (`flows/warehouse/faults.py`):", ""]
    lines += rows(hooks)
    return "\n".join(lines)


def _option_default(default: object, is_flag: bool) -> str:
    if is_flag:
        return "on" if default else "off"
    if default is None or default == ():
        return ""
    return f"`{default}`"


def _argument_usage(name: str, many: bool, required: bool) -> str:
    """An argument as a usage line shows it.

    >>> _argument_usage("sql", False, False), _argument_usage("files", True, True)
    ('[SQL]', 'FILES...')
    """
    text = f"{name.upper()}{'...' if many else ''}"
    return text if required else f"[{text}]"


def cli_markdown() -> str:
    """Every `bulletins` command: what it does, its usage line, and its arguments and options."""
    import typer.main

    from flows.cli import app

    group = typer.main.get_command(app)
    sections = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]  # a click Group
        if command.hidden:
            continue
        about = (command.help or "").strip().split("\n\n")[0]
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        usage = " ".join(
            [f"bulletins {name}", "[OPTIONS]"]
            + [_argument_usage(p.name or "", p.nargs == -1, p.required) for p in arguments]
        )
        lines = [f"### `bulletins {name}`", "", _cell(about), "", f"    {usage}", ""]
        lines += ["| argument or option | default | meaning |", "|---|---|---|"]
        for p in command.params:
            if p.param_type_name == "argument":
                label = f"`{(p.name or '').upper()}`" + ("" if p.required else " (optional)")
            else:
                names = [*p.opts, *p.secondary_opts]
                label = ", ".join(f"`{n}`" for n in names) + (" (required)" if p.required else "")
                if getattr(p, "multiple", False):
                    label += " (repeatable)"
            default = _option_default(p.default, bool(getattr(p, "is_flag", False)))
            lines.append(f"| {label} | {default} | {_cell(getattr(p, 'help', None) or '')} |")
        if command.context_settings.get("allow_extra_args"):
            lines.append("| ... | | the rest of the command line goes to the program it starts |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


@dataclass(frozen=True)
class Block:
    """A generated block: the file it lives in, its markers, and how it is made."""

    name: str
    path: Path
    sources: str  # what it is made from, named in its first marker
    make: Callable[[], str]

    @property
    def begin(self) -> str:
        return (
            f"<!-- BEGIN generated {self.name}: `python -m flows.devtools.docs_blocks` writes this block "
            f"from {self.sources}; edit those, not this. -->"
        )

    @property
    def end(self) -> str:
        return f"<!-- END generated {self.name} -->"


BLOCKS = (
    Block("tables", DOCS_DIR / "tables.md", "the SQL headers and flows/warehouse/schema.py", tables_markdown),
    Block("settings", DOCS_DIR / "reference.md", "the declarations in flows/settings/variables.py", settings_markdown),
    Block("cli", DOCS_DIR / "reference.md", "the typer app in flows/cli.py", cli_markdown),
)


def render(text: str, block: Block, content: str) -> str:
    """`text` with `block`'s generated part replaced (its markers must be there, once each)."""
    if text.count(block.begin) != 1 or text.count(block.end) != 1:
        raise ValueError(f"{block.path.name} must hold the markers once each:\n{block.begin}\n{block.end}")
    head, rest = text.split(block.begin)
    _, tail = rest.split(block.end)
    return f"{head}{block.begin}\n\n{content}\n\n{block.end}{tail}"


def wanted(blocks: tuple[Block, ...] = BLOCKS) -> dict[Path, tuple[str, str]]:
    """Each file's (current, generated) text."""
    texts: dict[Path, tuple[str, str]] = {}
    for block in blocks:
        current, new = texts.get(block.path, (block.path.read_text(encoding="utf-8"),) * 2)
        texts[block.path] = (current, render(new, block, block.make()))
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated block is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, (current, new) in wanted().items():
        if new == current:
            continue
        if args.check:
            stale.append(path.relative_to(PROJECT_DIR))
        else:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote the generated docs in {path}")
    if stale:
        print(f"generated docs out of date in {', '.join(map(str, stale))}: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
