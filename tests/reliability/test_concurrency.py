"""Issues 7 and 16: concurrent runs, queries and duckdb shells against one warehouse.

The promises (README, "One writer at a time" and "Snapshot reads"): a second run waits for
the first and then runs or, past BULLETINS_LOCK_TIMEOUT_S, is skipped saying so; readers
(`bulletins query`, the duckdb shell, any DuckDB client) open the published snapshot: they
never make a run wait, never see a half-built warehouse, and keep the snapshot they opened
until they reconnect. Whatever the interleaving, the file stays sound and its core and
marts end equal to a single clean run's.

Every process here is real (`python -m flows ...`, the duckdb binary), pointed at the
test session's Prefect API so that no run pays for a temporary server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from ops_helpers import make_inbox, snapshot

from flows.orchestration.flow import bulletin_etl
from flows.settings import PROJECT_DIR
from flows.warehouse.db import connect, verify_readable
from flows.warehouse.sandbox import shell_argv

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

CASE = "10 processes: concurrent runs, queries and shells on one warehouse"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The bundled inbox, and the core and marts of one run over it."""
    root = tmp_path_factory.mktemp("concurrency")
    inbox = make_inbox(root / "inbox")
    bulletin_etl(inbox=str(inbox), warehouse=str(root / "wh"))
    return inbox, snapshot(root / "wh" / "bulletins.duckdb")


def _env(**extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_API_URL": str(PREFECT_API_URL.value()), **extra}
    for name in ("BULLETINS_INBOX", "BULLETINS_WAREHOUSE"):
        env.pop(name, None)
    return env


def start_run(inbox: Path, wh: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "run", "--inbox", str(inbox), "--warehouse", str(wh)],
        cwd=PROJECT_DIR,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout_s: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout_s)
    return process.returncode, (out + err).strip()


def sound(db_path: Path) -> bool:
    con = connect(db_path, read_only=True)
    try:
        verify_readable(con, db_path)
    finally:
        con.close()
    return True


def _half_loaded(inbox: Path, root: Path) -> tuple[Path, Path]:
    """A warehouse holding the first three pages, and an inbox holding all six."""
    wh, partial = root / "wh", root / "inbox"
    partial.mkdir(parents=True)
    names = sorted(p.name for p in inbox.iterdir())
    for name in names[:3]:
        shutil.copy2(inbox / name, partial / name)
    bulletin_etl(inbox=str(partial), warehouse=str(wh))
    for name in names[3:]:
        shutil.copy2(inbox / name, partial / name)
    return partial, wh


def _holds_run_lock(wh: Path) -> bool:
    lock = wh / ".bulletins-run.lock"
    return lock.exists() and lock.read_text().startswith("pid=")


def test_two_runs_at_once(clean: tuple[Path, dict], tmp_path: Path, reliability) -> None:
    """A second run starts while the first holds the run lock (kept waiting by a shell opened on
    the run's own file, `.writer/`): it waits and then finds nothing new, or past its bound is
    skipped saying so."""
    from ops_helpers import wait_for

    inbox, expected = clean
    rounds = reliability.scale(1, 3)
    for n in range(rounds):
        for wait_s, outcome in (("120", "waited, then ran with nothing new"), ("0.5", "was skipped, saying so")):
            partial, wh = _half_loaded(inbox, tmp_path / f"{n}-{wait_s}")
            shell = _open_shell(wh / ".writer" / "bulletins.duckdb")
            first = start_run(partial, wh, BULLETINS_LOCK_TIMEOUT_S="120")
            wait_for(lambda wh=wh: _holds_run_lock(wh), 120, "the first run to take the run lock")
            second = start_run(partial, wh, BULLETINS_LOCK_TIMEOUT_S=wait_s)
            if wait_s == "120":
                time.sleep(8)  # the second is waiting for the lock by now
                second_result = None
            else:
                second_result = finish(second, timeout_s=120)  # skipped while the first still waits
            assert shell.stdin is not None
            shell.stdin.close()
            shell.wait(timeout=30)
            results = [finish(first), second_result or finish(second)]
            first_ok = results[0][1].splitlines()[0].startswith("新文件 3 个")
            other = results[1][1].splitlines()[0]
            if wait_s == "120":
                other_ok = other.startswith("新文件 0 个") and "未变化 6" in other
            else:
                other_ok = other.startswith("run skipped: another bulletin-etl run holds")
            same = sound(wh / "bulletins.duckdb") and snapshot(wh / "bulletins.duckdb") == expected
            ok = all(code == 0 for code, _ in results) and first_ok and other_ok and same
            reliability.record(
                CASE,
                f"a second `bulletins run` while the first holds the run lock (BULLETINS_LOCK_TIMEOUT_S={wait_s})"
                + (f", round {n + 1}" if rounds > 1 else ""),
                f"exits {[c for c, _ in results]}; the first loaded 3 new files: {first_ok}; the second {outcome}: "
                f"{other_ok}; file sound, core/marts = one clean run: {same}",
                ok,
            )
            assert ok, "\n---\n".join(out for _, out in results)


READER = """
import json, random, sys, time
from pathlib import Path
import duckdb
db, stop = Path(sys.argv[1]), Path(sys.argv[2])
seen, errors, absent = [], [], 0
while not stop.exists():
    if not db.exists():  # before the first run publishes: no snapshot yet
        absent += 1
        time.sleep(random.uniform(0, 0.05))
        continue
    try:
        # Any DuckDB client, as an analyst's Jupyter would: no waiting of ours.
        con = duckdb.connect(str(db), read_only=True)
        try:
            seen.append(con.execute(
                "select (select count(*) from ingest.files), (select count(*) from marts.city_week_performance)"
            ).fetchall()[0])
        finally:
            con.close()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    time.sleep(random.uniform(0, 0.05))
print(json.dumps({"seen": seen, "errors": errors, "absent": absent}))
"""


def _counts(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "select (select count(*) from ingest.files), (select count(*) from marts.city_week_performance)"
        ).fetchall()[0]
    finally:
        con.close()
    return row[0], row[1]


def test_queries_while_a_run_loads(clean: tuple[Path, dict], tmp_path: Path, reliability) -> None:
    """A plain DuckDB reader connects at random moments of a first run and then of a backfill
    on top of it: it never fails and sees only complete snapshots (no file yet, the first
    run's, the backfill's), never a half-built one (`Table with name files does not exist`
    before snapshots)."""
    import json

    from flows.devtools.corpus import write_corpus

    inbox, expected = clean
    wh, stop = tmp_path / "wh", tmp_path / "stop-reading"
    wh.mkdir()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(wh / "bulletins.duckdb"), str(stop)],
        cwd=PROJECT_DIR,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_inbox = tmp_path / "inbox"
    shutil.copytree(inbox, run_inbox)
    code, out = finish(start_run(run_inbox, wh))
    first = _counts(wh / "bulletins.duckdb")
    same = sound(wh / "bulletins.duckdb") and snapshot(wh / "bulletins.duckdb") == expected
    days = reliability.scale(60, 730)
    write_corpus(run_inbox / "archive", start=date(2015, 1, 1), days=days, pages_per_day=8, seed=1)
    backfill_code, backfill_out = finish(start_run(run_inbox, wh))
    last = _counts(wh / "bulletins.duckdb")
    stop.touch()
    reader_out, reader_err = reader.communicate(timeout=120)
    result = json.loads(reader_out)
    states = sorted({tuple(s) for s in result["seen"]})
    ok = (code, backfill_code) == (0, 0) and not result["errors"] and set(states) <= {first, last} and same
    ok = ok and first[0] == 6 and last[0] == 6 + days * 8
    reliability.record(
        "16 snapshot reads: readers never block a run, never see a half-built warehouse",
        f"a plain duckdb.connect(read_only=True) reader connecting at random moments of a first run, then of "
        f"a backfill of {days * 8} pages on top",
        f"runs exit {code}, {backfill_code}; {result['absent']} tries before the first snapshot, "
        f"{len(result['seen'])} queries answered, (files, weeks) seen {states}, errors {len(result['errors'])}; "
        f"first run's core/marts = one clean run: {same}",
        ok,
    )
    assert ok, f"{out}\n{backfill_out}\n{result['errors'][:3]}\n{reader_err[-2000:]}"


def _open_shell(db_path: Path) -> subprocess.Popen[str]:
    """An interactive-like duckdb shell holding the file (reads commands from a pipe)."""
    shell = subprocess.Popen(
        shell_argv(db_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write("select 'ready';\n")
    shell.stdin.flush()
    deadline = time.monotonic() + 30
    while "ready" not in shell.stdout.readline():
        assert time.monotonic() < deadline and shell.poll() is None, "the shell did not open"
    return shell


def _ask(shell: subprocess.Popen[str], sql: str) -> str:
    """One answer from an open shell: the first output line that starts with `answer=`."""
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write(f"select 'answer=' || ({sql}) as a;\n")
    shell.stdin.flush()
    deadline = time.monotonic() + 30
    while True:
        line = shell.stdout.readline()
        if "answer=" in line:
            return line.split("answer=", 1)[1].split()[0]  # the box's border follows
        assert time.monotonic() < deadline and shell.poll() is None, "the shell did not answer"


def test_a_shell_left_open_during_runs(clean: tuple[Path, dict], tmp_path: Path, reliability) -> None:
    """A shell holds the snapshot across runs: each run completes without waiting (the wait is
    0 s), the shell keeps the snapshot it opened, and a shell opened afterwards sees the new one."""
    inbox, expected = clean
    partial, wh = _half_loaded(inbox, tmp_path)
    db = wh / "bulletins.duckdb"
    shell = _open_shell(db)
    try:
        before = _ask(shell, "select count(*) from ingest.files")
        results = [finish(start_run(partial, wh, BULLETINS_LOCK_TIMEOUT_S="0")) for _ in range(2)]
        kept = _ask(shell, "select count(*) from ingest.files")
    finally:
        assert shell.stdin is not None
        shell.stdin.close()
        shell.wait(timeout=30)
    fresh = _open_shell(db)
    try:
        after = _ask(fresh, "select count(*) from ingest.files")
    finally:
        assert fresh.stdin is not None
        fresh.stdin.close()
        fresh.wait(timeout=30)
    lines = [out.splitlines()[0] for _, out in results]
    runs_ok = [code for code, _ in results] == [0, 0] and lines[0].startswith("新文件 3 个")
    runs_ok = runs_ok and lines[1].startswith("新文件 0 个")
    same = sound(db) and snapshot(db) == expected
    ok = runs_ok and (before, kept, after) == ("3", "3", "6") and same
    reliability.record(
        "16 snapshot reads: readers never block a run, never see a half-built warehouse",
        "a duckdb shell holding the snapshot open across two runs (BULLETINS_LOCK_TIMEOUT_S=0)",
        f"exits {[c for c, _ in results]} ({lines[0][:40]}...); the open shell counted files {before} "
        f"before and {kept} after; a new shell {after}; core/marts = one clean run: {same}",
        ok,
    )
    assert ok, (results, before, kept, after)


def test_a_shell_opened_while_a_run_writes(clean: tuple[Path, dict], tmp_path: Path, reliability) -> None:
    """`bulletins shell` started while a writer holds the file waits for it, then opens."""
    from ops_helpers import Holder

    inbox, _ = clean
    wh = tmp_path / "wh"
    bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    holder = Holder(wh / "bulletins.duckdb", tmp_path / "release")
    shell = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows",
            "shell",
            "--warehouse",
            str(wh),
            "-csv",
            "select count(*) as n from ingest.files",
        ],
        cwd=PROJECT_DIR,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    waited = shell.poll() is None
    holder.stop()
    out, err = shell.communicate(timeout=60)
    ok = waited and shell.returncode == 0 and out.splitlines() == ["n", "6"]
    reliability.record(
        CASE,
        "`bulletins shell` opened while another process writes the file",
        f"waited: {waited}; then exit {shell.returncode}, answered {out.split()}",
        ok,
    )
    assert ok, out + err
