"""The reliability suite: each README promise tried as a hostile user would.

Two scales, one code path:

- `make test` runs the fast subset (`BULLETINS_RELIABILITY` unset or `fast`): a few kills,
  a few dozen hostile pages; every case still runs.
- `make reliability` runs it in full (`BULLETINS_RELIABILITY=full`, at most 15 min) and
  writes the figures each test records to `BULLETINS_RELIABILITY_OUT` (JSON lines), from
  which `python -m flows.devtools.reliability_report` writes RELIABILITY.md.

A test records what it tried and what it found with `reliability.record(...)`; it also
asserts, so a broken promise fails the suite whatever the scale.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("BULLETINS_RELIABILITY", "fast") == "full"
OUT = os.environ.get("BULLETINS_RELIABILITY_OUT")


@dataclass(frozen=True)
class Figure:
    """One line of RELIABILITY.md: a case of issue 7, what was tried, what was found."""

    case: str  # e.g. "1 one page blocks every run"
    tried: str  # e.g. "bulletin printing one unit under two spellings"
    found: str  # e.g. "partial: units_unique_after_aliases; later runs 3/3 ok"
    ok: bool
    test: str = ""
    seconds: float = 0.0


class Reliability:
    """Scale of the current run and the figures recorder."""

    full = FULL

    def __init__(self, test: str) -> None:
        self.test = test
        self.started = time.monotonic()

    @staticmethod
    def scale(fast: int, full: int) -> int:
        """How many of something to try: `fast` inside `make test`, `full` in `make reliability`."""
        return full if FULL else fast

    def record(self, case: str, tried: str, found: str, ok: bool) -> None:
        """Keep one figure for RELIABILITY.md (written only when BULLETINS_RELIABILITY_OUT is set)."""
        if not OUT:
            return
        figure = Figure(case, tried, found, ok, self.test, round(time.monotonic() - self.started, 1))
        path = Path(OUT)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(figure), ensure_ascii=False) + "\n")


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Reliability]:
    yield Reliability(request.node.nodeid)


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in item.nodeid:
            item.add_marker(pytest.mark.reliability)
