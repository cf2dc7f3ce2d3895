"""Odd inbox entries (issue 7, items 2, 5, 7, 8 and 13): each ends recorded, none stops a run.

One flow run over an inbox holding the real sample and every kind of odd entry; each
test then checks one item against the warehouse it left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from testdata import SAMPLE_PAGE

from flows.warehouse.db import connection

SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")
LIMIT = 64 * 1024  # a small size limit for the test: the sample is about 15 KB

# A GBK file name, as zips made on Windows give: 2020-12-23_数字城管.txt
GBK_NAME = "2020-12-23_数字城管.txt".encode("gbk")
GBK_DISPLAY = "2020-12-23_" + "".join(f"\\x{b:02x}" for b in "数字城管".encode("gbk")) + ".txt"


def _flow_run(inbox: Path, wh: Path):
    from flows.orchestration.flow import bulletin_etl

    return bulletin_etl(inbox=str(inbox), warehouse=str(wh))


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with connection(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory, prefect_harness: str) -> Iterator[tuple[Path, Path, object]]:
    root = tmp_path_factory.mktemp("odd")
    inbox = root / "inbox"
    inbox.mkdir()
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("时政要闻\n\n外部文件\n\n本报讯(记者 某)不应被读取。", encoding="utf-8")

    (inbox / SAMPLE_PAGE.name).write_text(SAMPLE, encoding="utf-8")
    # 2: a name that is not UTF-8 (bytes path); its content is a real page (another week's reprint)
    os.close(os.open(os.fsencode(inbox) + b"/" + GBK_NAME, os.O_WRONLY | os.O_CREAT, 0o644))
    with open(os.fsencode(inbox) + b"/" + GBK_NAME, "wb") as fh:
        fh.write(SAMPLE.replace("共176件", "共176件。").encode("gb18030"))
    # 5: links out of the inbox, and one inside it
    os.symlink("/etc/passwd", inbox / "passwd.txt")
    os.symlink(outside, inbox / "outside_folder")
    os.symlink(outside / "secret.txt", inbox / "secret.txt")
    os.symlink(SAMPLE_PAGE.name, inbox / "link_to_sample.txt")
    # 8: hidden file and folder, FIFO, dangling link, link loop, empty folder
    (inbox / ".swap.txt").write_text(SAMPLE, encoding="utf-8")
    (inbox / ".git").mkdir()
    (inbox / ".git" / "page.txt").write_text(SAMPLE, encoding="utf-8")
    os.mkfifo(inbox / "pipe.txt")
    os.symlink(inbox / "gone.txt", inbox / "dangling.txt")
    os.symlink(inbox / "loop_b.txt", inbox / "loop_a.txt")
    os.symlink(inbox / "loop_a.txt", inbox / "loop_b.txt")
    (inbox / "empty_folder").mkdir()
    # 13: a file over the size limit
    with open(inbox / "huge.txt", "wb") as fh:
        fh.write(b"x" * (LIMIT + 1))

    yield inbox, root / "wh" / "bulletins.duckdb", _limited_run(inbox, root / "wh")


def _limited_run(inbox: Path, wh: Path):
    """A run with the size limit at LIMIT."""
    saved = os.environ.get("BULLETINS_MAX_FILE_BYTES")
    os.environ["BULLETINS_MAX_FILE_BYTES"] = str(LIMIT)
    try:
        return _flow_run(inbox, wh)
    finally:
        if saved is None:
            os.environ.pop("BULLETINS_MAX_FILE_BYTES", None)
        else:
            os.environ["BULLETINS_MAX_FILE_BYTES"] = saved


def _status(db: Path) -> dict[str, tuple[str, list[str]]]:
    return {p: (s, list(r)) for p, s, r in _rows(db, "select path, status, reasons from core.files")}


def test_every_entry_ends_recorded_by_name(odd: tuple[Path, Path, object], reliability) -> None:
    _, db, summary = odd
    status = _status(db)
    assert {p: s for p, (s, _) in status.items()} == {
        "000_3e19ef32d54e8472.txt": "loaded",
        GBK_DISPLAY: "loaded",
        "passwd.txt": "skipped",
        "outside_folder": "skipped",
        "secret.txt": "skipped",
        "link_to_sample.txt": "skipped",
        ".swap.txt": "skipped",
        ".git": "skipped",
        "pipe.txt": "skipped",
        "dangling.txt": "skipped",
        "loop_a.txt": "skipped",
        "loop_b.txt": "skipped",
        "huge.txt": "quarantined",
    }
    assert summary.line().startswith(  # type: ignore[attr-defined]
        "files: 3 new (2 loaded, 0 partial, 1 quarantined), 0 duplicate, 0 unchanged, 10 skipped;"
    )
    reliability.record(
        "8 entries with no status",
        "hidden file and folder, FIFO, dangling link, link loop, empty folder beside real pages",
        f"{len(status)} of {len(status)} entries recorded by name with a status and a reason",
        True,
    )


def test_2_a_name_that_is_not_utf8_is_read_under_a_reversible_name(odd: tuple[Path, Path, object]) -> None:
    _, db, _ = odd
    status, reasons = _status(db)[GBK_DISPLAY]
    assert status == "loaded"
    assert reasons == [f"file name is not UTF-8: recorded as {GBK_DISPLAY} (as GB18030: 2020-12-23_数字城管.txt)"]
    # The display name maps back to the bytes on disk.
    assert os.fsencode(GBK_DISPLAY.encode("ascii").decode("unicode_escape").encode("latin-1")) == GBK_NAME
    assert _rows(db, "select issue_date from core.files where path = ?", [GBK_DISPLAY]) == [
        (__import__("datetime").date(2020, 12, 23),)
    ]


def test_5_links_are_never_followed(odd: tuple[Path, Path, object]) -> None:
    _, db, _ = odd
    status = _status(db)
    assert status["passwd.txt"] == ("skipped", ["symbolic link to /etc/passwd: not followed"])
    assert status["link_to_sample.txt"] == ("skipped", [f"symbolic link to {SAMPLE_PAGE.name}: not followed"])
    assert status["outside_folder"][1][0].startswith("symbolic link to /") and status["outside_folder"][0] == "skipped"
    assert _rows(db, "select count(*) from core.articles where body like '%root:%' or body like '%不应被读取%'") == [
        (0,)
    ]
    assert _rows(db, "select count(*) from raw.articles where original_text like '%root:%'") == [(0,)]


def test_8_special_and_hidden_entries_have_a_reason(odd: tuple[Path, Path, object]) -> None:
    _, db, _ = odd
    status = _status(db)
    assert status["pipe.txt"] == ("skipped", ["not a regular file (FIFO): not read"])
    assert status[".swap.txt"] == ("skipped", ["hidden (name starts with '.'): not read"])
    assert status[".git"] == ("skipped", ["hidden folder (name starts with '.'): not read"])
    assert status["dangling.txt"][1][0].endswith("gone.txt: not followed")
    assert status["loop_a.txt"][1][0].endswith("loop_b.txt: not followed")


def test_13_a_file_over_the_size_limit_is_quarantined_unread(odd: tuple[Path, Path, object]) -> None:
    _, db, _ = odd
    assert _status(db)["huge.txt"] == (
        "quarantined",
        [f"too large: {LIMIT + 1} bytes, over the limit of {LIMIT} (BULLETINS_MAX_FILE_BYTES): not read"],
    )


def test_a_rerun_over_odd_entries_changes_nothing(odd: tuple[Path, Path, object]) -> None:
    inbox, db, _ = odd
    before = _rows(db, "select * from ingest.files order by ingest_seq")
    summary = _limited_run(inbox, db.parent)
    assert (summary.files_new, summary.files_unchanged) == (0, 13)  # type: ignore[attr-defined]
    assert _rows(db, "select * from ingest.files order by ingest_seq") == before


# --- 7: a file rewritten at the same path -------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_7_the_current_content_of_a_path_wins(tmp_path: Path, reliability) -> None:
    lines = SAMPLE.split("\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    page = inbox / "2020-12-23_page.txt"
    page.write_text("\n".join(lines[:111]), encoding="utf-8")  # half copied: the table is cut
    first = _flow_run(inbox, tmp_path / "wh")
    assert first.files_partial == 1
    page.write_text(SAMPLE, encoding="utf-8")  # the copy completes
    os.utime(page, ns=(1, 1_700_000_000_000_000_000))
    second = _flow_run(inbox, tmp_path / "wh")
    assert (second.files_new, second.files_loaded) == (1, 1)

    db = tmp_path / "wh" / "bulletins.duckdb"
    assert _rows(db, "select path, status, reasons from core.files") == [("2020-12-23_page.txt", "loaded", [])]
    assert _rows(db, "select count(*), count(distinct seq) from core.articles") == [(7, 7)]
    assert _rows(db, "select count(*) from core.bulletins") == [(1,)]

    clean_inbox = tmp_path / "clean_inbox"
    clean_inbox.mkdir()
    (clean_inbox / page.name).write_text(SAMPLE, encoding="utf-8")
    _flow_run(clean_inbox, tmp_path / "clean")
    clean = tmp_path / "clean" / "bulletins.duckdb"
    for table in ("core.articles", "core.bulletin_units", "core.published_weeks", "marts.city_week_performance"):
        assert sorted(_rows(db, f"select * from {table}"), key=repr) == sorted(
            _rows(clean, f"select * from {table}"), key=repr
        ), table
    reliability.record(
        "7 file rewritten at the same path",
        "a page cut mid-table, then completed at the same path",
        "status loaded (not the stale partial); 7 articles once each; core and marts as a clean run's",
        True,
    )


# --- the plan, without a run: cheap cases around items 7 and 13 -----------------------


def _recorded(plan, status: str = "loaded") -> list[dict]:
    return [
        {
            "path": i.path,
            "size_bytes": i.size_bytes,
            "modified_ns": i.modified_ns,
            "file_sha256": i.file_sha256,
            "status": i.status or status,
            "over_size_limit": i.over_size_limit,
            "ingest_seq": i.ingest_seq,
        }
        for i in [*plan.to_parse, *plan.recorded_only]
    ]


def test_13_a_file_too_large_is_read_once_the_limit_is_raised(tmp_path: Path) -> None:
    from flows.warehouse.inbox import known_files, plan_run

    (tmp_path / "big.txt").write_text(SAMPLE, encoding="utf-8")
    first = plan_run(tmp_path, known_files([]), max_file_bytes=1000)
    assert [(i.path, i.status) for i in first.not_read] == [("big.txt", "quarantined")]
    known = known_files(_recorded(first))
    assert plan_run(tmp_path, known, max_file_bytes=1000).unchanged == 1  # still too large: not again
    again = plan_run(tmp_path, known, max_file_bytes=LIMIT)
    assert [(i.path, i.ingest_seq, i.duplicate_of) for i in again.to_parse] == [("big.txt", 2, None)]


def test_7_a_path_whose_content_comes_back_is_taken_again(tmp_path: Path) -> None:
    from flows.warehouse.inbox import known_files, plan_run

    page = tmp_path / "page.txt"
    recorded: list[dict] = []
    for n, text in enumerate([SAMPLE, SAMPLE + "\n补记。", SAMPLE], start=1):
        page.write_text(text, encoding="utf-8")
        os.utime(page, ns=(n, n))
        plan = plan_run(tmp_path, known_files(recorded))
        assert [(i.path, i.ingest_seq, i.duplicate_of) for i in plan.to_parse] == [("page.txt", n, None)]
        recorded += _recorded(plan)
