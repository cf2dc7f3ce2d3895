"""Issue 7, item 3: ad-hoc SQL can neither write nor read any file.

Every statement below is tried through `bulletins query` and through the `duckdb` shell
as `bulletins shell` opens it. Each must be refused with one line, print nothing of the
files it aimed at, and leave every file on disk (outside and inside the warehouse) as it
was. The warehouse's own tables stay readable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.warehouse import db
from flows.warehouse.sandbox import shell_argv

CANARY = "canary-7f3a9c"
runner = CliRunner()


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse (tables, a lake part) and, beside it, a folder of files SQL must not reach."""
    root = tmp_path_factory.mktemp("sandbox")
    wh = root / "wh"
    (wh / "lake" / "files").mkdir(parents=True)
    con = db.connect(wh / "bulletins.duckdb")
    try:
        db.create_raw_tables(con)
    finally:
        con.close()
    pq.write_table(pa.table({"secret": [CANARY]}), wh / "lake" / "files" / "b-0001.parquet")
    # DuckDB's spill folder beside the file, as a query that spilled leaves it (issue 16):
    # DuckDB allows its temp_directory, so SQL could write there and fill the warehouse's disk.
    (wh / "bulletins.duckdb.tmp").mkdir()
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"secret\n{CANARY}\n")
    (outside / "secret.json").write_text(f'{{"secret": "{CANARY}"}}\n')
    pq.write_table(pa.table({"secret": [CANARY]}), outside / "secret.parquet")
    other = db.connect(outside / "other.duckdb")
    other.execute(f"create table t as select '{CANARY}' as secret")
    other.close()
    return root


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime: equal before and after = nothing written."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".wal")
    }


def statements(root: Path) -> dict[str, list[str]]:
    """The statements tried, by what they aim at (paths in `root`)."""
    out, wh, lake = root / "outside", root / "wh", root / "wh" / "lake"
    return {
        "write": [
            f"copy (select 1 as x) to '{out}/copied.csv'",
            f"copy ingest.files to '{lake}/files/forged.parquet' (format parquet)",
            f"copy (select 'x' as batch_id, 1 as n) to '{lake}/files' (format parquet, partition_by (batch_id), overwrite)",
            f"copy (select 1 as x) to '{wh}/bulletins.duckdb'",
            f"export database '{out}/exported'",
            f"attach '{out}/new.duckdb' as new_db",
            f"attach '{out}/other.duckdb' as other_db",
            f"attach '{wh}/bulletins.duckdb' as again (read_write)",
            "create table main.forged as select 1 as x",
            "delete from ingest.files",
            "drop table ingest.files",
            "install httpfs",
            "load httpfs",
            "set enable_external_access = true",
            "reset enable_external_access",
            "set lock_configuration = false",
            "set allowed_directories = ['/']",
            f"set temp_directory = '{out}'",
            f"set profiling_output = '{out}/profile.json'",
            f"call enable_logging(storage = 'file', storage_path = '{out}/logs')",
            "create persistent secret leaked (type s3, key_id 'k', secret 's')",
            f"select 1; copy (select 1 as x) to '{out}/second.csv'",
            # issue 16: the spill folder inside the warehouse
            f"copy (select 1 as x) to '{wh}/bulletins.duckdb.tmp/copied.csv'",
            f"copy ingest.files to '{wh}/bulletins.duckdb.tmp/files.parquet' (format parquet)",
            f"export database '{wh}/bulletins.duckdb.tmp/exported'",
            f"attach '{wh}/bulletins.duckdb.tmp/new.duckdb' as spill_db (read_write)",
            f"attach '{wh}/bulletins.duckdb.tmp/other.duckdb' as spill_db",
            "set temp_directory = ''",
            "set memory_limit = '100GB'",
        ],
        "read": [
            f"select * from read_csv('{out}/secret.csv')",
            f"select * from read_csv_auto('{out}/secret.csv')",
            f"select * from '{out}/secret.csv'",
            f"select * from read_text('{out}/secret.csv')",
            f"select * from read_blob('{out}/secret.csv')",
            f"select * from read_json('{out}/secret.json')",
            f"select * from read_parquet('{out}/secret.parquet')",
            f"select * from parquet_metadata('{out}/secret.parquet')",
            f"select * from sniff_csv('{out}/secret.csv')",
            f"select * from glob('{out}/*')",
            f"select * from read_parquet('{lake}/files/*.parquet')",
            "select * from read_text('/etc/passwd')",
            f"import database '{out}'",
            f"copy ingest.files from '{out}/secret.csv'",
        ],
    }


def test_query_refuses_every_write_and_file_read(place: Path, reliability) -> None:
    wh = place / "wh"
    before = files_under(place)
    tried = statements(place)
    for kind, sqls in tried.items():
        for sql in sqls:
            result = runner.invoke(app, ["query", sql, "--warehouse", str(wh)])
            refused = result.exit_code != 0
            one_line = len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: ")
            leaked = CANARY in result.output
            reason = result.output.strip().removeprefix("error: ").replace(str(place), "<tmp>")[:90]
            reliability.record(
                f"3 ad-hoc SQL cannot {kind} files (bulletins query)",
                sql.replace(str(place), "<tmp>"),
                f"exit {result.exit_code}: {reason}",
                refused and one_line and not leaked,
            )
            assert refused, f"{sql!r} was not refused:\n{result.output}"
            assert one_line, f"{sql!r}: not one error line:\n{result.output}"
            assert not leaked, f"{sql!r} printed the file's content"
    assert files_under(place) == before, "a statement wrote, moved or deleted a file"
    # The warehouse itself stays readable.
    ok = runner.invoke(app, ["query", "select count(*) as n from ingest.files", "-f", "csv", "--warehouse", str(wh)])
    assert ok.exit_code == 0 and ok.output.splitlines() == ["n", "0"], ok.output


def _shell(db_path: Path, script: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(shell_argv(db_path, extra), input=script, capture_output=True, text=True, timeout=60)


def test_the_shell_refuses_every_write_and_file_read(place: Path, reliability) -> None:
    db_path = place / "wh" / "bulletins.duckdb"
    out = place / "outside"
    before = files_under(place)
    tried = statements(place)
    tried["dot command"] = [
        ".shell echo escaped",
        ".system echo escaped",
        f".output {out}/output.txt",
        f".once {out}/once.txt",
        f".read {out}/secret.csv",
        f".import {out}/secret.csv forged",
        f".open {out}/other.duckdb",
        f".log {out}/log.txt",
        f".cd {out}",
        ".excel",
    ]
    for kind, sqls in tried.items():
        for sql in sqls:
            result = _shell(db_path, sql + ("\n" if sql.startswith(".") else ";\n"))
            refused = result.returncode != 0
            leaked = CANARY in result.stdout + result.stderr or "escaped" in result.stdout
            reason = (result.stderr.strip().splitlines() or [""])[0].replace(str(place), "<tmp>")[:90]
            what = "run dot commands that touch files" if kind == "dot command" else f"{kind} files"
            reliability.record(
                f"3 ad-hoc SQL cannot {what} (duckdb shell)",
                sql.replace(str(place), "<tmp>"),
                f"exit {result.returncode}: {reason}",
                refused and not leaked,
            )
            assert refused, f"{sql!r} was not refused:\n{result.stdout}{result.stderr}"
            assert not leaked, f"{sql!r} printed the file's content or ran a command"
    assert files_under(place) == before, "a statement wrote, moved or deleted a file"
    ok = _shell(db_path, "select count(*) as n from ingest.files;\n", "-csv")
    assert ok.returncode == 0 and ok.stdout.splitlines() == ["n", "0"], ok.stdout + ok.stderr


def test_bulletins_shell_opens_the_sandboxed_shell(place: Path) -> None:
    """The real command (it replaces itself with the duckdb binary, so a subprocess)."""
    wh = place / "wh"
    script = f"select current_setting('enable_external_access') as ext;\ncopy (select 1) to '{place}/outside/x.csv';\n"
    result = subprocess.run(
        [sys.executable, "-m", "flows", "shell", "--warehouse", str(wh), "--", "-csv"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines() == ["ext", "false"], result.stdout + result.stderr
    assert "Permission Error" in result.stderr and result.returncode != 0
    assert not (place / "outside" / "x.csv").exists()


def test_bulletins_shell_passes_sql_and_options_through(place: Path) -> None:
    wh = place / "wh"
    result = subprocess.run(
        [sys.executable, "-m", "flows", "shell", "--warehouse", str(wh), "-csv", "select 40 + 2 as answer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.splitlines() == ["answer", "42"], result.stdout + result.stderr


def test_bulletins_shell_refuses_a_file_flag_before_duckdb_starts(place: Path, reliability) -> None:
    """Issue 16: `bulletins shell -f FILE` read any file (shown in duckdb's parser error)."""
    wh = place / "wh"
    secret = place / "outside" / "secret.csv"
    for flags in (["-f", str(secret)], ["-init", str(secret)], ["-cmd", f".read {secret}"], ["-csv", "-unsigned"]):
        result = subprocess.run(
            [sys.executable, "-m", "flows", "shell", "--warehouse", str(wh), *flags],
            input="select 1;\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = result.stderr.strip().splitlines()
        ok = (
            result.returncode == 2
            and len(lines) == 1
            and lines[0].startswith("error: Invalid value: bulletins shell does not pass on ")
            and CANARY not in result.stdout + result.stderr
            and result.stdout == ""
        )
        reliability.record(
            "16 bulletins shell passes on only an allow-list of duckdb flags",
            " ".join(["bulletins shell", *flags]).replace(str(place), "<tmp>"),
            f"exit {result.returncode}: {(lines or [''])[0][:90]}",
            ok,
        )
        assert ok, result.stdout + result.stderr


def test_the_shell_spills_nothing_and_keeps_its_memory_limit(place: Path, reliability) -> None:
    wh = place / "wh"
    sql = (
        "select current_setting('memory_limit') as m, current_setting('temp_directory') as t, "
        "current_setting('enable_external_access') as e, current_setting('lock_configuration') as l"
    )
    result = subprocess.run(
        [sys.executable, "-m", "flows", "shell", "--warehouse", str(wh), "-csv", sql],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BULLETINS_QUERY_MEMORY_LIMIT": "200MB"},
    )
    found = result.stdout.splitlines()
    ok = result.returncode == 0 and found == ["m,t,e,l", "190.7 MiB,,false,true"]
    reliability.record(
        "16 ad-hoc SQL is bounded (duckdb shell)",
        "settings of `bulletins shell` with BULLETINS_QUERY_MEMORY_LIMIT=200MB",
        " ".join(found[1:]) or result.stderr[:90],
        ok,
    )
    assert ok, result.stdout + result.stderr
    runaway = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows",
            "shell",
            "--warehouse",
            str(wh),
            "-csv",
            "select length(list(range)) from range(50000000)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BULLETINS_QUERY_MEMORY_LIMIT": "64MB"},
    )
    ok = runaway.returncode != 0 and "Out of Memory" in runaway.stderr
    reliability.record(
        "16 ad-hoc SQL is bounded (duckdb shell)",
        "a 50-million-element list in 64MB",
        f"exit {runaway.returncode}: {runaway.stderr.strip()[:90]}",
        ok,
    )
    assert ok, runaway.stdout + runaway.stderr


def test_query_is_bounded_in_time_and_memory(place: Path, reliability) -> None:
    """Issue 16: a runaway query used 5.1 GB and ran for as long as it liked."""
    import time

    wh = place / "wh"
    started = time.monotonic()
    slow = runner.invoke(
        app, ["query", "select sum(i * i % 7) from range(100000000000) t(i)", "--timeout", "1", "--warehouse", str(wh)]
    )
    seconds = time.monotonic() - started
    ok = slow.exit_code == 1 and slow.output.startswith("error: query took longer than 1 s") and seconds < 20
    reliability.record(
        "16 ad-hoc SQL is bounded (bulletins query)",
        "a 10^11-row scan with --timeout 1",
        f"exit {slow.exit_code} after {seconds:.1f} s: {slow.output.strip()[:80]}",
        ok,
    )
    assert ok, slow.output
    big = runner.invoke(
        app, ["query", "select list(i) from range(50000000) t(i)", "--memory-limit", "64MB", "--warehouse", str(wh)]
    )
    ok = big.exit_code == 1 and big.output.startswith("error: query needs more memory than its limit of 64MB")
    reliability.record(
        "16 ad-hoc SQL is bounded (bulletins query)",
        "a 50-million-element list with --memory-limit 64MB",
        f"exit {big.exit_code}: {big.output.strip()[:80]}",
        ok,
    )
    assert ok, big.output
    assert not any((wh / "bulletins.duckdb.tmp").iterdir()), "something spilled into the warehouse"
