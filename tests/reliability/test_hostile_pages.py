"""Hostile pages (issue 7, items 1, 6 and 14): no wrong figure reaches the marts.

Each page here is the real sample with one thing changed the way a misprint, a bad
extraction or a hostile user would. The parser-level tests say which check names the
problem; the warehouse-level tests run the flow once over an inbox holding all of them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from testdata import SAMPLE_PAGE

from flows.parsing import ParsedPage, parse_file

SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")


def _parse(name: str, text: str, **kwargs) -> ParsedPage:
    page = parse_file(name, text.encode("utf-8"), **kwargs)
    assert isinstance(page, ParsedPage)
    return page


# --- 6: wrong figures fail a check that names itself ---------------------------------


@pytest.mark.parametrize(
    ("old", "new", "checks"),
    [
        # a space inside a number: once read as 852
        ("4852件", "4 852件", ("figures_present", "numbers_well_formed")),
        # a thousands separator and a decimal point: not a count
        ("应结案5723件", "应结案5,723件", ("figures_present", "numbers_well_formed")),
        ("受理各类城市管理案件4852件", "受理各类城市管理案件4852.5件", ("figures_present", "numbers_well_formed")),
        # a sign: once read as 176 (the identities still held)
        ("共176件", "共-176件", ("figures_present", "numbers_well_formed")),
        ("案件4852件", "案件-4852件", ("figures_present", "numbers_well_formed")),
        # more than 9 digits is a misread
        ("应结案5723件", "应结案57230000000件", ("figures_present", "numbers_well_formed")),
        # the same in the unit tables
        ("驿城区政府\t1013件\t8件", "驿城区政府\t1 013件\t8件", ("numbers_well_formed", "table_complete")),
        (
            "驿城区政府\t1013件\t8件",
            "驿城区政府\t1013件\t-8件",
            ("numbers_well_formed", "table_complete"),
        ),
        # one cell holding the row, a number split by a space: once read as 1 and 13
        (
            "驿城区政府\t1013件\t8件",
            "驿城区政府 1 013件 8件",
            ("numbers_well_formed", "table_complete"),
        ),
    ],
)
def test_malformed_numbers_fail_numbers_well_formed(old: str, new: str, checks: tuple[str, ...]) -> None:
    assert SAMPLE.count(old) == 1
    bulletin = _parse("2020-12-30_misprint.txt", SAMPLE.replace(old, new)).bulletins[0]
    assert bulletin.failed_checks == checks


def test_malformed_figure_is_not_read_at_all() -> None:
    """No wrong value is kept, even in core.bulletins: the figure is left unread (NULL)."""
    bulletin = _parse("2020-12-30_misprint.txt", SAMPLE.replace("4852件", "4 852件")).bulletins[0]
    assert (bulletin.received, bulletin.due, bulletin.closed) == (None, 5723, 5184)
    bulletin = _parse("2020-12-30_misprint.txt", SAMPLE.replace("共176件", "共-176件")).bulletins[0]
    assert bulletin.disputed is None


@pytest.mark.parametrize(
    ("period", "start", "end", "checks"),
    [
        # 8 days, and 31 days: once a second week overlapping the real one
        ("2020年12月14日~12月21日", date(2020, 12, 14), date(2020, 12, 21), ("period_matches_format",)),
        ("2020年12月15日~12月22日", date(2020, 12, 15), date(2020, 12, 22), ("period_matches_format",)),
        (
            "2020年12月14日~1月13日",
            date(2020, 12, 14),
            date(2021, 1, 13),
            ("period_matches_format", "period_before_issue"),
        ),
        # 7 days, but Tuesday to Monday: it overlaps two real weeks
        ("2020年12月15日~12月21日", date(2020, 12, 15), date(2020, 12, 21), ("period_matches_format",)),
        # a week after the issue, and a misprinted year (a week a year before the issue)
        ("2021年12月13日~12月19日", date(2021, 12, 13), date(2021, 12, 19), ("period_before_issue",)),
        ("2019年12月16日~12月22日", date(2019, 12, 16), date(2019, 12, 22), ("period_before_issue",)),
    ],
)
def test_a_period_that_is_not_one_published_week_fails(
    period: str, start: date, end: date, checks: tuple[str, ...]
) -> None:
    text = SAMPLE.replace("2020年12月14日~12月20日", period)
    bulletin = _parse("2020-12-23_misprint.txt", text).bulletins[0]
    assert (bulletin.period_start, bulletin.period_end, bulletin.failed_checks) == (start, end, checks)


def test_the_sample_passes_every_check() -> None:
    page = _parse(SAMPLE_PAGE.name, SAMPLE)
    assert [b.failed_checks for b in page.bulletins] == [()]
    assert (page.issue_date, page.issue_date_source) == (date(2020, 12, 22), "inferred")


def test_an_undecodable_byte_in_a_bulletin_fails_text_intact() -> None:
    """A damaged byte inside a number (48\ufffd52) could be read as 52: the bulletin is not trusted."""
    data = SAMPLE.encode("utf-8").replace("4852件".encode(), b"48\xff52" + "件".encode())
    page = parse_file("2020-12-30_damaged.txt", data)
    assert isinstance(page, ParsedPage)
    assert page.bulletins[0].failed_checks == ("text_intact",)
    # The same byte in an article leaves the bulletin trusted (the file notes the byte).
    data = SAMPLE.encode("utf-8").replace("挂牌仪式".encode(), b"\xff" + "挂牌仪式".encode())
    page = parse_file("2020-12-30_damaged.txt", data)
    assert isinstance(page, ParsedPage)
    assert page.bulletins[0].failed_checks == ()


# --- 14: an issue date is never after the file was first seen (plus a day) -----------


def test_an_absurd_date_on_an_undated_page_does_not_become_its_issue_date() -> None:
    text = SAMPLE + "\n\n本报将于2090年1月1日起改版。\n"
    assert _parse("undated.txt", text).issue_date == date(2090, 1, 1)  # unbounded: believed
    page = _parse("undated.txt", text, not_after=date(2026, 5, 1))
    assert (page.issue_date, page.issue_date_source) == (date(2020, 12, 22), "inferred")


def test_a_future_date_line_or_file_name_is_not_believed() -> None:
    dated = "2090年3月12日 星期日\n" + SAMPLE
    page = _parse("page.txt", dated, not_after=date(2026, 5, 1))
    assert (page.issue_date, page.issue_date_source) == (date(2020, 12, 22), "inferred")
    assert "issue date 2090-03-12 on the page is after the file was first seen: not used" in page.warnings
    page = _parse("2090-03-12_page.txt", SAMPLE, not_after=date(2026, 5, 1))
    assert (page.issue_date, page.issue_date_source) == (date(2020, 12, 22), "inferred")
    assert "issue date 2090-03-12 in the file name is after the file was first seen: not used" in page.warnings
    # A date up to the bound is believed.
    page = _parse("2026-05-01_page.txt", SAMPLE, not_after=date(2026, 5, 1))
    assert (page.issue_date, page.issue_date_source) == (date(2026, 5, 1), "file_name")


# --- 1: a bulletin printing one unit under two spellings ------------------------------
#
# It passes every parser check (the spellings differ), but after aliasing it lists one
# unit twice. That rule belongs to the warehouse (the aliases live there): the bulletin
# is left out of the marts, its file is partial, everything else loads, and neither a
# later run nor a rebuild fails.

ALIAS_TWICE = SAMPLE.replace("驿城区政府\t1013件\t8件", "驿城区政府\t1000件\t5件\n驿城区人民政府\t13件\t3件").replace(
    "存在超时未办结案件的单位共9个", "存在超时未办结案件的单位共10个"
)


def test_the_alias_page_passes_every_parser_check() -> None:
    bulletin = _parse("2020-12-30_alias_twice.txt", ALIAS_TWICE).bulletins[0]
    assert bulletin.failed_checks == ()
    assert [(u.unit_name_raw, u.dispatched, u.unresolved) for u in bulletin.units[:2]] == [
        ("驿城区政府", 1000, 5),
        ("驿城区人民政府", 13, 3),
    ]


@pytest.mark.usefixtures("prefect_harness")
def test_one_unit_under_two_spellings_leaves_its_bulletin_out_and_blocks_nothing(tmp_path: Path, reliability) -> None:
    from flows.orchestration.flow import bulletin_etl
    from flows.settings import Settings
    from flows.warehouse.build import rebuild_warehouse
    from flows.warehouse.db import connection
    from flows.warehouse.readers.status import bulletins_left_out, problem_files

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_text(SAMPLE, encoding="utf-8")
    # A later issue: if it passed, it would win the week.
    (inbox / "2020-12-30_alias_twice.txt").write_text(ALIAS_TWICE, encoding="utf-8")
    wh = tmp_path / "wh"

    summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert (summary.files_loaded, summary.files_partial) == (1, 1)
    reason = "bulletin 1 (2020-12-14): units_unique_after_aliases: 驿城区政府 printed as 驿城区政府 and 驿城区人民政府"
    assert [str(p) for p in summary.problems] == [f"partial 2020-12-30_alias_twice.txt: {reason}"]

    db = wh / "bulletins.duckdb"
    with connection(db, read_only=True) as con:
        assert [(p.status, p.path, p.reasons) for p in problem_files(con)] == [
            ("partial", "2020-12-30_alias_twice.txt", [reason])
        ]
        left_out = bulletins_left_out(con) or []
        assert [(b.path, b.reasons) for b in left_out] == [
            (
                "2020-12-30_alias_twice.txt",
                ["failed check: units_unique_after_aliases: 驿城区政府 printed as 驿城区政府 and 驿城区人民政府"],
            )
        ]
        # The week comes from the sample, figures and units as printed there.
        assert con.execute(
            "select bulletin_id, overdue, units_on_list from marts.city_week_performance"
        ).fetchall() == [(f"{_sha16(SAMPLE)}-1", 131, 9)]
        assert con.execute(
            "select dispatched, unresolved from marts.unit_week_performance where unit_name = '驿城区政府'"
        ).fetchall() == [(1013, 8)]

    # Later runs and a rebuild do not fail.
    again = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert (again.files_new, again.files_unchanged, again.not_run) == (0, 2, None)
    assert rebuild_warehouse(Settings.resolve(inbox, wh)).batches >= 1
    with connection(db, read_only=True) as con:
        assert con.execute("select bulletin_id from marts.city_week_performance").fetchall() == [
            (f"{_sha16(SAMPLE)}-1",)
        ]
    reliability.record(
        "1 one page blocks every run",
        "bulletin printing 驿城区政府 and 驿城区人民政府 (aliases of one unit); then a rerun and a rebuild",
        "file partial: units_unique_after_aliases; week from the other printing; rerun and rebuild ok",
        True,
    )


def _sha16(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- 1 (defence in depth): a data test that fails anyway holds out the file it fails with
#
# Every rule a page can break ends as that page's status; data tests check our code. If
# one fails all the same (a bug), the file it fails with is found, held out of the
# warehouse with a reason naming the file and the test, and everything else loads; later
# runs and a rebuild hold it out the same way.

# Pass every check; the planted test fails on each (4853 and 4854 cases received).
SENTINEL = SAMPLE.replace("案件4852件", "案件4853件")
SENTINEL_2 = SAMPLE.replace("案件4852件", "案件4854件")


def _statuses(db: Path, like: str) -> list[tuple]:
    from flows.warehouse.db import connection

    with connection(db, read_only=True) as con:
        return con.execute(
            "select status, count(*) from core.files where path like ? group by all order by all", [like]
        ).fetchall()


@pytest.mark.usefixtures("prefect_harness")
def test_a_failing_data_test_holds_out_its_file_and_blocks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability
) -> None:
    from pipeline_helpers import make_inbox

    from flows.orchestration.flow import bulletin_etl
    from flows.settings import Settings
    from flows.warehouse import datatests
    from flows.warehouse.build import rebuild_warehouse
    from flows.warehouse.db import connection

    real_tests = datatests.data_tests

    def with_a_planted_bug(sql_dir=None):
        query = "select bulletin_id, file_sha256 from core.bulletins where received in (4853, 4854)"
        return [*real_tests(sql_dir), datatests.DataTest("planted_bug", query, Path("planted_bug.sql"))]

    monkeypatch.setattr(datatests, "data_tests", with_a_planted_bug)
    inbox = make_inbox(tmp_path / "inbox")
    (inbox / "2020-12-30_sentinel.txt").write_text(SENTINEL, encoding="utf-8")
    (inbox / "2020-12-31_sentinel.txt").write_text(SENTINEL_2, encoding="utf-8")
    wh = tmp_path / "wh"
    summary = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert (summary.files_new, summary.files_loaded, summary.files_quarantined) == (8, 6, 2)
    assert [str(p).split(" (")[0] for p in summary.problems] == [
        "quarantined 2020-12-30_sentinel.txt: held out: data test planted_bug failed with this file",
        "quarantined 2020-12-31_sentinel.txt: held out: data test planted_bug failed with this file",
    ]
    db = wh / "bulletins.duckdb"
    with connection(db, read_only=True) as con:
        assert con.execute("select count(*) from marts.city_week_performance").fetchall() == [(6,)]
        assert con.execute(
            "select count(*) from core.bulletins b join ingest.files f using (file_sha256) "
            "where f.path like '%sentinel.txt'"
        ).fetchall() == [(0,)]
        before = con.execute("select * from marts.city_week_performance order by all").fetchall()

    again = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert (again.files_new, again.not_run) == (0, None)
    assert rebuild_warehouse(Settings.resolve(inbox, wh)).batches >= 1
    with connection(db, read_only=True) as con:
        assert con.execute("select * from marts.city_week_performance order by all").fetchall() == before
    assert _statuses(db, "%sentinel.txt") == [("quarantined", 2)]

    # Once the bug is fixed (the SQL changes), the files are tried again and load.
    monkeypatch.setattr(datatests, "data_tests", real_tests)
    monkeypatch.setattr("flows.warehouse.build.models_fingerprint", lambda: "fixed-sql")
    fixed = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert fixed.not_run is None
    assert _statuses(db, "%sentinel.txt") == [("loaded", 2)]
    reliability.record(
        "1 one page blocks every run",
        "a data test that fails (a planted bug) on two files among 8",
        "both held out (quarantined, the reason names the file and the test), 6 loaded; rerun and rebuild ok; "
        "tried again once the SQL changes",
        True,
    )
