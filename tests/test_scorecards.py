"""Monthly and quarterly scorecards: Xuchang's 运行情况通报 and Sanmenxia's 月报, from the
page to marts.unit_period_scores (values written out by hand from the pages in
tests/fixtures/pages/cities/: the real Xuchang sample, cut at [gap], and variants of it)."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import load_without_prefect, query, to_parquet_lake
from test_marts_golden import assert_rows

from flows.parsing import ParsedPage, parse_file
from flows.parsing.formats.sanmenxia_weekly import monthly_period
from flows.parsing.formats.xuchang_scorecard import period, score_line
from flows.parsing.records import ScoreRow
from flows.warehouse import corrections, lake_audit, migrate
from flows.warehouse.corrections import DecidedFile
from flows.warehouse.ingest import file_status

CITIES = Path(__file__).parent / "fixtures" / "pages" / "cities"
SAMPLE = CITIES / "xuchang-2021-10.txt"  # the real page, cut mid-name at [gap]
COMPLETE = CITIES / "xuchang-2021-10-complete.txt"  # the same page without the cut line
SANMENXIA_MONTHLY = CITIES / "sanmenxia-2021m02-monthly.txt"  # the 2021w07 tables under a 月报 title
D = date.fromisoformat
COUNTIES, BUILT_UP, CITY_UNITS, TOWNS = "县、市组", "建成区组", "市直及企事业单位组", "乡、镇、街道办事处组"


def parse(path: Path, text: str | None = None) -> ParsedPage:
    page = parse_file(path.name, (text if text is not None else path.read_text(encoding="utf-8")).encode())
    assert isinstance(page, ParsedPage)
    return page


# (group, unit, score, grade, rank, list, line) of every unit the sample prints, in order
SAMPLE_SCORES: list[tuple[str, str, str, str | None, int | None, str, int]] = [
    (COUNTIES, "鄢陵县", "99.02", None, 1, "none", 16),
    (COUNTIES, "襄城县", "98.99", None, 2, "none", 18),
    (COUNTIES, "禹州市", "98.42", None, 3, "none", 20),
    (COUNTIES, "长葛市", "95", None, 4, "none", 22),
    (BUILT_UP, "东城区", "93.46", "优秀", 1, "none", 26),
    (BUILT_UP, "示范区", "88", "良好", 2, "none", 28),
    (BUILT_UP, "魏都区", "82.94", "合格", 3, "none", 30),
    (BUILT_UP, "开发区", "82.72", "合格", 4, "none", 32),
    (BUILT_UP, "建安区", "75.07", "合格", 5, "none", 34),
    # 许昌供电公司、中国广电...、市国有产业投资有限公司(100分): five units, one score, rank 1 each
    (CITY_UNITS, "许昌供电公司", "100", None, 1, "good", 40),
    (CITY_UNITS, "中国广电河南网络有限公司许昌分公司", "100", None, 1, "good", 40),
    (CITY_UNITS, "中石油许昌分公司", "100", None, 1, "good", 40),
    (CITY_UNITS, "市文化广电和旅游局", "100", None, 1, "good", 40),
    (CITY_UNITS, "市国有产业投资有限公司", "100", None, 1, "good", 40),
    (CITY_UNITS, "市公安局", "99.41", None, 6, "good", 42),
    (CITY_UNITS, "市市场监督管理局", "93.01", None, 7, "good", 44),
    (CITY_UNITS, "市市场发展服务中心", "92.01", None, 8, "good", 46),
    (CITY_UNITS, "许昌邮政公司", "91", None, 9, "good", 48),
    # the bad list: the bottom of the ranking, whose place in it is not printed
    (CITY_UNITS, "河南报业集团达利广告公司", "56", None, None, "bad", 52),
    (CITY_UNITS, "市供销社", "52", None, None, "bad", 54),
    (CITY_UNITS, "许昌电气职业学院", "48", None, None, "bad", 56),
    (CITY_UNITS, "中石化许昌分公司", "41.1", None, None, "bad", 58),
    (CITY_UNITS, "高铁北站", "0", None, None, "bad", 60),
    (TOWNS, "东城区永昌办事处", "100", None, 1, "good", 66),
    (TOWNS, "建安区河街乡", "96.69", None, 2, "good", 68),
    (TOWNS, "魏都区南关办事处", "96.21", None, 3, "good", 70),
    (TOWNS, "魏都区西关办事处", "92.44", None, 4, "good", 72),
    (TOWNS, "东城区半截河办事处", "91.78", None, 5, "good", 74),
    (TOWNS, "建安区苏桥镇", "63.5", None, None, "bad", 78),
    (TOWNS, "示范区魏武办事处", "58.67", None, None, "bad", 80),
    (TOWNS, "建安区新元办事处", "51.75", None, None, "bad", 82),
    (TOWNS, "魏都区产业集聚区", "49.06", None, None, "bad", 84),
    # line 86: 建安区产业集 (cut mid-name), then [gap]: not read, the check fails
]


# --- parsing ----------------------------------------------------------------------------


def test_the_real_xuchang_page_is_read_score_by_score_and_its_cut_fails_a_check() -> None:
    page = parse(SAMPLE)
    assert page.unknown_bulletins == ()  # no longer "unknown bulletin format"
    (card,) = page.bulletins
    assert (card.format, card.city, card.period_kind) == ("xuchang_scorecard", "许昌", "month")
    assert (card.period_label, card.period_start, card.period_end) == ("2021年10月份", D("2021-10-01"), D("2021-10-31"))
    assert (card.line_start, card.line_end, page.issue_date) == (4, 87, D("2021-11-09"))
    assert card.units == () and card.received is None  # no case figure is printed
    assert card.scores == tuple(
        ScoreRow(group, name, Decimal(score), grade, rank, lst, False, k, line)  # type: ignore[arg-type]
        for k, (group, name, score, grade, rank, lst, line) in enumerate(SAMPLE_SCORES, start=1)
    )
    assert card.failed_checks == ("table_complete",)
    # The check says what it found: the cut lines (86: 建安区产业集, 87: [gap]).
    assert card.check_details == ("table_complete: 2 line(s) of the score section not read (line 86, 87)",)
    assert file_status(page) == (
        "partial",
        ["bulletin 1 (2021-10-01): table_complete: 2 line(s) of the score section not read (line 86, 87)"],
    )
    assert [(a.kind, a.line_start, a.line_end) for a in page.articles] == [("news", 1, 2), ("bulletin", 4, 87)]


def test_the_complete_page_passes_every_check() -> None:
    (card,) = parse(COMPLETE).bulletins
    assert card.failed_checks == ()
    assert len(card.scores) == len(SAMPLE_SCORES)


def test_score_lines() -> None:
    assert score_line("甲区、乙区、丙区(100分)") == (["甲区", "乙区", "丙区"], Decimal("100"), None)
    assert score_line("东城区(93.46分)(优秀等次)") == (["东城区"], Decimal("93.46"), "优秀")
    assert score_line("高铁北站(无数据)") == (["高铁北站"], None, None)  # no data: never 0
    assert score_line("建安区产业集") is None
    assert score_line("各县(市、区)人民政府(管委会),市直有关单位:") is None


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "许昌市数字化城市管理系统2021年10月份运行情况通报",
            ("month", "2021年10月份", D("2021-10-01"), D("2021-10-31")),
        ),
        ("许昌市数字化城市管理系统2021年2月份运行情况通报", ("month", "2021年2月份", D("2021-02-01"), D("2021-02-28"))),
        (
            "许昌市数字化城市管理系统2021年第三季度运行情况通报",
            ("quarter", "2021年第三季度", D("2021-07-01"), D("2021-09-30")),
        ),
        (
            "许昌市数字化城市管理系统2021年4季度运行情况通报",
            ("quarter", "2021年4季度", D("2021-10-01"), D("2021-12-31")),
        ),
        ("许昌市数字化城市管理系统运行情况通报", ("month", None, None, None)),
    ],
)
def test_xuchang_period(title: str, expected: tuple[str, str | None, date | None, date | None]) -> None:
    assert period(title) == expected


HEADER = "许昌市数字化城市管理系统{period}运行情况通报\n\n【信息时间:{issued} 09:34\n\n一、得分情况\n\n"


def card_page(body: str, period_text: str = "2021年11月份", issued: str = "2021-12-08") -> str:
    return HEADER.format(period=period_text, issued=issued) + body


@pytest.mark.parametrize(
    ("body", "period_text", "failed"),
    [
        ("(一)县、市组\n甲县(99分)\n乙县(无数据)\n", "2021年11月份", ()),
        ("(一)县、市组\n甲县(99分)\n乙县(101分)\n", "2021年11月份", ("scores_in_range", "ranks_consistent")),
        ("(一)县、市组\n甲县(99分)(特优等次)\n", "2021年11月份", ("grades_known",)),
        ("(一)县、市组\n甲县(90分)\n乙县(95分)\n", "2021年11月份", ("ranks_consistent",)),
        (
            "(一)市直组\n1、案件处置好的单位\n甲局(60分)\n2、案件处置差的单位\n乙局(70分)\n",
            "2021年11月份",
            ("ranks_consistent",),
        ),
        ("(一)县、市组\n甲县(99分)\n甲 县(98分)\n", "2021年11月份", ("units_unique",)),
        ("(一)县、市组\n(二)建成区组\n东城区(90分)\n", "2021年11月份", ("table_complete",)),
        ("(一)市直组\n1、案件处置好的单位\n2、案件处置差的单位\n乙局(70分)\n", "2021年11月份", ("table_complete",)),
        ("各单位要高度重视。\n", "2021年11月份", ("groups_present",)),
        ("(一)县、市组\n甲县(99分)\n", "2021年12月份", ("period_before_issue",)),
        ("(一)县、市组\n甲县(99分)\n", "2021年13月份", ("period_parsed",)),
        ("(一)县、市组\n甲县(99分)\n", "2021年第四季度", ("period_before_issue",)),
        # the page stops mid-table, as the real sample does: a failed check, never a crash
        ("(一)县、市组\n甲县(99分)\n乙县(9", "2021年11月份", ("table_complete",)),
    ],
)
def test_scorecard_checks(body: str, period_text: str, failed: tuple[str, ...]) -> None:
    (card,) = parse(Path("card.txt"), card_page(body, period_text)).bulletins
    assert card.failed_checks == failed


def test_no_data_is_no_score_and_no_rank() -> None:
    (card,) = parse(Path("card.txt"), card_page("(一)县、市组\n甲县(99分)\n乙县(无数据)\n丙县(98分)\n")).bulletins
    assert [(s.unit_name_raw, s.score, s.no_data, s.rank) for s in card.scores] == [
        ("甲县", Decimal("99"), False, 1),
        ("乙县", None, True, None),
        ("丙县", Decimal("98"), False, 2),
    ]
    assert card.failed_checks == ()


def test_sanmenxia_monthly_report_is_read_as_a_month() -> None:
    page = parse(SANMENXIA_MONTHLY)
    (report,) = page.bulletins
    assert (report.format, report.period_kind, report.period_label) == ("sanmenxia_weekly", "month", "2021第2期")
    assert (report.period_start, report.period_end, report.failed_checks) == (D("2021-02-01"), D("2021-02-28"), ())
    assert report.received == 1282 and len(report.units) == 11
    # the 周报 it was made from is still a week
    (week,) = parse(CITIES / "sanmenxia-2021w07-complete.txt").bulletins
    assert (week.period_kind, week.period_start) == ("week", D("2021-02-27"))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("市城管局监督指挥中心月报(2021第2期)2.01—2.28", ("2021第2期", D("2021-02-01"), D("2021-02-28"))),
        ("市城管局监督指挥中心月报(2021第2期)2月", ("2021第2期", D("2021-02-01"), D("2021-02-28"))),
        ("市城管局监督指挥中心月报(2021第12期)2021年12月", ("2021第12期", D("2021-12-01"), D("2021-12-31"))),
        ("市城管局监督指挥中心月报(2021第2期)2月1日—2月28日", ("2021第2期", D("2021-02-01"), D("2021-02-28"))),
        ("市城管局监督指挥中心月报(2021第2期)", (None, None, None)),
    ],
)
def test_sanmenxia_monthly_period(title: str, expected: tuple[str | None, date | None, date | None]) -> None:
    assert monthly_period(title) == expected


def test_a_monthly_report_that_is_not_a_calendar_month_fails() -> None:
    text = SANMENXIA_MONTHLY.read_text(encoding="utf-8").replace("(2021第2期)2.01—2.28", "(2021第2期)2.02—2.28")
    (report,) = parse(SANMENXIA_MONTHLY, text).bulletins
    assert report.failed_checks == ("period_matches_format",)


# --- the mart ----------------------------------------------------------------------------

COLUMNS = (
    "city",
    "period_kind",
    "period_start",
    "period_end",
    "period_label",
    "unit_group",
    "unit_name",
    "bulletin_id",
    "printed",
    "score",
    "no_data",
    "grade",
    "rank",
    "score_list",
    "on_bad_list",
    "dispatched",
    "closed",
    "unresolved",
    "closure_rate_published",
    "prev_period_start",
    "prev_period_published",
    "prev_printed",
    "prev_score",
    "prev_grade",
    "prev_rank",
    "prev_on_bad_list",
    "score_change",
    "rank_change",
    "grade_change",
    "bad_list_change",
    "bad_list_streak",
    "bad_list_periods_total",
)
ORDER = "period_start, unit_group, unit_name"


def bulletin_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16] + "-1"


def mart(db: Path, where: str = "true") -> tuple[list[str], list[tuple[Any, ...]]]:
    from flows.warehouse.db import connection

    with connection(db, read_only=True) as con:
        cursor = con.execute(f"select * from marts.unit_period_scores where {where} order by {ORDER}")
        return [d[0] for d in cursor.description], cursor.fetchall()


def sort(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["period_start"], r["unit_group"], r["unit_name"]))


def october_rows(bid: str) -> list[dict[str, Any]]:
    """Every unit the sample prints, as its first published month: nothing to compare with."""
    return sort(
        [
            {
                "city": "许昌",
                "period_kind": "month",
                "period_start": D("2021-10-01"),
                "period_end": D("2021-10-31"),
                "period_label": "2021年10月份",
                "unit_group": group,
                "unit_name": name,
                "bulletin_id": bid,
                "printed": True,
                "score": Decimal(score),
                "no_data": False,
                "grade": grade,
                "rank": rank,
                "score_list": lst,
                "on_bad_list": lst == "bad",
                "dispatched": None,
                "closed": None,
                "unresolved": None,
                "closure_rate_published": None,
                "prev_period_start": D("2021-09-01"),
                "prev_period_published": False,  # September was not published: a gap
                "prev_printed": None,
                "prev_score": None,
                "prev_grade": None,
                "prev_rank": None,
                "prev_on_bad_list": None,
                "score_change": None,
                "rank_change": None,
                "grade_change": None,
                "bad_list_change": None,
                "bad_list_streak": 1 if lst == "bad" else 0,
                "bad_list_periods_total": 1 if lst == "bad" else 0,
            }
            for group, name, score, grade, rank, lst, _ in SAMPLE_SCORES
        ]
    )


def test_the_xuchang_sample_scores_are_in_the_mart_exactly(tmp_path: Path) -> None:
    """The real page: its cut fails table_complete, so nothing is published until a person
    accepts the check on record; then every unit it prints is in the mart."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    db = load_without_prefect(inbox, tmp_path / "wh")
    assert mart(db)[1] == []
    assert query(db, "select count(*), count(score), count(rank) from core.bulletin_scores") == [(32, 32, 23)]
    assert query(db, "select count(*) from core.published_weeks") == [(0,)]  # not a week
    assert query(db, "select count(*) from core.failed_weeks") == [(0,)]
    sha = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    corrections.write_decision(
        tmp_path / "wh" / "lake", "accept", [DecidedFile(sha, SAMPLE.name, "table_complete")], "网页存档截断", "张三"
    )
    load_without_prefect(inbox, tmp_path / "wh")
    columns, rows = mart(db)
    assert_rows(columns, rows, COLUMNS, october_rows(bulletin_id(SAMPLE.read_bytes())))


NOVEMBER = """(一)县、市组
襄城县(99.5分)
鄢陵县(98.8分)
禹州市(98.42分)
长葛市(无数据)
(二)建成区组(详见附件1)
示范区(94分)(优秀等次)
东城区(93.46分)(优秀等次)
魏都区(70分)(不合格等次)
(三)市直及企事业单位组(详见附件2)
1、案件处置好的单位
许昌供电公司、市公安局(100分)
市文化广电和旅游局(98分)
2、案件处置差的单位
市供销社(50分)
许昌邮政公司(30分)
高铁北站(20分)
"""

# December was not published: January compares with nothing.
JANUARY = """(一)县、市组
长葛市(97分)
鄢陵县(96分)
(二)市直及企事业单位组(详见附件2)
1、案件处置好的单位
市公安局(99分)
2、案件处置差的单位
高铁北站(10分)
"""


def later_row(period_start: str, bid: str, group: str, name: str, **values: Any) -> dict[str, Any]:
    """A November or January row: the period's own columns, then the unit's, all given."""
    start = D(period_start)
    month_end = {"2021-11-01": "2021-11-30", "2022-01-01": "2022-01-31"}[period_start]
    label = {"2021-11-01": "2021年11月份", "2022-01-01": "2022年1月份"}[period_start]
    prev = {"2021-11-01": "2021-10-01", "2022-01-01": "2021-12-01"}[period_start]
    return {
        "city": "许昌",
        "period_kind": "month",
        "period_start": start,
        "period_end": D(month_end),
        "period_label": label,
        "unit_group": group,
        "unit_name": name,
        "bulletin_id": bid,
        "dispatched": None,
        "closed": None,
        "unresolved": None,
        "closure_rate_published": None,
        "prev_period_start": D(prev),
        **values,
    }


def printed(score: str | None, rank: int | None, lst: str, grade: str | None = None) -> dict[str, Any]:
    return {
        "printed": True,
        "score": Decimal(score) if score is not None else None,
        "no_data": score is None,
        "grade": grade,
        "rank": rank,
        "score_list": lst,
        "on_bad_list": lst == "bad",
    }


def compared(
    prev_score: str | None,
    prev_rank: int | None,
    prev_bad: bool,
    score_change: str | None,
    rank_change: int | None,
    prev_grade: str | None = None,
    grade_change: str | None = None,
) -> dict[str, Any]:
    return {
        "prev_period_published": True,
        "prev_printed": True,
        "prev_score": Decimal(prev_score) if prev_score is not None else None,
        "prev_grade": prev_grade,
        "prev_rank": prev_rank,
        "prev_on_bad_list": prev_bad,
        "score_change": Decimal(score_change) if score_change is not None else None,
        "rank_change": rank_change,
        "grade_change": grade_change,
    }


NOT_COMPARED = {
    "prev_period_published": False,
    "prev_printed": None,
    "prev_score": None,
    "prev_grade": None,
    "prev_rank": None,
    "prev_on_bad_list": None,
    "score_change": None,
    "rank_change": None,
    "grade_change": None,
    "bad_list_change": None,
}


def streak(change: str | None, streak: int, total: int) -> dict[str, Any]:
    return {"bad_list_change": change, "bad_list_streak": streak, "bad_list_periods_total": total}


OFF = streak(None, 0, 0)


def test_period_over_period_moves_streaks_no_data_and_gaps(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pages = {
        COMPLETE.name: COMPLETE.read_text(encoding="utf-8"),
        "xuchang-2021-11.txt": card_page(NOVEMBER),
        "xuchang-2022-01.txt": card_page(JANUARY, "2022年1月份", "2022-02-09"),
    }
    for name, text in pages.items():
        (inbox / name).write_text(text, encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    assert query(db, "select count(*) from core.bulletins where not passes_checks") == [(0,)]
    october, nov, jan = (bulletin_id(text.encode()) for text in pages.values())
    columns, rows = mart(db, "period_start = '2021-10-01'")
    assert_rows(columns, rows, COLUMNS, october_rows(october))

    n = "2021-11-01"
    left = {"printed": False, "score": None, "no_data": False, "grade": None, "rank": None, "score_list": None}
    expected_november = [
        # moved: 襄城县 up one place, 鄢陵县 down one, 禹州市 unchanged
        later_row(
            n, nov, COUNTIES, "襄城县", **printed("99.5", 1, "none"), **compared("98.99", 2, False, "0.51", 1), **OFF
        ),
        later_row(
            n, nov, COUNTIES, "鄢陵县", **printed("98.8", 2, "none"), **compared("99.02", 1, False, "-0.22", -1), **OFF
        ),
        later_row(
            n, nov, COUNTIES, "禹州市", **printed("98.42", 3, "none"), **compared("98.42", 3, False, "0.00", 0), **OFF
        ),
        # 无数据: no score, no rank, no change (never a drop to 0)
        later_row(
            n, nov, COUNTIES, "长葛市", **printed(None, None, "none"), **compared("95", 4, False, None, None), **OFF
        ),
        # grades: 良好 -> 优秀, 优秀 -> 优秀, 合格 -> 不合格
        later_row(
            n,
            nov,
            BUILT_UP,
            "示范区",
            **printed("94", 1, "none", "优秀"),
            **compared("88", 2, False, "6.00", 1, "良好", "up"),
            **OFF,
        ),
        later_row(
            n,
            nov,
            BUILT_UP,
            "东城区",
            **printed("93.46", 2, "none", "优秀"),
            **compared("93.46", 1, False, "0.00", -1, "优秀", "same"),
            **OFF,
        ),
        later_row(
            n,
            nov,
            BUILT_UP,
            "魏都区",
            **printed("70", 3, "none", "不合格"),
            **compared("82.94", 3, False, "-12.94", 0, "合格", "down"),
            **OFF,
        ),
        # 许昌供电公司、市公安局(100分): tied at rank 1; 市公安局 up from 6th
        later_row(
            n,
            nov,
            CITY_UNITS,
            "许昌供电公司",
            **printed("100", 1, "good"),
            **compared("100", 1, False, "0.00", 0),
            **OFF,
        ),
        later_row(
            n, nov, CITY_UNITS, "市公安局", **printed("100", 1, "good"), **compared("99.41", 6, False, "0.59", 5), **OFF
        ),
        later_row(
            n,
            nov,
            CITY_UNITS,
            "市文化广电和旅游局",
            **printed("98", 3, "good"),
            **compared("100", 1, False, "-2.00", -2),
            **OFF,
        ),
        # on the bad list twice in a row; one entering it from the good list
        later_row(
            n,
            nov,
            CITY_UNITS,
            "市供销社",
            **printed("50", None, "bad"),
            **compared("52", None, True, "-2.00", None),
            **streak("stayed", 2, 2),
        ),
        later_row(
            n,
            nov,
            CITY_UNITS,
            "许昌邮政公司",
            **printed("30", None, "bad"),
            **compared("91", 9, False, "-61.00", None),
            **streak("entered", 1, 1),
        ),
        later_row(
            n,
            nov,
            CITY_UNITS,
            "高铁北站",
            **printed("20", None, "bad"),
            **compared("0", None, True, "20.00", None),
            **streak("stayed", 2, 2),
        ),
        # off October's bad list and not printed in November: left it
        *(
            later_row(
                n,
                nov,
                CITY_UNITS,
                name,
                **left,
                on_bad_list=False,
                **compared(prev, None, True, None, None),
                **streak("left", 0, 1),
            )
            for name, prev in (
                ("河南报业集团达利广告公司", "56"),
                ("许昌电气职业学院", "48"),
                ("中石化许昌分公司", "41.1"),
            )
        ),
    ]
    columns, rows = mart(db, "period_start = '2021-11-01'")
    assert_rows(columns, rows, COLUMNS, sort(expected_november))

    j = "2022-01-01"
    expected_january = [
        later_row(
            j,
            jan,
            COUNTIES,
            "长葛市",
            **printed("97", 1, "none"),
            **NOT_COMPARED,
            bad_list_streak=0,
            bad_list_periods_total=0,
        ),
        later_row(
            j,
            jan,
            COUNTIES,
            "鄢陵县",
            **printed("96", 2, "none"),
            **NOT_COMPARED,
            bad_list_streak=0,
            bad_list_periods_total=0,
        ),
        later_row(
            j,
            jan,
            CITY_UNITS,
            "市公安局",
            **printed("99", 1, "good"),
            **NOT_COMPARED,
            bad_list_streak=0,
            bad_list_periods_total=0,
        ),
        # December is a gap: the streak starts again at 1, the total keeps counting
        later_row(
            j,
            jan,
            CITY_UNITS,
            "高铁北站",
            **printed("10", None, "bad"),
            **NOT_COMPARED,
            bad_list_streak=1,
            bad_list_periods_total=3,
        ),
    ]
    columns, rows = mart(db, "period_start = '2022-01-01'")
    assert_rows(columns, rows, COLUMNS, sort(expected_january))
    # the weekly marts do not see a month
    assert query(db, "select count(*) from core.published_weeks") == [(0,)]


# (channel, department, dispatched, closed, unresolved, rate) as the 月报 prints them
SANMENXIA_ROWS = [
    ("12319城管热线", "一支队", 1, 1, 0, "1.00"),
    ("12319城管热线", "四支队", 3, 3, 0, "1.00"),
    ("12319城管热线", "广告执法大队", 1, 1, 0, "1.00"),
    ("12319城管热线", "犬只收容大队", 2, 2, 0, "1.00"),
    ("12319城管热线", "渣土办", 2, 2, 0, "1.00"),
    ("数字城管平台", "一支队", 167, 150, 17, "0.898"),
    ("数字城管平台", "二支队", 193, 185, 8, "0.959"),
    ("数字城管平台", "三支队", 207, 205, 2, "0.990"),
    ("数字城管平台", "四支队", 210, 190, 20, "0.905"),
    ("数字城管平台", "环卫处", 250, 228, 22, "0.912"),
    ("数字城管平台", "渣土办", 160, 154, 6, "0.963"),
]


def test_sanmenxia_monthly_report_in_the_mart_and_not_in_the_weekly_ones(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SANMENXIA_MONTHLY.name).write_bytes(SANMENXIA_MONTHLY.read_bytes())
    week = CITIES / "sanmenxia-2021w07-complete.txt"
    (inbox / week.name).write_bytes(week.read_bytes())
    db = load_without_prefect(inbox, tmp_path / "wh")
    bid = bulletin_id(SANMENXIA_MONTHLY.read_bytes())
    expected = [
        {
            "city": "三门峡",
            "period_kind": "month",
            "period_start": D("2021-02-01"),
            "period_end": D("2021-02-28"),
            "period_label": "2021第2期",
            "unit_group": channel,
            "unit_name": name,
            "bulletin_id": bid,
            "printed": True,
            "score": None,  # a 月报 prints counts, no score
            "no_data": False,
            "grade": None,
            "rank": None,
            "score_list": "none",
            "on_bad_list": False,
            "dispatched": dispatched,
            "closed": closed,
            "unresolved": unresolved,
            "closure_rate_published": Decimal(rate),
            "prev_period_start": D("2021-01-01"),
            **NOT_COMPARED,
            "bad_list_streak": 0,
            "bad_list_periods_total": 0,
        }
        for channel, name, dispatched, closed, unresolved, rate in SANMENXIA_ROWS
    ]
    columns, rows = mart(db)
    assert_rows(columns, rows, COLUMNS, sort(expected))
    # the week is the weekly marts' only one: the month is neither a week nor a failed week
    assert query(db, "select city, week_start from core.published_weeks") == [("三门峡", D("2021-02-27"))]
    assert query(db, "select count(*) from marts.unit_week_performance where week_start <> '2021-02-27'") == [(0,)]
    assert query(db, "select count(*) from core.failed_weeks") == [(0,)]


# --- older lake parts -------------------------------------------------------------------


def test_a_lake_batch_from_before_scorecards_still_loads(tmp_path: Path) -> None:
    """A batch written before bulletin_scores and period_kind existed: no scores part, no
    period_kind column. It is sound (not set aside) and loads with every bulletin a week."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    week = CITIES / "sanmenxia-2021w07-complete.txt"
    (inbox / week.name).write_bytes(week.read_bytes())
    wh = tmp_path / "wh"
    load_without_prefect(inbox, wh)
    lake_dir = wh / "lake"
    # The Parquet lake of that version: no scores part, no period_kind; converted to Delta.
    assert len(to_parquet_lake(lake_dir, {"bulletins": ["period_kind"]}, ("bulletin_scores",))) == 1
    converted = migrate.migrate(lake_dir, loaded=set())
    assert converted is not None and (converted.batches, converted.problems) == (1, [])
    assert lake_audit.audit(lake_dir, loaded=set(), full=True) == []
    (wh / "bulletins.duckdb").unlink()
    db = load_without_prefect(inbox, wh)
    assert query(db, "select period_kind, count(*) from core.bulletins group by all") == [("week", 1)]
    assert query(db, "select count(*) from raw.bulletin_scores") == [(0,)]
    assert query(db, "select count(*) from core.published_weeks") == [(1,)]


def test_a_month_and_a_week_starting_the_same_day_are_both_published(tmp_path: Path) -> None:
    """Sanmenxia's week 5.01—5.07 and its 月报 for May both start 2021-05-01: neither
    supersedes the other, the week stays the weekly marts' and the report's only printing."""
    from flows.warehouse.db import connection
    from flows.warehouse.readers.report_sources import week_printings

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    weekly = (CITIES / "sanmenxia-2021w07-complete.txt").read_text(encoding="utf-8")
    monthly = SANMENXIA_MONTHLY.read_text(encoding="utf-8")
    (inbox / "week.txt").write_text(weekly.replace("(2021第7期)2.27—3.05", "(2021第18期)5.01—5.07"), encoding="utf-8")
    (inbox / "month.txt").write_text(monthly.replace("(2021第2期)2.01—2.28", "(2021第5期)5.01—5.31"), encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    assert query(db, "select period_kind, superseded, passes_checks from core.bulletins order by 1") == [
        ("month", False, True),
        ("week", False, True),
    ]
    assert query(db, "select week_start, week_end from core.published_weeks") == [(D("2021-05-01"), D("2021-05-07"))]
    assert query(db, "select distinct period_start, period_end from marts.unit_period_scores") == [
        (D("2021-05-01"), D("2021-05-31"))
    ]
    with connection(db, read_only=True) as con:
        assert [p.period_label for p in week_printings(con, "三门峡", D("2021-05-01"))] == ["2021第18期"]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("(一)县、市组\n甲县(99分)\n乙县(120分)\n", "scores_in_range: 乙县 120分 (line 4) is outside 0-"),
        (
            "(一)县、市组\n甲县(90分)\n乙县(95分)\n",
            "ranks_consistent: 县、市组: 乙县 95分 (line 4) printed below 甲县 90分 (line 3)",
        ),
        ("(一)县、市组\n甲县(99分)\n甲县(98分)\n", "units_unique: 甲县 in 县、市组 twice (lines 3, 4)"),
    ],
)
def test_a_failed_scorecard_check_says_what_it_compared(text: str, detail: str) -> None:
    """Issue 17 item 6 for scorecards: the numbers and the lines, not the check's name alone."""
    page = parse_file("2021-12-01_p.txt", ("许昌市数字化城市管理系统2021年11月份运行情况通报\n" + text).encode())
    assert isinstance(page, ParsedPage)
    [card] = page.bulletins
    assert any(d.startswith(detail) for d in card.check_details), card.check_details
