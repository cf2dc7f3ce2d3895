"""SIGKILL at any moment (issue 7, item 4): the next run gives exactly a clean run's tables.

A real `bulletins run` is started in a session of its own over a backfill that holds two
printings of one week with the same issue date (so the order files were taken in
decides which wins), and its whole process group is killed with SIGKILL: at named points
(`flows.warehouse.faults`: after the plan is written, after a lake part, after a batch,
inside the load's transaction, after the models, after the data tests, after the
commit) and at moments spread over a clean run's duration. A normal run follows; its
warehouse is compared table by table with a clean run's over the same inbox:

- every table and view of `ingest`, `raw`, `staging`, `core` and `marts`, row for row,
  all columns except the ones that say when or in which lake batch a row was written
  (`batch_id`, `first_seen_at`, `loaded_at`); `ingest.batches` (batch ids and load
  times only) is compared by nothing but its existence.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import LOADING_HISTORY
from testdata import SAMPLE_PAGE

from flows.devtools.synth import page_files, random_weeks
from flows.warehouse.db import connection

FULL = os.environ.get("BULLETINS_RELIABILITY", "fast") == "full"
SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")
# Columns that say when or where a row was written, not what it holds.
WHEN_AND_WHERE = {"batch_id", "first_seen_at", "loaded_at"}
SCHEMAS = ("ingest", "raw", "staging", "core", "marts")

# The same week (2020-12-14) printed twice with the same issue date (from the name): the
# file taken in later wins. The first sorts first in the inbox, the second last.
FIRST_PRINTING = "0000_printing_2020-12-23.txt"
SECOND_PRINTING = "zzzz_printing_2020-12-23.txt"
CORRECTED = (
    SAMPLE.replace("超时未办结131件", "超时未办结130件")
    .replace("正在办理中232件", "正在办理中233件")
    .replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件")
)


def make_backfill(inbox: Path, weeks: int) -> None:
    """The two printings, `weeks` synthetic weeks before them, a duplicate and a hidden file."""
    inbox.mkdir(parents=True)
    (inbox / FIRST_PRINTING).write_text(SAMPLE, encoding="utf-8")
    (inbox / SECOND_PRINTING).write_text(CORRECTED, encoding="utf-8")
    pages = page_files(random_weeks(weeks, seed=7, first=date(2019, 1, 7)))
    for name, text in pages.items():
        (inbox / name).write_text(text, encoding="utf-8")
    first = sorted(pages)[0]
    shutil.copyfile(inbox / first, inbox / f"copy_of_{first}")  # a duplicate
    (inbox / ".partial_download.txt").write_text("半", encoding="utf-8")  # skipped
    for n, path in enumerate(sorted(inbox.iterdir())):  # the same mtimes in every copy of the backfill
        os.utime(path, ns=(1_600_000_000_000_000_000 + n, 1_600_000_000_000_000_000 + n))


def run_cli(inbox: Path, wh: Path, api_url: str, kill_at: str | None = None, kill_after_s: float | None = None):
    """`bulletins run` in a session of its own; killed (whole group) at a point or after a time."""
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        # Through the process pool, two workers: batches finish in either order.
        "BULLETINS_INLINE_PARSE_MAX_BYTES": "0",
        "BULLETINS_PARSE_WORKERS": "2",
    }
    env.pop("BULLETINS_KILL_AT", None)
    if kill_at is not None:
        env["BULLETINS_KILL_AT"] = kill_at
    cmd = [sys.executable, "-m", "flows", "run", "--inbox", str(inbox), "--warehouse", str(wh)]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True
    )
    if kill_after_s is not None:
        try:
            proc.wait(timeout=kill_after_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    _wait_group_gone(proc.pid)
    return proc.returncode, out, err, time.monotonic() - started


def _wait_group_gone(pgid: int, timeout_s: float = 30) -> None:
    """Every process of the killed run's group is gone (none left behind, none writing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
    raise AssertionError(f"processes of group {pgid} outlived the run")


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table and view of SCHEMAS, rows sorted, without the when-and-where columns."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with connection(db, read_only=True) as con:
        relations = con.execute(
            "select schema_name, table_name, list(column_name order by column_index) from duckdb_columns() "
            "where schema_name in ? group by all order by all",
            [list(SCHEMAS)],
        ).fetchall()
        for schema, name, columns in relations:
            kept = [c for c in columns if c not in WHEN_AND_WHERE]
            # How the files were cut into batches differs after a kill (the data must not).
            if not kept or (schema, name) == ("ingest", "batches") or f"{schema}.{name}" in LOADING_HISTORY:
                out[f"{schema}.{name}"] = []
                continue
            rows = con.execute(f"select {', '.join(kept)} from {schema}.{name}").fetchall()
            out[f"{schema}.{name}"] = sorted(rows, key=repr)
    return out


def differences(a: dict[str, list], b: dict[str, list]) -> list[str]:
    names = sorted(set(a) | set(b))
    return [n for n in names if a.get(n) != b.get(n)]


@pytest.fixture(scope="module")
def api_url(prefect_harness: str) -> str:
    return prefect_harness


# Synthetic weeks in the backfill (the pool makes one batch per worker, a third for the
# entries recorded without parsing).
WEEKS = 150 if FULL else 70


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, api_url: str):
    """A clean run over the backfill: its tables, how long it took, its summary line."""
    root = tmp_path_factory.mktemp("clean")
    make_backfill(root / "inbox", WEEKS)
    code, out, err, seconds = run_cli(root / "inbox", root / "wh", api_url)
    assert code == 0, err
    db = root / "wh" / "bulletins.duckdb"
    with connection(db, read_only=True) as con:
        winner = con.execute(
            "select f.path from marts.city_week_performance m join core.bulletins b using (bulletin_id) "
            "join core.files f on f.file_sha256 = b.file_sha256 where m.week_start = date '2020-12-14'"
        ).fetchall()
    assert winner == [(SECOND_PRINTING,)], "the printing taken in later wins the tie"
    return tables(db), seconds, out.splitlines()[0]


# Fast scale (make test): the point that once changed the winner of the tie. Full scale:
# every kind of point, and moments spread over a clean run (which land in discovery,
# parsing, lake writes, the load and the models, whatever the machine's speed).
NAMED_POINTS_FAST = ["batch:0002"]
NAMED_POINTS_FULL = [
    "planned",
    "part:0001:articles",
    "part:0002:bulletins",
    "batch:0001",
    "batch:0002",
    "batch:0003",
    "part:0003:bulletin_units",
    "loaded",
    "built",
    "tested",
    "committed",
]
MOMENTS_FULL = 9


UNFINISHED_BATCH = "no files rows (a run stopped before writing them, or they were lost)"


def assert_recovery_line(line: str, clean_line: str, wh: Path, point: str) -> None:
    """The recovery's summary is the clean run's, plus a note when the kill left half a batch.

    A batch whose parts were being written when the run died has no files part: the
    recovery sets it aside (lake/_quarantine, never deleted) and says so; its files are
    parsed again from the inbox.
    """
    counts, _, lake_note = line.partition("；湖检查：")  # the run's Chinese line (RunSummary.line in the log)
    assert counts == clean_line, point
    if lake_note:
        assert lake_note.startswith("0 个批次已从数据库恢复，"), (point, lake_note)
        assert lake_note.endswith(" 个批次已移出、不入库（lake/_quarantine，原因见 quarantine.log）"), (
            point,
            lake_note,
        )
        log = (wh / "lake" / "_quarantine" / "quarantine.log").read_text(encoding="utf-8").splitlines()
        assert log and all(entry.endswith("\t" + UNFINISHED_BATCH) for entry in log), (point, log)


def _kill_and_recover(tmp_path: Path, api_url: str, clean_tables, **kill) -> tuple[list[str], str, int]:
    """Kill a run over the backfill, run again: the tables that differ from the clean run's."""
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    make_backfill(inbox, WEEKS)
    code, _, _, _ = run_cli(inbox, wh, api_url, **kill)
    code_after, out, err, _ = run_cli(inbox, wh, api_url)
    assert code_after == 0, err
    return differences(tables(wh / "bulletins.duckdb"), clean_tables), out.splitlines()[0], code


def test_4_recovery_after_sigkill_equals_a_clean_run(tmp_path: Path, api_url: str, clean, reliability) -> None:
    clean_tables, seconds, clean_line = clean
    points = NAMED_POINTS_FULL if FULL else NAMED_POINTS_FAST
    for point in points:
        diff, line, code = _kill_and_recover(tmp_path / point.replace(":", "_"), api_url, clean_tables, kill_at=point)
        assert code == -signal.SIGKILL, f"{point}: the run was not killed (exit {code})"
        assert diff == [], f"killed at {point}: differs from a clean run in {diff}"
        if point != "committed":  # the recovery says what it loaded, recovered batches included
            assert_recovery_line(line, clean_line, tmp_path / point.replace(":", "_") / "wh", point)
    moments = MOMENTS_FULL if FULL else 0
    killed = 0
    for n in range(moments):
        at = seconds * (n + 0.5) / moments
        diff, _, code = _kill_and_recover(tmp_path / f"t{n}", api_url, clean_tables, kill_after_s=at)
        killed += code == -signal.SIGKILL
        assert diff == [], f"killed {at:.1f} s into the run: differs from a clean run in {diff}"
    reliability.record(
        "4 recovery after SIGKILL",
        f"SIGKILL of a real run's whole process group over a backfill of {WEEKS + 4} entries holding two "
        f"printings of one week with one issue date: at {len(points)} named points ({', '.join(points)})"
        + (f" and at {moments} moments spread over a clean run's {seconds:.1f} s" if moments else "")
        + "; then a normal run",
        f"{len(points) + moments} of {len(points) + moments} recoveries ({len(points) + killed} runs killed "
        "before they finished) equal a clean run in every ingest/raw/staging/core/marts table; each recovery "
        "after a kill before the commit prints the clean run's summary line",
        True,
    )


def test_4_entries_an_interrupted_run_planned_keep_their_seqs(tmp_path: Path) -> None:
    """The plan alone: a stopped run's entries keep their seqs; new ones come after every seq planned."""
    from datetime import UTC, datetime

    from flows.warehouse import plans
    from flows.warehouse.inbox import known_files, plan_run

    inbox, lake_dir = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (inbox / name).write_text(f"页 {name}", encoding="utf-8")
    first_seen = datetime(2026, 1, 1, tzinfo=UTC)
    first = plan_run(inbox, known_files([]), planned=(), seen_at=first_seen)
    plans.write_plan(lake_dir, "run1", first.to_parse)
    # The run was killed after the batch holding c.txt (seq 3) was complete, before a and b.
    c = first.to_parse[2]
    pending = [{**{k: getattr(c, k) for k in ("path", "size_bytes", "modified_ns", "file_sha256")},
                "status": "loaded", "reasons": [], "over_size_limit": False, "ingest_seq": c.ingest_seq}]  # fmt: skip
    (inbox / "0_new.txt").write_text("新页", encoding="utf-8")  # arrived meanwhile, sorts first
    second = plan_run(inbox, known_files([], pending), planned=plans.read_plans(lake_dir), seen_at=datetime.now(UTC))
    assert [(i.path, i.ingest_seq, i.seen_at) for i in second.to_parse] == [
        ("0_new.txt", 4, second.to_parse[0].seen_at),
        ("a.txt", 1, first_seen),
        ("b.txt", 2, first_seen),
    ]
    assert (second.recovered, second.unchanged) == (1, 0)
    plans.remove_plans(lake_dir)
    assert plans.read_plans(lake_dir) == []
