"""Values from pages stay values: no link or HTML in the Markdown, no control sequence on the terminal.

The warehouse is `hostile_names`: one published week whose units are named like Markdown
links, HTML and an OSC 52 "write the clipboard" sequence, read from a file named the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hostile_names import (
    ESC,
    ESCAPE_NAME,
    FILE_NAME,
    HTML_NAME,
    LINK_NAME,
    OSC52,
    QUARANTINED_NAME,
    assert_inert,
    build_hostile_warehouse,
    rendered,
)
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.report_context import render_markdown
from flows.reporting.run_summary import build_summary_markdown, read_run_report
from flows.reporting.weekly_report import read_weekly_report
from flows.text.escape import markdown, terminal, visible
from flows.warehouse.db import connection
from flows.warehouse.readers.status import LeftOutBulletin
from flows.warehouse.summary import ProblemFile, RunSummary

runner = CliRunner()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_warehouse(tmp_path_factory.mktemp("escaping") / "wh" / "bulletins.duckdb")


def assert_tables_keep_their_shape(text: str) -> None:
    """Each Markdown table's rows have as many cells as its header: no value broke out of its cell."""
    tables: list[list[int]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            tables[-1].append(len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)))
        elif tables[-1]:
            tables.append([])
    shapes = [set(t) for t in tables if t]
    assert shapes and all(len(s) == 1 for s in shapes), shapes


# --------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    "value",
    [
        LINK_NAME,
        HTML_NAME,
        "<img src=x onerror=alert(1)>",
        "![x](http://evil/i.png)",
        "<http://evil>",
        "`code` *em* _em_ ~~s~~ a|b # h",
        "[a]\n[a]: http://evil",  # a reference definition on its own line
        ESCAPE_NAME,
    ],
)
def test_markdown_renders_a_value_as_itself(value: str) -> None:
    html = rendered(f"| x |\n| --- |\n| {markdown(value)} |\n\n{markdown(value)}\n")
    assert "<a " not in html and "<img" not in html and "<code" not in html and "<em" not in html
    assert "<del" not in html and "<h1" not in html
    shown = visible(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert shown in html  # verbatim, as text


def test_terminal_escapes_every_control_sequence() -> None:
    for char in [*map(chr, range(0x20)), "\x7f", "\x9b", "\u202e", "\u2028"]:
        assert terminal(f"a{char}b").isprintable(), repr(char)
    assert terminal(f"file{OSC52}.txt") == "file\\x1b]52;c;ZXZpbA==\\x07.txt"
    assert terminal("驻马店 2021-01-18_page.txt") == "驻马店 2021-01-18_page.txt"


# --------------------------------------------------------------------------- Markdown


def test_weekly_report_markdown_shows_hostile_names_as_text(hostile: Path) -> None:
    with connection(hostile, read_only=True) as con:
        text = render_markdown(read_weekly_report(con, "驻马店"))
    assert_inert(text)
    html = rendered(text)
    assert "[click](http://evil)" in html  # the name, shown as it was printed
    assert "&lt;img/src=x/onerror=alert(1)&gt;" in html
    assert "[click](javascript:alert(1))" in html  # the file name, in the sources
    assert_tables_keep_their_shape(text)


def test_run_summary_markdown_shows_hostile_values_as_text(hostile: Path) -> None:
    summary = RunSummary(
        warnings=[f"weekly report not written: {LINK_NAME}", "notification x not sent to https://h/s?key=SECRET1"],
        problems=[
            ProblemFile("quarantined", FILE_NAME, ["empty"]),
            ProblemFile("partial", HTML_NAME, ["units_sum_to_overdue"]),
        ],
        reports=[f"/wh/reports/report-{LINK_NAME}.html"],
    )
    _, text = read_run_report(hostile, summary)
    assert_inert(text)
    assert "SECRET1" not in text
    assert "key=\\*\\*\\*" in text


def test_left_out_bulletins_with_hostile_paths_stay_in_their_cells() -> None:
    left_out = [
        LeftOutBulletin(None, None, None, f"a|{LINK_NAME}<b>.txt", [f"failed check: {HTML_NAME}"], city=f"城{OSC52}")
    ]
    text = build_summary_markdown("x", {"loaded": 1}, left_out, [])
    assert_inert(text)
    assert_tables_keep_their_shape(text)


# --------------------------------------------------------------------------- the terminal


def test_status_prints_no_control_character(hostile: Path) -> None:
    result = runner.invoke(app, ["status", "--warehouse", str(hostile.parent)])
    assert result.exit_code == 0, result.output  # the 2021 feed is stale: a warning, not a failure
    assert ESC not in result.output and "\x07" not in result.output
    assert terminal(QUARANTINED_NAME) in result.output


def test_query_table_prints_no_control_character_and_no_markup(hostile: Path) -> None:
    sql = (
        "select unit_name, '[link=http://evil]click[/link]' as markup, '[bold red]x' as style "
        "from marts.unit_week_performance order by unit_name"
    )
    result = runner.invoke(app, ["query", sql, "--warehouse", str(hostile.parent)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert ESC not in result.output and "\x07" not in result.output
    assert "单位\\x1b]52;c;ZXZpbA==\\x07" in result.output
    assert "[link=http://evil]click[/link]" in result.output and "[bold red]x" in result.output


def test_query_json_keeps_the_data_and_prints_no_control_character(hostile: Path) -> None:
    sql = "select unit_name, chr(155) || '2J' as c1 from marts.unit_week_performance where unit_name like '单位%'"
    result = runner.invoke(app, ["query", sql, "-f", "json", "--warehouse", str(hostile.parent)])
    assert result.exit_code == 0, result.output
    assert all(ch.isprintable() or ch in "\n " for ch in result.stdout)
    assert json.loads(result.stdout) == [{"unit_name": ESCAPE_NAME, "c1": "\x9b2J"}]


def test_an_error_line_shows_a_file_name_escaped(tmp_path: Path) -> None:
    sql_file = tmp_path / f"q{OSC52}.sql"
    result = runner.invoke(app, ["query", "--file", str(sql_file), "--warehouse", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot read ") and ESC not in result.output
    assert "q\\x1b]52;c;ZXZpbA==\\x07.sql" in result.output


def test_prefect_console_lines_show_control_characters_escaped() -> None:
    """`bulletins run --verbose` and `bulletins serve` print Prefect's log lines: a logged file name is escaped."""
    import logging

    from flows.orchestration.console_logging import TracebackFreeFormatter

    message = f"quarantined {QUARANTINED_NAME}: empty\nsecond line"
    record = logging.LogRecord("prefect.flow_runs", logging.WARNING, __file__, 1, message, (), None)
    line = TracebackFreeFormatter("%(message)s").format(record)
    assert line == f"quarantined {terminal(QUARANTINED_NAME)}: empty\nsecond line"
