"""Issue dates from file names as people write them, and an inferred date marked wherever shown (issue 17, item 2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect
from testdata import SAMPLE_PAGE

from flows.parsing import ParsedPage, parse_file
from flows.parsing.issue_date import from_file_name, issue_date, name_dates
from flows.parsing.normalize import to_lines
from flows.reporting.report_wording import printed_in
from flows.reporting.run_summary import freshness_line
from flows.warehouse.db import connection
from flows.warehouse.readers.report_sources import BulletinSource, bulletin_sources
from flows.warehouse.readers.shared import INFERRED_ISSUE_DATE
from flows.warehouse.readers.status import bulletins_left_out, read_freshness

MARCH_10 = date(2021, 3, 10)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # the ways people write a date, in any position of the name
        ("驻马店日报2021年3月10日第2版.txt", MARCH_10),
        ("2021年03月10日.txt", MARCH_10),
        ("2021年3月10号城管通报.txt", MARCH_10),
        ("2021 年 3 月 10 日.txt", MARCH_10),
        ("２０２１年３月１０日.txt", MARCH_10),  # full-width digits (NFKC)
        ("zmd_20210310.txt", MARCH_10),
        ("20210310.txt", MARCH_10),
        ("通报2021-03-10.html", MARCH_10),
        ("2021_03_10_第2版.txt", MARCH_10),
        ("2021.3.10.txt", MARCH_10),
        ("2021.03.10 城管周报.docx", MARCH_10),
        ("2021-3-10.txt", MARCH_10),
        # traps: none is a date
        ("第20210310期.txt", None),  # an issue number
        ("第 20210310 期.txt", None),
        ("20210310期.txt", None),
        ("电话13920210310.txt", None),  # a phone number: a longer run of digits
        ("000_3e19ef32d54e8472.txt", None),  # a content hash
        ("a20210310b.txt", None),
        ("v2021.3.10.txt", None),  # a version
        ("2021-3_10.txt", None),  # two different separators
        ("20210230.txt", None),  # no such day
        ("2021年13月1日.txt", None),
        ("2021年3月.txt", None),  # no day
        # two dates: the period and the issue; the issue comes after the period, the latest
        ("周报2021.3.1-2021.3.7_2021年3月10日.txt", MARCH_10),
        ("2021年3月10日刊（2021-03-01至2021-03-07）.txt", MARCH_10),
    ],
)
def test_issue_date_from_names_as_people_write_them(name: str, expected: date | None) -> None:
    assert from_file_name(name) == expected


def test_every_date_of_a_name_is_read() -> None:
    assert name_dates("2021.3.1-2021.3.7_2021年3月10日.txt") == [date(2021, 3, 1), date(2021, 3, 7), MARCH_10]


def test_a_name_date_after_the_first_sight_is_not_believed() -> None:
    lines = to_lines("时政要闻\n\n2021年3月9日 星期二\n\n标题")
    found, source, warnings = issue_date("2090年1月1日.txt", lines, not_after=date(2021, 3, 11))
    assert (found, source) == (date(2021, 3, 9), "page")
    assert warnings and "2090-01-01" in warnings[0]


def test_the_zhumadian_daily_name_gives_its_date_through_the_parser() -> None:
    """Golden: a page whose article's dateline is the day before (本报讯 2021年3月9日) takes the name's day."""
    page = "时政要闻\n\n市城管局召开会议\n\n本报讯(记者 王华)2021年3月9日,市城管局召开会议,部署工作。\n".encode()
    parsed = parse_file("驻马店日报2021年3月10日第2版.txt", page)
    assert isinstance(parsed, ParsedPage)
    assert (parsed.issue_date, parsed.issue_date_source) == (MARCH_10, "file_name")
    assert (parsed.articles[0].title, parsed.articles[0].event_date) == ("市城管局召开会议", date(2021, 3, 9))
    unnamed = parse_file("page.txt", page)
    assert isinstance(unnamed, ParsedPage)
    assert (unnamed.issue_date, unnamed.issue_date_source) == (date(2021, 3, 9), "inferred")


def test_an_inferred_issue_date_is_marked_where_it_is_shown(tmp_path: Path) -> None:
    """The sample page has no date in its name nor a date line: its issue date (2020-12-22) is inferred."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE_PAGE.read_bytes())
    (inbox / "2020-12-23_reprint.txt").write_bytes(SAMPLE_PAGE.read_bytes() + b"\n")  # named: wins
    db_path = load_without_prefect(inbox, tmp_path / "wh")
    with connection(db_path, read_only=True) as con:
        (city,) = read_freshness(con, date(2020, 12, 28), 14)
        (superseded,) = bulletins_left_out(con) or []
        ids = [r[0] for r in con.execute("select bulletin_id from core.bulletins order by issue_date").fetchall()]
        sources = bulletin_sources(con, ids)
    # the week is published from the named reprint: its date was read, not inferred
    assert (city.issue_date, city.issue_date_source) == (date(2020, 12, 23), "file_name")
    assert INFERRED_ISSUE_DATE not in freshness_line(city)
    # the superseded printing's date was inferred: `status` says so
    assert (superseded.issue_date, superseded.issue_date_source) == (date(2020, 12, 22), "inferred")
    inferred, named = (sources[i] for i in ids)
    assert printed_in(inferred, inferred.issue_date).endswith("，刊发日期（推断）")
    assert "2020年12月22日" in printed_in(inferred, inferred.issue_date)
    assert INFERRED_ISSUE_DATE not in printed_in(named, named.issue_date)


def test_status_lines_mark_an_inferred_date() -> None:
    from flows.warehouse.readers.status import Freshness

    d = date
    city = Freshness("驻马店", d(2020, 12, 14), d(2020, 12, 20), d(2020, 12, 22), d(2020, 12, 28), 14, "inferred")
    assert "（2020-12-22 刊，刊发日期（推断））" in freshness_line(city)
    assert "inferred 刊发日期（推断）" in city.line()
    source = BulletinSource("b-1", d(2020, 12, 22), "p.txt", False, True, issue_date_source="inferred")
    assert printed_in(source, source.issue_date).endswith("，刊发日期（推断）")
