"""Zip archives in the inbox: each member an entry of its own (`archive.zip!member`).

The hostile archives (bombs, path tricks, nesting, encryption, damage, 10,000 members)
are in tests/reliability/test_hostile_archives.py; here, what a well-formed archive gives.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect, query, snapshot
from testdata import SAMPLE_PAGE

from flows.devtools.input_files import to_docx, to_html
from flows.warehouse import archives, plans
from flows.warehouse.db import connection
from flows.warehouse.inbox import InboxFile, known_files, plan_run
from flows.warehouse.readers.inbox_presence import gone_from_inbox
from flows.warehouse.statuses import DUPLICATE, LOADED, QUARANTINED, SKIPPED

SAMPLE = SAMPLE_PAGE.read_bytes()


def make_zip(members: Sequence[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def gbk_names(archive: bytes, *names: str) -> bytes:
    """The archive with members written `G...G` renamed to GBK names, without the UTF-8 flag
    (as zips made on Windows are): zipfile writes non-ASCII names only as flagged UTF-8."""
    for name in names:
        raw = name.encode("gbk")
        archive = archive.replace(b"G" * len(raw), raw)
    return archive


def files(db_path: Path) -> dict[str, tuple[str, list[str]]]:
    rows = query(db_path, "select path, status, reasons from core.files")
    return {path: (status, list(reasons)) for path, status, reasons in rows}


@pytest.mark.scenario
def test_the_sample_page_in_a_zip_gives_the_same_marts_as_the_page(tmp_path: Path) -> None:
    plain, zipped = tmp_path / "plain", tmp_path / "zipped"
    plain.mkdir()
    zipped.mkdir()
    (plain / SAMPLE_PAGE.name).write_bytes(SAMPLE)
    (zipped / "pages.zip").write_bytes(make_zip([(SAMPLE_PAGE.name, SAMPLE)]))
    a = load_without_prefect(plain, tmp_path / "wa")
    b = load_without_prefect(zipped, tmp_path / "wb")
    marts = snapshot(a, ("marts",))
    assert any(marts.values())  # the sample's week is in the marts
    assert snapshot(b, ("marts",)) == marts
    recorded = files(b)
    assert recorded[f"pages.zip!{SAMPLE_PAGE.name}"][0] == LOADED
    assert recorded["pages.zip"][0] == LOADED
    assert recorded["pages.zip"][1][0].startswith("zip archive: 1 members")
    # lineage: the member's content is the page's (same sha256, same bulletin ids)
    (sha,) = query(b, "select file_sha256 from core.files where path like '%!%'")[0]
    assert sha == query(a, "select file_sha256 from core.files")[0][0]


def test_members_are_entries_with_their_own_status(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "copy.txt").write_bytes(SAMPLE)
    dated = "驻马店日报2021年3月10日第2版.txt"
    data = make_zip(
        [
            ("2021/page.txt", SAMPLE),  # duplicate of copy.txt, by content
            ("G" * len(dated.encode("gbk")), "时政要闻\n\n标题\n\n本报讯 3月9日,正文。".encode()),
            ("__MACOSX/2021/._page.txt", b"\x00\x05\x16\x07"),
            ("empty/", b""),  # a folder: walked, not recorded
        ]
    )
    data = gbk_names(data, dated)
    (inbox / "a.zip").write_bytes(data)
    db_path = load_without_prefect(inbox, tmp_path / "wh")
    recorded = files(db_path)
    assert sorted(recorded) == [
        "a.zip",
        "a.zip!2021/page.txt",
        "a.zip!__MACOSX/2021/._page.txt",
        "a.zip!驻马店日报2021年3月10日第2版.txt",
        "copy.txt",
    ]
    assert recorded["a.zip!2021/page.txt"][0] == DUPLICATE or recorded["copy.txt"][0] == DUPLICATE
    assert recorded["a.zip!__MACOSX/2021/._page.txt"][0] == SKIPPED
    # a GBK name decoded, and the member's own name gives the issue date
    ((issued, source),) = query(
        db_path, "select issue_date::varchar, issue_date_source from core.files where path like '%驻马店日报%'"
    )
    assert (issued, source) == ("2021-03-10", "file_name")
    assert any(r.startswith("in zip archive a.zip") for r in recorded["a.zip!驻马店日报2021年3月10日第2版.txt"][1])


@pytest.mark.scenario
def test_a_rerun_reads_nothing_and_a_changed_archive_only_its_new_members(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    archive = inbox / "a.zip"
    archive.write_bytes(make_zip([("one.txt", SAMPLE)]))
    wh = tmp_path / "wh"
    db_path = load_without_prefect(inbox, wh)
    before = query(db_path, "select path, ingest_seq from ingest.files order by ingest_seq")
    load_without_prefect(inbox, wh)
    assert query(db_path, "select path, ingest_seq from ingest.files order by ingest_seq") == before
    two = "时政要闻\n\n标题二\n\n本报讯 正文。".encode()
    archive.write_bytes(make_zip([("one.txt", SAMPLE), ("two.txt", two)]))
    os.utime(archive, ns=(1, 1))
    load_without_prefect(inbox, wh)
    after = query(db_path, "select path from ingest.files order by ingest_seq")
    # the archive's new bytes are a new row, its new member too; the unchanged member is not read again
    assert [p for (p,) in after] == ["a.zip", "a.zip!one.txt", "a.zip", "a.zip!two.txt"]


@pytest.mark.scenario
def test_a_member_too_large_is_read_once_the_limit_allows(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.zip").write_bytes(make_zip([("page.txt", SAMPLE)]))
    wh = tmp_path / "wh"
    db_path = load_without_prefect(inbox, wh, max_file_bytes=len(SAMPLE) - 1)
    status, reasons = files(db_path)["a.zip!page.txt"]
    assert status == QUARANTINED and reasons[0].startswith(f"too large: {len(SAMPLE)} bytes uncompressed")
    load_without_prefect(inbox, wh, max_file_bytes=len(SAMPLE) - 1)  # still too large: nothing new
    assert query(db_path, "select count(*) from ingest.files")[0][0] == 2
    load_without_prefect(inbox, wh, max_file_bytes=len(SAMPLE))
    assert files(db_path)["a.zip!page.txt"][0] == LOADED
    assert query(db_path, "select count(*) from ingest.files")[0][0] == 3  # the archive's row stays


def test_a_member_gone_from_its_archive_is_gone_from_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    archive = inbox / "a.zip"
    archive.write_bytes(make_zip([("one.txt", SAMPLE), ("two.txt", b"\xe6\xad\xa3\xe6\x96\x87 text")]))
    db_path = load_without_prefect(inbox, tmp_path / "wh")
    with connection(db_path, read_only=True) as con:
        assert gone_from_inbox(con, inbox) == []
        archive.write_bytes(make_zip([("one.txt", SAMPLE)]))
        assert [g.path for g in gone_from_inbox(con, inbox) or []] == ["a.zip!two.txt"]
        archive.unlink()
        assert [g.path for g in gone_from_inbox(con, inbox) or []] == ["a.zip", "a.zip!one.txt", "a.zip!two.txt"]


def test_a_runs_listing_says_what_is_gone_as_the_disk_does(tmp_path: Path) -> None:
    """`gone_from_inbox` with a run's listing (`InboxPlan.listed`) agrees with a look at the disk:
    a removed file, a member gone from its archive, a removed archive, a file in a subfolder.
    A folder the walk lists (hidden, or one it could not list) stands for what it holds."""
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "a.zip").write_bytes(make_zip([("one.txt", SAMPLE), ("two.txt", b"\xe6\xad\xa3\xe6\x96\x87 text")]))
    (inbox / "b.zip").write_bytes(make_zip([("three.txt", SAMPLE + b" ")]))
    (inbox / "sub" / "page.txt").write_bytes(SAMPLE + b"  ")
    (inbox / "gone.txt").write_bytes(SAMPLE + b"   ")
    db_path = load_without_prefect(inbox, tmp_path / "wh")
    (inbox / "a.zip").write_bytes(make_zip([("one.txt", SAMPLE)]))
    (inbox / "b.zip").unlink()
    (inbox / "gone.txt").unlink()
    listed = plan_run(inbox, known_files([])).listed
    with connection(db_path, read_only=True) as con:
        from_disk = [g.path for g in gone_from_inbox(con, inbox) or []]
        from_listing = [g.path for g in gone_from_inbox(con, inbox, listed) or []]
        not_looked_into = (listed - {"sub/page.txt"}) | {"sub"}
        folder_listed = [g.path for g in gone_from_inbox(con, inbox, not_looked_into) or []]
    assert from_disk == from_listing == ["a.zip!two.txt", "b.zip", "b.zip!three.txt", "gone.txt"]
    assert folder_listed == from_listing


def test_an_interrupted_plan_keeps_members_seqs(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.zip").write_bytes(make_zip([("one.txt", SAMPLE), ("two.txt", b"other text")]))
    first = plan_run(inbox, known_files([]), seen_at=datetime(2021, 3, 10, tzinfo=UTC))
    planned = [*first.to_parse, *first.recorded_only]
    plans.write_plan(tmp_path, "run", planned)
    again = plan_run(inbox, known_files([]), planned=plans.read_plans(tmp_path))
    assert sorted(planned, key=lambda i: i.ingest_seq) == sorted(
        [*again.to_parse, *again.recorded_only], key=lambda i: i.ingest_seq
    )
    member = next(i for i in again.to_parse if i.path == "a.zip!one.txt")
    assert (member.archive, member.member, member.parse_name) == ("a.zip", "one.txt", "one.txt")


def test_member_names() -> None:
    data = gbk_names(make_zip([("G" * len("月报/许昌.txt".encode("gbk")), b"")]), "月报/许昌.txt")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (gbk,) = zf.infolist()
    assert gbk.filename != "月报/许昌.txt"  # zipfile reads it as cp437
    assert archives.member_name(gbk) == "月报/许昌.txt"
    assert archives.member_name(zipfile.ZipInfo("a\x01b.txt")) == "a\\x01b.txt"
    assert archives.split_member_path("x/三月.ZIP!a!b.txt") == [("x/三月.ZIP", "a!b.txt")]
    assert archives.split_member_path("a.zip!b.zip!c.txt") == [("a.zip", "b.zip!c.txt"), ("a.zip!b.zip", "c.txt")]
    assert InboxFile("a.zip!d/x.txt", 1, 0, "", 1, archive="a.zip", member="d/x.txt").parse_name == "x.txt"


@pytest.mark.scenario
def test_a_member_is_read_by_its_kind_as_a_file_of_that_name_is(tmp_path: Path) -> None:
    """A web page or a Word file inside a zip gives what it gives in the inbox (`flows.inputs`):
    a .docx is a zip too, and is read, not refused as a zip inside the zip."""
    sql = {
        "units": "select unit_group, unit_name_raw, dispatched, unresolved from core.bulletin_units order by row_no",
        "marts": "select columns(lambda c: c <> 'bulletin_id') from marts.unit_week_performance order by all",
    }

    def build(name: str, data: bytes) -> dict[str, list]:
        inbox = tmp_path / name / "inbox"
        inbox.mkdir(parents=True)
        (inbox / name).write_bytes(data)
        db_path = load_without_prefect(inbox, tmp_path / name / "wh")
        return {k: query(db_path, q) for k, q in sql.items()}

    name = "2020-12-23_p2"
    expected = build(f"{name}.txt", SAMPLE)
    assert expected["units"] and expected["marts"]
    html, docx = to_html("gb2312").encode("gbk"), to_docx()
    for suffix, data in ((".html", html), (".docx", docx)):
        assert build(name + suffix + ".zip", make_zip([(name + suffix, data)])) == expected, suffix


@pytest.mark.scenario
def test_an_archive_over_its_total_bound_is_read_once_the_limit_allows(tmp_path: Path) -> None:
    count = archives.TOTAL_FACTOR + 1
    members = [(f"p{n:02d}.txt", f"时政要闻\n\n标题{n:02d}\n\n正文".encode().ljust(4000, b" ")) for n in range(count)]
    inbox, wh = tmp_path / "inbox", tmp_path / "wh"
    inbox.mkdir()
    (inbox / "a.zip").write_bytes(make_zip(members))
    db_path = load_without_prefect(inbox, wh, max_file_bytes=4000)  # the archive itself is smaller
    status, reasons = files(db_path)["a.zip"]
    assert status == QUARANTINED and reasons[0].startswith(f"too large: members hold {4000 * count} bytes")
    load_without_prefect(inbox, wh, max_file_bytes=4000)  # still over: nothing recorded again
    assert query(db_path, "select count(*) from ingest.files")[0][0] == 1
    load_without_prefect(inbox, wh, max_file_bytes=8000)
    recorded = files(db_path)
    assert recorded["a.zip"][0] == LOADED
    assert [recorded[f"a.zip!p{n:02d}.txt"][0] for n in range(count)] == [LOADED] * count
