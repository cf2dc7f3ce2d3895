"""No two functions or classes with one name (issue 20, "names that explain"): a public
name defined at the top of two modules under flows/ means two things, or one thing twice.

The exceptions say why they share a name: each is one job done the same way in several
places, never two meanings.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from flows.settings import PROJECT_DIR

FLOWS = PROJECT_DIR / "flows"

SHARED_ON_PURPOSE = {
    # the entry point of each `python -m` module and script
    "main": "each script's entry point",
    # a format module's jobs, named alike in each (flows/parsing/formats/__init__.py)
    "is_title": "a format module's title test",
    "period": "a format module's period reader",
    "failed_checks": "a format module's checks",
}


def top_level_names() -> dict[str, list[str]]:
    """Each public function or class defined at the top of a module under flows/, with its modules."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(FLOWS.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if is_def and not node.name.startswith("_"):
                found[node.name].append(str(path.relative_to(PROJECT_DIR)))
    return found


def test_no_public_name_is_defined_in_two_modules() -> None:
    clashes = {name: where for name, where in top_level_names().items() if len(where) > 1}
    assert {name: where for name, where in clashes.items() if name not in SHARED_ON_PURPOSE} == {}


def test_each_name_shared_on_purpose_is_still_shared() -> None:
    """An exception no longer needed goes (it would let a real clash in)."""
    names = top_level_names()
    assert [name for name in SHARED_ON_PURPOSE if len(names.get(name, [])) < 2] == []
