"""RELIABILITY.md is rendered from the recorded figures, failures shown, cases in order."""

from __future__ import annotations

import json
from pathlib import Path

from flows.devtools.reliability_report import main, reliability_markdown


def figure(case: str, ok: bool = True) -> dict:
    return {"case": case, "tried": "t|x", "found": "f", "ok": ok, "test": "t", "seconds": 1.5}


def test_render_orders_cases_by_number_and_marks_failures() -> None:
    text = reliability_markdown([figure("10 errors"), figure("2 names", ok=False)], "now", "here")
    rows = [line for line in text.splitlines() if line.startswith("| 2") or line.startswith("| 10")]
    assert rows == ["| 2 names | t\\|x | f | **NO** | 1.5 |", "| 10 errors | t\\|x | f | yes | 1.5 |"]
    assert "**1 of 2 figures as promised.**" in text


def test_main_fails_when_a_figure_failed(tmp_path: Path) -> None:
    source = tmp_path / "f.jsonl"
    source.write_text("\n".join(json.dumps(f) for f in [figure("1 a"), figure("1 b", ok=False)]), encoding="utf-8")
    assert main([str(source), str(tmp_path / "R.md")]) == 1
    assert (tmp_path / "R.md").read_text(encoding="utf-8").startswith("# Reliability")
