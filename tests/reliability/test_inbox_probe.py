"""The adversarial probe of issue 16, its inbox and lake findings: each tried through a real run.

- 16 silent loss: the file planned for parsing is deleted or changed before its batch is
  parsed, while a copy of its bytes waits as its duplicate;
- 16 one entry stops every run: an mtime after 2262 (int64 nanoseconds), a tree 1,000
  folders deep;
- 16 never settles: a warehouse inside its inbox, two names that escaped to one path, a
  duplicate of an old page reporting its weeks (and their streak alert) again;
- 16 problem listing: what `bulletins run` prints is capped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_helpers import bulletins, snapshot
from testdata import SAMPLE_PAGE

from flows.warehouse.db import connection

SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")
# The same week printed with one byte more: another file, the same figures.
REPRINT = SAMPLE.replace("共176件", "共176件。")
WEEK = __import__("datetime").date(2020, 12, 14)


def _flow_run(inbox: Path, wh: Path):
    from flows.orchestration.flow import bulletin_etl

    return bulletin_etl(inbox=str(inbox), warehouse=str(wh))


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with connection(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _status(db: Path) -> dict[str, str]:
    return dict(_rows(db, "select path, status from core.files"))


@pytest.fixture
def after_planning(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Actions to take the moment a run has written its plan, before it parses anything."""
    from flows.orchestration import flow

    actions: list = []

    def checkpoint(point: str) -> None:
        if point == "planned":
            while actions:
                actions.pop(0)()

    monkeypatch.setattr(flow, "checkpoint", checkpoint)
    yield actions


# --- 16 silent loss ---------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("what", ["deleted", "changed"])
def test_16_a_duplicate_whose_original_is_lost_before_its_parse_is_loaded(
    tmp_path: Path, after_planning: list, what: str, reliability
) -> None:
    from flows.settings import Settings
    from flows.warehouse.build import rebuild_warehouse

    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    original, copy = inbox / "2020-12-23_a.txt", inbox / "2020-12-23_b.txt"
    original.write_text(SAMPLE, encoding="utf-8")
    copy.write_text(SAMPLE, encoding="utf-8")  # the same bytes: planned as the original's duplicate
    if what == "deleted":
        after_planning.append(original.unlink)
    else:
        after_planning.append(lambda: original.write_text(REPRINT + "\n补记。", encoding="utf-8"))
    first = _flow_run(inbox, wh)
    db = wh / "bulletins.duckdb"
    # The copy is not recorded as the duplicate of bytes no table holds.
    assert _rows(db, "select count(*) from core.files where status = 'duplicate'") == [(0,)]
    assert first.files_duplicate == 0

    second = _flow_run(inbox, wh)
    assert second.files_loaded >= 1
    assert _status(db)[copy.name] == "loaded"
    sample_sha = __import__("hashlib").sha256(SAMPLE.encode()).hexdigest()
    assert _rows(db, "select count(*) from core.bulletins where file_sha256 = ?", [sample_sha]) == [(1,)]
    assert _rows(db, "select count(*) from marts.city_week_performance where week_start = ?", [WEEK]) == [(1,)]

    kept = snapshot(db)
    third = _flow_run(inbox, wh)
    assert (third.files_new, third.files_duplicate) == (0, 0)
    assert snapshot(db) == kept
    rebuild_warehouse(Settings.resolve(inbox, wh))
    assert snapshot(db) == kept
    reliability.record(
        f"16 duplicate of a file {what} before its parse",
        f"two files with the same bytes; the one planned for parsing {what} between plan and parse",
        "the copy is not recorded as a duplicate; the next run loads it; a rerun and a rebuild keep it",
        True,
    )


# --- 16 one entry stops every run --------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_16_an_mtime_after_2262_does_not_stop_the_run(tmp_path: Path, reliability) -> None:
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    future = inbox / "2020-12-23_future.txt"
    future.write_text(SAMPLE, encoding="utf-8")
    os.utime(future, ns=(0, 2**63 + 10**18))  # the year 2294: past int64 nanoseconds
    (inbox / "2020-12-30_other.txt").write_text(REPRINT, encoding="utf-8")
    first = _flow_run(inbox, wh)
    assert (first.files_new, first.files_loaded) == (2, 2)
    db = wh / "bulletins.duckdb"
    (status, reasons, mtime), = _rows(
        db, "select f.status, f.reasons, i.modified_ns from core.files f join ingest.files i using (path, ingest_seq) "
        "where path = ?", [future.name]
    )  # fmt: skip
    assert status == "loaded" and mtime == 2**63 - 1
    assert reasons == [f"modified time out of range ({2**63 + 10**18} ns): recorded as {2**63 - 1}"]
    second = _flow_run(inbox, wh)
    assert (second.files_new, second.files_unchanged) == (0, 2)
    # Rewritten with new bytes, still in the far future: taken again.
    future.write_text(SAMPLE + "\n补记。", encoding="utf-8")
    os.utime(future, ns=(0, 2**63 + 2 * 10**18))
    third = _flow_run(inbox, wh)
    assert (third.files_new, third.files_unchanged) == (1, 1)
    reliability.record(
        "16 mtime after 2262",
        "a page whose mtime is 2**63 + 10**18 ns (the year 2294) beside another page",
        "both loaded, the mtime stored as the largest int64 with a note; the rerun settles; new bytes are taken",
        True,
    )


def _deep_folder(root: Path, levels: int) -> Path:
    folder = root
    for _ in range(levels):  # (os.makedirs recurses)
        folder = folder / "d"
        folder.mkdir()
    return folder


def _remove_deep(root: Path, levels: int) -> None:
    """shutil.rmtree recurses (Python 3.11): take the tree down from its bottom."""
    folder = root / "/".join(["d"] * levels)
    for path in sorted(folder.rglob("*"), reverse=True) if folder.exists() else ():
        path.unlink()
    for _ in range(levels):
        folder.rmdir()
        folder = folder.parent


@pytest.mark.usefixtures("prefect_harness")
def test_16_a_tree_1000_folders_deep_does_not_stop_the_run(tmp_path: Path, reliability) -> None:
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    levels = 1000
    bottom = _deep_folder(inbox, levels)
    try:
        (bottom / "2020-12-23_deep.txt").write_text(SAMPLE, encoding="utf-8")
        (inbox / "2020-12-30_top.txt").write_text(REPRINT, encoding="utf-8")
        first = _flow_run(inbox, wh)
        assert (first.files_new, first.files_loaded) == (2, 2)
        deep = "d/" * levels + "2020-12-23_deep.txt"
        assert _status(wh / "bulletins.duckdb") == {deep: "loaded", "2020-12-30_top.txt": "loaded"}
        second = _flow_run(inbox, wh)
        assert (second.files_new, second.files_unchanged) == (0, 2)
    finally:
        _remove_deep(inbox, levels)
    reliability.record(
        "16 folder tree 1,000 levels deep",
        "a page at the bottom of 1,000 nested folders beside a page at the top",
        "no RecursionError: both loaded; the rerun settles",
        True,
    )


# --- 16 never settles ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["inside", "same", "env"])
def test_16_a_warehouse_inside_its_inbox_is_refused(tmp_path: Path, where: str, reliability) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "2020-12-23_page.txt").write_text(SAMPLE, encoding="utf-8")
    wh = inbox if where == "same" else inbox / "wh"
    if where == "env":
        result = bulletins("run", env={"BULLETINS_INBOX": str(inbox), "BULLETINS_WAREHOUSE": str(wh)})
    else:
        result = bulletins("run", "--inbox", str(inbox), "--warehouse", str(wh))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the warehouse ") and "is inside the inbox" in line, line
    assert sorted(p.name for p in inbox.iterdir()) == ["2020-12-23_page.txt"]  # nothing written
    reliability.record(
        "16 warehouse inside its inbox",
        f"`bulletins run` with the warehouse {'= the inbox' if where == 'same' else 'inside the inbox'}"
        + (" (environment)" if where == "env" else ""),
        "refused: exit 2, one `error:` line; nothing written",
        True,
    )


@pytest.mark.usefixtures("prefect_harness")
def test_16_a_literal_escape_and_a_gbk_name_are_two_paths_that_settle(tmp_path: Path, reliability) -> None:
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    gbk = "2020-12-23_中.txt".encode("gbk")  # 中 is d6 d0 in GBK
    literal = b"2020-12-23_\\xd6\\xd0.txt"  # a name that reads as GBK's escape, in ASCII
    for name, text in ((gbk, SAMPLE), (literal, REPRINT)):
        with open(os.fsencode(inbox) + b"/" + name, "wb") as fh:
            fh.write(text.encode("utf-8"))
    first = _flow_run(inbox, wh)
    assert (first.files_new, first.files_loaded) == (2, 2)
    db = wh / "bulletins.duckdb"
    assert _status(db) == {"2020-12-23_\\xd6\\xd0.txt": "loaded", "2020-12-23_\\\\xd6\\\\xd0.txt": "loaded"}
    before = _rows(db, "select * from ingest.files order by ingest_seq")
    for _ in range(2):
        again = _flow_run(inbox, wh)
        assert (again.files_new, again.files_duplicate, again.files_unchanged) == (0, 0, 2)
    assert _rows(db, "select * from ingest.files order by ingest_seq") == before
    reliability.record(
        "16 escaped names one-to-one",
        "a file literally named 2020-12-23_\\xd6\\xd0.txt beside a GBK 2020-12-23_中.txt",
        "two paths (the literal one with its backslashes doubled), both loaded; two reruns change nothing",
        True,
    )


@pytest.mark.usefixtures("prefect_harness")
def test_16_a_duplicate_of_an_old_page_reports_no_weeks_and_no_alert(tmp_path: Path, reliability) -> None:
    from flows.reporting.notify import run_notices

    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    (inbox / "2020-12-23_page.txt").write_text(SAMPLE, encoding="utf-8")
    first = _flow_run(inbox, wh)
    db = wh / "bulletins.duckdb"
    with connection(db, read_only=True) as con:
        fired = [n.trigger for n in run_notices(con, first.batch_ids, first.weeks_loaded, 1)]
    assert first.weeks_loaded == [WEEK] and "long_streak" in fired

    (inbox / "2020-12-23_page (copy).txt").write_text(SAMPLE, encoding="utf-8")
    second = _flow_run(inbox, wh)
    assert (second.files_new, second.files_duplicate) == (0, 1)
    assert second.weeks_loaded == []
    assert "weeks loaded: none" in second.line()
    with connection(db, read_only=True) as con:
        assert run_notices(con, second.batch_ids, second.weeks_loaded, 1) == []
    reliability.record(
        "16 duplicate re-reports its weeks",
        "a copy of a page loaded in an earlier run, alone in the next run (streak alert at 1 week)",
        "weeks loaded: none; no notification",
        True,
    )


# --- 16 the run's problem listing ------------------------------------------------------------


def test_16_the_run_prints_a_capped_problem_listing(tmp_path: Path, reliability) -> None:
    from flows.warehouse.summary import MAX_PROBLEMS_SHOWN

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    count = MAX_PROBLEMS_SHOWN + 7
    for n in range(count):  # binary, each its own bytes (empty files would be one another's duplicates)
        (inbox / f"binary_{n:03d}.txt").write_bytes(b"\x00\x01\x02\x03" * 64 + bytes([n]))
    result = bulletins("run", "--inbox", str(inbox), "--warehouse", str(tmp_path / "wh"))
    assert result.returncode == 0, result.stderr
    listed = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(listed) == MAX_PROBLEMS_SHOWN + 1
    assert listed[0].startswith("  已隔离 binary_000.txt：不是文本")
    assert listed[-1] == "  ……另有 7 个未列出：`bulletins status` 列出全部"
    reliability.record(
        "16 uncapped problem listing",
        f"`bulletins run` over {count} binary files",
        f"{MAX_PROBLEMS_SHOWN} entries listed, then one line counting the rest",
        True,
    )
