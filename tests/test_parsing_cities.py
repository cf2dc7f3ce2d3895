"""Other cities' bulletin pages: Sanmenxia's weekly report read figure by figure, and the
pages no format reads reported as such (values written out by hand from the pages in
tests/fixtures/pages/cities/, copies of ../shared/samples/cities/ and variants of them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from testdata import SAMPLE_PAGE, bulletin

from flows.parsing import Bulletin, BulletinUnitRow, ParsedPage, parse_file
from flows.parsing.formats.sanmenxia_weekly import period
from flows.parsing.records import UnknownBulletin
from flows.warehouse.ingest import file_status

CITIES = Path(__file__).parent / "fixtures" / "pages" / "cities"
HOTLINE, PLATFORM = "12319城管热线", "数字城管平台"


def parse(name: str) -> ParsedPage:
    path = CITIES / name
    page = parse_file(path.name, path.read_bytes())
    assert isinstance(page, ParsedPage)
    return page


def d(rate: str) -> Decimal:
    return Decimal(rate)


def report(**changes: object) -> Bulletin:
    """A Sanmenxia report with nothing but the opening total at city level."""
    fields: dict[str, object] = {
        "article_seq": 2,
        "format": "sanmenxia_weekly",
        "city": "三门峡",
        "line_start": 3,
        "line_end": 0,
    }
    return bulletin(**{**fields, **changes})


# --- the real Sanmenxia pages: each cut mid-table at [gap] -------------------------------


def test_sanmenxia_2020w35_real_page() -> None:
    page = parse("sanmenxia-2020w35.txt")
    # 发布日期: 2021-03-16 09:54 (the report was put on the web months after its week)
    assert (page.issue_date, page.issue_date_source) == (date(2021, 3, 16), "page")
    assert page.unknown_bulletins == ()
    breadcrumb, article = page.articles
    assert (breadcrumb.kind, breadcrumb.line_start, breadcrumb.line_end) == ("news", 1, 2)
    assert (article.kind, article.title) == ("bulletin", "市城管局监督指挥中心周报(2020第35期)11.28—12.04")
    assert (article.line_start, article.line_end) == (3, 236)
    assert "合  计\t16\t15\t1\t94%" in article.body.split("\n")
    (bulletin,) = page.bulletins
    assert bulletin == report(
        period_label="2020第35期",
        period_start=date(2020, 11, 28),
        period_end=date(2020, 12, 4),
        received=1343,  # 共处理案件1343件 = 1259 + 38 + 0 + 46
        units=(
            BulletinUnitRow(HOTLINE, "一支队", 4, 0, 1, 87, 4, d("1.00")),
            BulletinUnitRow(HOTLINE, "二支队", 2, 0, 2, 97, 2, d("1.00")),
            BulletinUnitRow(HOTLINE, "三支队", 4, 0, 3, 107, 4, d("1.00")),
            BulletinUnitRow(HOTLINE, "四支队", 4, 0, 4, 117, 4, d("1.00")),
            BulletinUnitRow(HOTLINE, "环卫处", 1, 1, 5, 127, 0, d("0.00")),
            BulletinUnitRow(HOTLINE, "渣土办", 1, 0, 6, 137, 1, d("1.00")),
            BulletinUnitRow(PLATFORM, "一支队", 197, 3, 7, 207, 194, d("0.985")),
            BulletinUnitRow(PLATFORM, "二支队", 218, 0, 8, 217, 218, d("1.00")),
            BulletinUnitRow(PLATFORM, "三支队", 260, 0, 9, 227, 260, d("1.00")),
        ),
        # The 数字城管平台 table stops after 三支队 (the copy ends at [gap]): no 合计 row.
        failed_checks=("table_complete",),
        check_details=("table_complete: 数字城管平台 (line 207): no 合计 row (the page may be cut off)",),
        line_end=236,
    )
    assert file_status(page) == ("partial", [f"bulletin 1 (2020-11-28): {page.bulletins[0].check_details[0]}"])


def test_sanmenxia_2021w07_real_page() -> None:
    page = parse("sanmenxia-2021w07.txt")
    assert (page.issue_date, page.issue_date_source) == (date(2021, 9, 3), "page")
    assert page.unknown_bulletins == ()
    assert [(a.kind, a.line_start, a.line_end) for a in page.articles] == [("news", 1, 2), ("bulletin", 3, 227)]
    (bulletin,) = page.bulletins
    assert bulletin == report(
        period_label="2021第7期",
        period_start=date(2021, 2, 27),
        period_end=date(2021, 3, 5),
        received=1282,  # 1187 + 48 + 0 + 47
        units=(
            BulletinUnitRow(HOTLINE, "一支队", 1, 0, 1, 95, 1, d("1.00")),
            BulletinUnitRow(HOTLINE, "四支队", 3, 0, 2, 105, 3, d("1.00")),
            BulletinUnitRow(HOTLINE, "广告执法大队", 1, 0, 3, 115, 1, d("1.00")),
            BulletinUnitRow(HOTLINE, "犬只收容大队", 2, 0, 4, 125, 2, d("1.00")),
            BulletinUnitRow(HOTLINE, "渣土办", 2, 0, 5, 135, 2, d("1.00")),
            BulletinUnitRow(PLATFORM, "一支队", 167, 17, 6, 201, 150, d("0.898")),
            BulletinUnitRow(PLATFORM, "二支队", 193, 8, 7, 211, 185, d("0.959")),
            # cut mid-row: 三支队 207 205, then [gap]
            BulletinUnitRow(PLATFORM, "三支队", 207, None, 8, 221, 205, None),
        ),
        failed_checks=("table_complete",),
        check_details=(
            "table_complete: 数字城管平台 (line 201): no 合计 row (the page may be cut off); "
            "三支队: a cell missing or unreadable (line 221)",
        ),
        line_end=227,
    )
    assert file_status(page) == ("partial", [f"bulletin 1 (2021-02-27): {page.bulletins[0].check_details[0]}"])


# --- variants of the 2021w07 page (tests/fixtures/make_city_variants.py) -----------------

COMPLETE_PLATFORM = (
    (PLATFORM, "一支队", 167, 17, 150, "0.898"),
    (PLATFORM, "二支队", 193, 8, 185, "0.959"),
    (PLATFORM, "三支队", 207, 2, 205, "0.990"),
    (PLATFORM, "四支队", 210, 20, 190, "0.905"),
    (PLATFORM, "环卫处", 250, 22, 228, "0.912"),
    (PLATFORM, "渣土办", 160, 6, 154, "0.963"),  # 154/160 = 96.25%: half-up 96.3
)
HOTLINE_2021W07 = (
    (HOTLINE, "一支队", 1, 0, 1, "1.00"),
    (HOTLINE, "四支队", 3, 0, 3, "1.00"),
    (HOTLINE, "广告执法大队", 1, 0, 1, "1.00"),
    (HOTLINE, "犬只收容大队", 2, 0, 2, "1.00"),
    (HOTLINE, "渣土办", 2, 0, 2, "1.00"),
)


def _rows(bulletin: Bulletin) -> tuple[tuple[object, ...], ...]:
    return tuple(
        (u.unit_group, u.unit_name_raw, u.dispatched, u.unresolved, u.closed, str(u.closure_rate_published))
        for u in bulletin.units
    )


def test_complete_table_with_total_is_clean() -> None:
    page = parse("sanmenxia-2021w07-complete.txt")
    (bulletin,) = page.bulletins
    assert bulletin.failed_checks == ()
    assert _rows(bulletin) == HOTLINE_2021W07 + COMPLETE_PLATFORM
    assert [u.line_no for u in bulletin.units] == [95, 105, 115, 125, 135, 201, 211, 221, 231, 241, 251]
    assert [u.row_no for u in bulletin.units] == list(range(1, 12))
    assert (bulletin.line_start, bulletin.line_end) == (3, 269)
    assert file_status(page) == ("loaded", [])


def test_pipe_layout_reads_the_same_rows() -> None:
    page = parse("sanmenxia-2021w07-pipes.txt")
    (bulletin,) = page.bulletins
    assert bulletin.failed_checks == ()
    assert _rows(bulletin) == HOTLINE_2021W07 + COMPLETE_PLATFORM
    # one row a line: the hotline table on lines 85-91, the platform's on 129-136
    assert [u.line_no for u in bulletin.units] == [86, 87, 88, 89, 90, 130, 131, 132, 133, 134, 135]
    assert (bulletin.period_label, bulletin.period_start, bulletin.received) == ("2021第7期", date(2021, 2, 27), 1282)
    assert "合 计\t1187\t1112\t75\t93.7%" not in page.articles[1].body  # cells kept as printed
    assert "合  计\t1187\t1112\t75\t93.7%" in page.articles[1].body.split("\n")


def test_week_across_new_year_takes_its_years_from_the_label() -> None:
    page = parse("sanmenxia-2021w01-new-year.txt")
    (bulletin,) = page.bulletins
    assert (bulletin.period_label, bulletin.period_start, bulletin.period_end) == (
        "2021第1期",
        date(2020, 12, 26),
        date(2021, 1, 1),
    )
    assert (page.issue_date, bulletin.failed_checks) == (date(2021, 1, 5), ())


def test_misprinted_total_fails_by_name() -> None:
    page = parse("sanmenxia-2021w07-total-misprinted.txt")
    (bulletin,) = page.bulletins
    # 合计 10 | 10 | 0 | 100%: adds up and rounds, but the rows sum to 9 and the text says 9.
    assert bulletin.failed_checks == ("totals_match_rows", "totals_match_summary")
    assert _rows(bulletin) == HOTLINE_2021W07 + COMPLETE_PLATFORM  # 合计 is checked, not stored
    assert file_status(page) == (
        "partial",
        [
            "bulletin 1 (2021-02-27): totals_match_rows: 12319城管热线: rows sum to 9/9/0, 合计 prints 10/10/0 "
            "(派遣/完成/未完成, line 145)",
            "bulletin 1 (2021-02-27): totals_match_summary: 12319城管热线: 合计 dispatched 10 (line 145), "
            "the text prints 9",
        ],
    )


# --- Sanmenxia checks, one change at a time on the complete page ------------------------

COMPLETE = (CITIES / "sanmenxia-2021w07-complete.txt").read_text(encoding="utf-8")


def _checks_after(old: str, new: str, text: str = COMPLETE) -> tuple[str, ...]:
    assert text.count(old) == 1, old
    page = parse_file("page.txt", text.replace(old, new).encode())
    assert isinstance(page, ParsedPage)
    (bulletin,) = page.bulletins
    return bulletin.failed_checks


@pytest.mark.parametrize(
    ("old", "new", "failed"),
    [
        # title without its 期 label: no year, no week
        ("周报(2021第7期)2.27—3.05", "周报2.27—3.05", ("period_parsed",)),
        ("共处理案件1282件", "共处理案件若干", ("figures_present",)),
        ("共处理案件1282件", "共处理案件1283件", ("channels_sum_to_total",)),
        # a row that does not add up (and so cannot match its rate)
        (
            "一支队\n\n167\n\n150\n\n17",
            "一支队\n\n167\n\n151\n\n17",
            ("rows_add_up", "row_rates_match", "totals_match_rows"),
        ),
        # a rate misprinted: 150/167 = 89.82% is 89.8%, not 89.9%
        ("89.8%", "89.9%", ("row_rates_match",)),
        # rounding half-up: 154/160 = 96.25% prints 96.3% (96.2% would be half-even)
        ("96.3%", "96.2%", ("row_rates_match",)),
        ("未完成75件", "未完成76件", ("totals_match_summary",)),
        ("犬只收容大队", "广告执法大队", ("units_unique",)),
        # a row whose completed count exceeds what was dispatched
        (
            "渣土办\n\n2\n\n2\n\n0\n\n100%\n\n合  计\n\n9\n\n9\n\n0",
            "渣土办\n\n2\n\n3\n\n-1\n\n100%\n\n合  计\n\n9\n\n9\n\n0",
            ("table_complete",),  # "-1" is not a count: the row is not whole
        ),
        # the 合计 row missing: the table never closes
        ("合  计\n\n1187\n\n1112\n\n75\n\n93.7%", "", ("table_complete",)),
        # a table announced (完成情况如下) but absent
        (
            "部门\n\n派遣数\n\n完成数\n\n未完成数\n\n完成率\n\n一支队\n\n1\n\n1\n\n0\n\n100%\n\n四支队\n\n3\n\n3\n\n0\n\n100%\n\n"
            "广告执法大队\n\n1\n\n1\n\n0\n\n100%\n\n犬只收容大队\n\n2\n\n2\n\n0\n\n100%\n\n渣土办\n\n2\n\n2\n\n0\n\n100%\n\n"
            "合  计\n\n9\n\n9\n\n0\n\n100%\n\n",
            "",
            ("table_complete",),
        ),
    ],
)
def test_sanmenxia_checks(old: str, new: str, failed: tuple[str, ...]) -> None:
    assert _checks_after(old, new) == failed


def test_unresolved_above_dispatched_fails() -> None:
    # 0 + 3 != 2 and 3 > 2: the row is whole but wrong twice
    old = "渣土办\n\n2\n\n2\n\n0\n\n100%"
    assert _checks_after(old, "渣土办\n\n2\n\n0\n\n3\n\n0%") == (
        "rows_add_up",
        "totals_match_rows",
        "unresolved_le_dispatched",
    )


def test_pipe_row_cut_short_is_incomplete() -> None:
    pipes = (CITIES / "sanmenxia-2021w07-pipes.txt").read_text(encoding="utf-8")
    cut = pipes[: pipes.index("环卫处 | 250 |") + len("环卫处 | 250 |")] + " 228"
    page = parse_file("page.txt", cut.encode())
    assert isinstance(page, ParsedPage)
    (bulletin,) = page.bulletins
    assert bulletin.failed_checks == ("table_complete",)
    assert bulletin.units[-1] == BulletinUnitRow(PLATFORM, "环卫处", 250, None, 10, 134, 228, None)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("市城管局监督指挥中心周报(2021第7期)2.27—3.05", ("2021第7期", date(2021, 2, 27), date(2021, 3, 5))),
        ("市城管局监督指挥中心周报(2020第35期)11.28—12.04", ("2020第35期", date(2020, 11, 28), date(2020, 12, 4))),
        # across New Year: an early 期 belongs to the year the week ends in
        ("市城管局监督指挥中心周报(2021第1期)12.26—1.01", ("2021第1期", date(2020, 12, 26), date(2021, 1, 1))),
        # ... a late one to the year it starts in
        ("市城管局监督指挥中心周报(2020第53期)12.26—1.01", ("2020第53期", date(2020, 12, 26), date(2021, 1, 1))),
        # a whole week in December numbered as the next year's first, and the reverse
        ("市城管局监督指挥中心周报(2022第1期)12.25—12.31", ("2022第1期", date(2021, 12, 25), date(2021, 12, 31))),
        ("市城管局监督指挥中心周报(2021第52期)1.02—1.08", ("2021第52期", date(2022, 1, 2), date(2022, 1, 8))),
        ("市城管局监督指挥中心周报( 2021 第 7 期 )2月27日—3月5日", ("2021第7期", date(2021, 2, 27), date(2021, 3, 5))),
        ("市城管局监督指挥中心周报(2021第7期)2.30—3.05", ("2021第7期", None, date(2021, 3, 5))),
        ("市城管局监督指挥中心周报2.27—3.05", (None, None, None)),
    ],
)
def test_period_from_the_title(title: str, expected: tuple[str | None, date | None, date | None]) -> None:
    assert period(title) == expected


# --- pages no format reads --------------------------------------------------------------

UNKNOWN = {
    "tianmen-2016-12.txt": (
        "天门:数字化城市管理12月绩效情况通报", 2, ("figures (受理, 案件, 立案) at line 3",),
        date(2017, 1, 3), "inferred", (1, 15),
    ),
    "zhengzhou-2019w15.txt": (
        "每周运行分析报告(2019年4月8日至4月14日)", 2,
        ("figures (受理, 案件, 立案) at line 5", "table 城区|未派遣数|应结案数… of 4 rows at line 31"),
        date(2019, 4, 14), "inferred", (1, 36),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_unknown_format_is_reported_not_misread(name: str) -> None:
    title, line_no, seen, issued, source, (first, last) = UNKNOWN[name]
    page = parse(name)
    assert page.bulletins == ()  # no phantom bulletin of another format
    assert page.unknown_bulletins == (UnknownBulletin(title, line_no, seen),)
    assert (page.issue_date, page.issue_date_source) == (issued, source)
    # the text loads as articles (the segmenter sees one untitled item on these pages)
    assert [(a.kind, a.line_start, a.line_end) for a in page.articles] == [("news", first, last)]
    reason = f"unknown bulletin format: {title} (line {line_no}); seen: {', '.join(seen)}"
    assert file_status(page) == ("loaded", [reason])


def test_every_real_city_page_is_either_read_or_reported() -> None:
    """None of the real pages ends partial for a format that is not its own."""
    for path in sorted(CITIES.glob("*.txt")):
        if path.stem.count("-") > 1:
            continue  # a derived variant
        page = parse(path.name)
        formats = {b.format for b in page.bulletins}
        if path.name.startswith("sanmenxia-"):
            assert (formats, page.unknown_bulletins) == ({"sanmenxia_weekly"}, ()), path.name
        else:
            assert (formats, len(page.unknown_bulletins)) == (set(), 1), path.name


def test_the_zhumadian_page_has_no_unknown_bulletin() -> None:
    page = parse_file(SAMPLE_PAGE.name, SAMPLE_PAGE.read_bytes())
    assert isinstance(page, ParsedPage)
    assert (page.unknown_bulletins, [b.format for b in page.bulletins]) == ((), ["zhumadian_weekly"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a news item about city management, no report title: not a bulletin
        ("要闻\n\n市城管局开展占道经营专项整治\n\n本报讯(记者 王某)12月1日,市城管局处置案件120件。", ()),
        # a report title without the subject: not ours to report
        ("要闻\n\n全市经济运行情况通报\n\n1-11月,规模以上工业增加值增长5%,受理项目12个。", ()),
        # title, subject and figures
        (
            "要闻\n\n某市数字城管运行情况通报\n\n本周受理案件1200件,结案率95%。",
            (UnknownBulletin("某市数字城管运行情况通报", 3, ("figures (受理, 案件, 结案) at line 5",)),),
        ),
        # subject below a bare report title (Zhengzhou), figures further down
        (
            "每周运行分析报告\n一、数字城管平台总体运行情况\n(一)全市案件统计\n全市共受理案件51571件。",
            (UnknownBulletin("每周运行分析报告", 1, ("figures (受理, 案件) at line 4",)),),
        ),
        # ... but not with no figures after it
        ("某市数字城管运行情况通报\n\n详见附件。", ()),
    ],
)
def test_what_looks_like_a_bulletin(text: str, expected: tuple[UnknownBulletin, ...]) -> None:
    page = parse_file("page.txt", text.encode())
    assert isinstance(page, ParsedPage)
    assert (page.bulletins, page.unknown_bulletins) == ((), expected)


def test_sanmenxia_tables_as_tab_rows_read_as_their_pipe_rows() -> None:
    """A web page, Word or Excel table reaches the format as tab-separated rows (flows.inputs):
    the same departments as the pipe rows the publisher prints (before: 0 rows, table_complete failed)."""
    text = (CITIES / "sanmenxia-2021w07-pipes.txt").read_text(encoding="utf-8")
    tabbed = "\n".join(
        "\t".join(c.strip() for c in line.strip().strip("|").split("|")) if line.count("|") >= 2 else line
        for line in text.splitlines()
    )
    assert "|" not in tabbed.split("周报", 1)[1]
    piped, tabs = parse_file("pipes.txt", text.encode()), parse_file("tabs.txt", tabbed.encode())
    assert isinstance(piped, ParsedPage) and isinstance(tabs, ParsedPage)
    assert [len(b.units) for b in tabs.bulletins] == [len(b.units) for b in piped.bulletins] == [11]
    assert [b.units for b in tabs.bulletins] == [b.units for b in piped.bulletins]
    assert [b.failed_checks for b in tabs.bulletins] == [()]
