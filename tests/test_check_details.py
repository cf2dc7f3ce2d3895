"""Checks that say what is wrong (issue 17, item 6): the numbers and the line each failed check compared.

In the bulletin (check_details), the file's reasons (`bulletins status`, the run's output),
core.bulletins and the weekly report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline_helpers import to_parquet_lake
from testdata import SAMPLE_PAGE

from flows.parsing import Bulletin, ParsedPage, parse_file
from flows.reporting.report_wording import check_text
from flows.warehouse import build, db, migrate
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.ingest import file_status, process_batch
from flows.warehouse.readers.report_sources import CheckedBulletin, checked_bulletins

EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)
SAMPLE = SAMPLE_PAGE.read_text(encoding="utf-8")


def _bulletin(text: str) -> Bulletin:
    page = parse_file("2020-12-23_page.txt", text.encode())
    assert isinstance(page, ParsedPage)
    (bulletin,) = page.bulletins
    return bulletin


def _changed(old: str, new: str) -> str:
    assert SAMPLE.count(old) == 1, old
    return SAMPLE.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "details"),
    [
        # 驿城区政府 prints 18 instead of 8: the rows sum to 141, the summary (line 95) says 131
        (
            "驿城区政府\t1013件\t8件",
            "驿城区政府\t1013件\t18件",
            ["units_sum_to_overdue: rows sum to 141 (lines 101-114), the bulletin prints 131 (line 95)"],
        ),
        (
            "已结案5184件",
            "已结案5185件",
            [
                "components_sum_to_due: closed + in_progress + overdue + disputed = 5185 + 232 + 131 + 176 = 5724, "
                "the bulletin prints due 5723 (line 93)",
                "closure_rate_matches: closed / due = 5185 / 5723 = 90.60%, the bulletin prints 90.58% (line 95)",
            ],
        ),
        (
            "中国联通驻马店分公司\t59件\t1件\n",
            "",
            [
                "units_sum_to_overdue: rows sum to 130 (lines 101-113), the bulletin prints 131 (line 95)",
                "unit_count_matches: 8 unit rows (lines 101-113), the bulletin prints 9 units (line 95)",
            ],
        ),
        (
            "河南移动驻马店分公司\t55件\t9件",
            "河南移动驻马店分公司\t5件\t9件",
            ["unresolved_le_dispatched: 河南移动驻马店分公司: unresolved 9 > dispatched 5 (line 112)"],
        ),
        (
            "国电驻马店热电有限公司",
            "中国电信驻马店分公司",
            ["units_unique: 中国电信驻马店分公司 listed 2 times (lines 109, 113)"],
        ),
        (
            "2020年12月14日~12月20日",
            "2020年12月14日~12月21日",
            [
                "period_matches_format: the period 2020-12-14..2020-12-21 is 8 days from weekday 1, the format "
                "publishes 7 days, starting on weekday 1 (line 93)"
            ],
        ),
    ],
)
def test_each_failed_check_says_what_it_compared(old: str, new: str, details: list[str]) -> None:
    bulletin = _bulletin(_changed(old, new))
    assert list(bulletin.check_details) == details
    assert bulletin.failed_checks == tuple(d.split(":")[0] for d in details)
    page = parse_file("2020-12-23_page.txt", _changed(old, new).encode())
    assert isinstance(page, ParsedPage)
    assert file_status(page) == ("partial", [f"bulletin 1 (2020-12-14): {d}" for d in details])


def test_a_clean_bulletin_has_no_details() -> None:
    assert _bulletin(SAMPLE).check_details == ()


def test_figures_not_read_are_named() -> None:
    bulletin = _bulletin(_changed("因确权争议未处置案件共176件", "因确权争议未处置案件共若干件"))
    assert bulletin.check_details == ("figures_present: not read: disputed",)


def test_core_bulletins_and_the_weekly_report_carry_the_details(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "2020-12-23_page.txt").write_text(_changed("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t18件"))
    lake_dir = tmp_path / "lake"
    process_batch(inbox, lake_dir, "b1", plan_run(inbox, EMPTY).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    with db.connection(None) as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, lake_dir, ["b1"])
        (bulletin_id, failed, details) = con.execute(
            "select bulletin_id, failed_checks, check_details from core.bulletins"
        ).fetchone()
        assert (failed, details) == (
            ["units_sum_to_overdue"],
            ["units_sum_to_overdue: rows sum to 141 (lines 101-114), the bulletin prints 131 (line 95)"],
        )
        checked = checked_bulletins(con, [bulletin_id])[bulletin_id]
    # the report's own numbers, and the lines of the page they were compared on
    assert check_text(checked, "units_sum_to_overdue") == (
        "units_sum_to_overdue（各单位未办结件合计 141 件，通报的超时未办结 131 件；原文第101–114行、第95行）"
    )


def test_the_report_shows_the_parsers_detail_for_a_check_it_has_no_words_for() -> None:
    b = CheckedBulletin(
        "b-1", None, None, ["rows_add_up"], None, None, None, None, None, None, None, 0, None, 0,
        parser_details={"rows_add_up": "一支队: 完成数 4 + 未完成数 1 = 5, 派遣数 4 (line 89)"},
    )  # fmt: skip
    assert check_text(b, "rows_add_up") == "rows_add_up（一支队: 完成数 4 + 未完成数 1 = 5, 派遣数 4 (line 89)）"
    # a bulletin read before details were recorded: the name alone, as before
    assert check_text(CheckedBulletin("b-2", None, None, ["x"], *[None] * 7, 0, None, 0), "x") == "x"


def test_a_lake_part_from_before_the_details_shows_the_names(tmp_path: Path) -> None:
    """bulletins.check_details came later: an older part loads, its details are the check names."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "2020-12-23_page.txt").write_text(_changed("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t18件"))
    lake_dir = tmp_path / "lake"
    process_batch(inbox, lake_dir, "b1", plan_run(inbox, EMPTY).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    to_parquet_lake(lake_dir, {"bulletins": ["check_details"]})  # the Parquet lake of that version
    assert migrate.migrate(lake_dir, loaded=set()) is not None
    with db.connection(None) as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, lake_dir, ["b1"])
        assert con.execute("select check_details from core.bulletins").fetchone() == (["units_sum_to_overdue"],)
