"""Issue 7, item 12: every CLI failure is one line on stderr that says what to do.

No Python or Prefect traceback reaches the terminal; the exit code is non-zero; the
line names what happened and the way out (`bulletins rebuild`, wait for the run, ...).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ops_helpers import (
    Holder,
    bulletins,
    copy_warehouse,
    flip_bytes,
    garbage,
    make_inbox,
    table_block_offsets,
    truncate,
)
from typer.testing import CliRunner

from flows.cli import app
from flows.orchestration.flow import bulletin_etl

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-errors")
    inbox = make_inbox(root / "inbox")
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(root / "wh"))
    assert summary.files_loaded == 6
    return inbox, root / "wh"


def one_line_error(output: str) -> str:
    """The single `error: ...` line, failing the test when there is anything else."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line:\n{output}"
    assert "Traceback" not in output
    return lines[0]


def record(reliability, tried: str, exit_code: int, line: str, ok: bool) -> None:
    reliability.record("12 every CLI failure is one line", tried, f"exit {exit_code}: {line[:110]}", ok)


@pytest.mark.parametrize("sql", ["", "   ", ";", "-- nothing but a comment"])
def test_query_without_sql(loaded: tuple[Path, Path], sql: str, reliability) -> None:
    _, wh = loaded
    result = runner.invoke(app, ["query", "--warehouse", str(wh), "--", sql])
    line = one_line_error(result.output)
    record(reliability, f"query {sql!r}", result.exit_code, line, result.exit_code != 0)
    assert result.exit_code != 0
    assert "no SQL" in line


def test_query_and_status_while_a_run_writes(loaded: tuple[Path, Path], tmp_path: Path, reliability) -> None:
    """A run holds the file for writing: readers wait a bounded time, then say who holds it."""
    wh = copy_warehouse(loaded[1], tmp_path / "wh")
    holder = Holder(wh / "bulletins.duckdb", tmp_path / "release")
    try:
        for command in (["query", "select 1"], ["status"]):
            result = runner.invoke(
                app, [*command, "--warehouse", str(wh)], env={"BULLETINS_LOCK_TIMEOUT_S": "1"}, catch_exceptions=False
            )
            line = one_line_error(result.output)
            ok = result.exit_code == 1 and f"PID {holder.pid}" in line and "try again" in line
            record(reliability, f"{command[0]} while another process writes", result.exit_code, line, ok)
            assert ok, line
    finally:
        holder.stop()


DAMAGES = {
    "random bytes": garbage,
    "cut to a third": truncate,
    "bit rot in ingest.files": lambda db: flip_bytes(db, table_block_offsets(db, "ingest.files")[0] + 200),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_query_and_status_on_a_damaged_file(loaded: tuple[Path, Path], tmp_path: Path, damage: str, reliability):
    """`status` reads the whole file and says it is damaged; `query` answers right or says so."""
    wh = copy_warehouse(loaded[1], tmp_path / "wh")
    sql = "select count(*) as n, max(path) as last_path from ingest.files"
    expected = runner.invoke(app, ["query", sql, "-f", "csv", "--warehouse", str(wh)]).output
    DAMAGES[damage](wh / "bulletins.duckdb")
    result = runner.invoke(app, ["status", "--warehouse", str(wh)], catch_exceptions=False)
    line = one_line_error(result.output)
    ok = result.exit_code == 1 and "is damaged" in line and "`bulletins rebuild`" in line
    record(reliability, f"status on a warehouse file with {damage}", result.exit_code, line, ok)
    assert ok, line

    result = runner.invoke(app, ["query", sql, "-f", "csv", "--warehouse", str(wh)], catch_exceptions=False)
    if result.exit_code == 0:  # the blocks this query reads are intact: the same answer
        ok, line = result.output == expected, "answered from intact blocks: " + " ".join(result.output.split())
    else:
        line = one_line_error(result.output)
        ok = result.exit_code == 1 and "is damaged" in line and "`bulletins rebuild`" in line
    record(reliability, f"query on a warehouse file with {damage}", result.exit_code, line, ok)
    assert ok, line


def test_rebuild_with_a_mistyped_warehouse_creates_nothing(tmp_path: Path, reliability) -> None:
    typo = tmp_path / "warehuose"
    result = runner.invoke(app, ["rebuild", "--warehouse", str(typo)], catch_exceptions=False)
    line = one_line_error(result.output)
    ok = result.exit_code == 1 and not typo.exists() and "no lake" in line
    record(reliability, "rebuild --warehouse <a folder that does not exist>", result.exit_code, line, ok)
    assert ok, line


def test_an_unknown_option_is_one_line(loaded: tuple[Path, Path], reliability) -> None:
    result = runner.invoke(app, ["query", "--warehuose", "x", "select 1"])
    line = one_line_error(result.output)
    record(reliability, "query --warehuose (a typo)", result.exit_code, line, result.exit_code == 2)
    assert result.exit_code == 2 and "--warehuose" in line and "--help" in line


def test_a_failed_run_prints_one_line_and_keeps_the_traceback_in_prefect(
    loaded: tuple[Path, Path], tmp_path: Path, reliability
) -> None:
    """The terminal of a real `bulletins run` on a damaged warehouse: no traceback, the way out."""
    inbox, source = loaded
    wh = copy_warehouse(source, tmp_path / "wh")
    writer = wh / ".writer" / "bulletins.duckdb"  # the run's own file (README, "Snapshot reads")
    flip_bytes(writer, table_block_offsets(writer, "ingest.files")[0] + 200)
    from prefect.settings import PREFECT_API_URL

    result = bulletins(
        "run", "--inbox", str(inbox), "--warehouse", str(wh), env={"PREFECT_API_URL": PREFECT_API_URL.value()}
    )
    printed = (result.stdout + result.stderr).strip().splitlines()
    errors = [line for line in printed if line.startswith("error: ")]
    ok = result.returncode == 1 and len(printed) == 1 and errors == printed and "`bulletins rebuild`" in errors[0]
    record(
        reliability,
        "run on a warehouse with bit rot in a block it reads",
        result.returncode,
        errors[-1] if errors else "",
        ok,
    )
    assert ok, result.stdout + result.stderr

    # The traceback is in the run's logs in Prefect.
    flow_run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", result.stdout + result.stderr)
    assert flow_run_id, result.stderr
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id[1]])))
    assert any("Traceback (most recent call last)" in log.message for log in logs)


def test_a_failing_data_test_names_the_file_and_rows(
    loaded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability
) -> None:
    """A data test that returns rows: the message names the test, the rows and the files behind them."""
    from flows.warehouse import build, datatests

    inbox, source = loaded
    wh = copy_warehouse(source, tmp_path / "wh")
    sql_dir = tmp_path / "sql"
    shutil.copytree(datatests.SQL_DIR, sql_dir)
    (sql_dir / "tests" / "no_week_2020_12_14.sql").write_text(
        "-- fails: the week of 2020-12-14 (a rule made up for this test)\n"
        "select week_start, bulletin_id, overdue from core.published_weeks where week_start = date '2020-12-14'\n"
    )
    real = datatests.data_tests
    monkeypatch.setattr(datatests, "data_tests", lambda _=None: real(sql_dir))
    (inbox / "2020-12-31_reprint.txt").write_text((inbox / "000_3e19ef32d54e8472.txt").read_text() + "\n")
    try:
        with pytest.raises(build.DataTestsFailed) as failed:
            bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    finally:
        (inbox / "2020-12-31_reprint.txt").unlink()
    message = str(failed.value)
    ok = (
        "no_week_2020_12_14 (1 row" in message
        and "week_start=2020-12-14" in message
        and "2020-12-31_reprint.txt" in message
        and "\n" not in message
    )
    reliability.record("12 every CLI failure is one line", "a data test fails", message[:160], ok)
    assert ok, message
