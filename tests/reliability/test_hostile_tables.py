"""Hostile tables and files for issue 17's page tables, recognition and `explain` (items 3, 5, 7).

Each case: what a page can hold that the table finder, the lake's page_tables part or
`bulletins explain` must survive, with a bound on the time it takes.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from flows.parsing import ParsedPage, parse_file
from flows.reporting.explain import explain, render_text
from flows.warehouse import lake
from flows.warehouse.ingest import page_rows

# Generous bounds for a shared 2-core machine: linear work on these pages takes a few seconds.
PARSE_BOUND_S = 30.0


def _parse(text: str) -> tuple[ParsedPage, float]:
    started = time.monotonic()
    page = parse_file("2020-12-23_page.txt", text.encode())
    assert isinstance(page, ParsedPage)
    return page, time.monotonic() - started


def test_a_page_of_50000_pipe_rows(reliability) -> None:
    rows = 50_000
    text = "城区 | 派遣数 | 结案数 |\n" + "".join(f"区{i % 100} | {i} | {i} |\n" for i in range(rows))
    page, seconds = _parse(text)
    (table,) = page.tables
    cells = page_rows("a" * 64, "b1", page)["page_tables"]
    ok = len(table.rows) == rows and len(cells) == 3 * rows and seconds < PARSE_BOUND_S
    reliability.record(
        "17 a page of 50 000 pipe rows",
        f"{rows} rows of 3 cells",
        f"1 table, {len(cells)} cells, parsed in {seconds:.1f}s",
        ok,
    )
    assert ok


def test_200000_one_word_lines_and_a_run_of_names_without_its_numbers(reliability) -> None:
    """Column lists look ahead from a run of names: each run is measured once, so the page stays linear."""
    text = "\n".join(["甲乙单位"] * 200_000 + ["5"] * 199_999)
    page, seconds = _parse(text)
    ok = page.tables == () and seconds < PARSE_BOUND_S
    reliability.record(
        "17 200 000 name lines, one number short",
        "a run of names one longer than the numbers after it (not a table)",
        f"{len(page.tables)} tables, parsed in {seconds:.1f}s",
        ok,
    )
    assert ok


def test_numbers_at_the_edge_of_the_lake_column(tmp_path: Path, reliability) -> None:
    """number is decimal(18, 6): the largest readable cell fits, a longer one is text only."""
    text = (
        "部门 | 派遣数 |\n甲 | 999999999999.999999 |\n乙 | -999999999999.999999 |\n"
        f"丙 | {'9' * 5000} |\n丁 | 1e308 |\n戊 | NaN |\n"
    )
    page, _ = _parse(text)
    cells = page_rows("a" * 64, "b1", page)["page_tables"]
    lake.write_part(tmp_path, "page_tables", "b1", cells)
    numbers = lake.read_batch(tmp_path, "page_tables", "b1").column("number").to_pylist()
    expected = [None, Decimal("999999999999.999999"), None, Decimal("-999999999999.999999")] + [None] * 6
    ok = numbers == expected
    reliability.record(
        "17 numbers at the edge of page_tables.number",
        "±999999999999.999999, 5000 digits, 1e308, NaN",
        f"stored {numbers}"[:200],
        ok,
    )
    assert ok


def test_explain_never_raises_on_hostile_files(reliability) -> None:
    files = {
        "empty.txt": b"",
        "binary.txt": b"\x00\xff" * 1000,
        "zip.zip": b"PK\x03\x04" + b"\x00" * 100,
        "pdf.pdf": b"%PDF-1.7\n" + b"\xff" * 100,
        "html.html": b"<html><body><table><tr><td>" * 2000,
        "one_long_line.txt": ("部门 | " * 100_000).encode(),
        "controls.txt": "部门 | 派遣数 |\n\x1b[2J甲 | 4 |\n乙\u202e | 5 |\n".encode(),
    }
    results = {}
    for name, data in files.items():
        out = explain(name, data)
        text = render_text(out)
        results[name] = out["status"]
        assert text.startswith("文件 file:") and out["status"]
    ok = results["empty.txt"] == "quarantined" and results["binary.txt"] == "quarantined"
    reliability.record(
        "17 explain on hostile files",
        ", ".join(files),
        ", ".join(f"{k}: {v}" for k, v in results.items()),
        ok,
    )
    assert ok
