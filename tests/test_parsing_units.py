"""The parser's parts, one behaviour at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from testdata import SAMPLE_PAGE, bulletin

from flows.parsing import BulletinUnitRow, ParsedPage, Rejection, parse_file
from flows.parsing.bylines import is_lead, read_box_line, split_credit, split_news_byline
from flows.parsing.checks import WEEK_MONDAY_TO_SUNDAY, PeriodRule, failed_checks
from flows.parsing.dates import first_date, nearest_date
from flows.parsing.decode import Decoded, decode
from flows.parsing.formats.tables import classify, split_cells
from flows.parsing.formats.zhumadian_weekly import _as_of, _period
from flows.parsing.issue_date import from_file_name, issue_date
from flows.parsing.normalize import fold, is_terminated, rejoin, take_editor_code, to_lines

# --- decoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "text"),
    [
        ("时政要闻\n".encode(), "utf-8", "时政要闻\n"),
        (b"\xef\xbb\xbf" + "时政要闻".encode(), "utf-8-sig", "时政要闻"),
        ("时政要闻\r\n要闻\r\n".encode("gb18030"), "gb18030", "时政要闻\n要闻\n"),
        ("时政要闻\r要闻".encode("gbk"), "gb18030", "时政要闻\n要闻"),
    ],
)
def test_decode_encodings_and_line_ends(data: bytes, encoding: str, text: str) -> None:
    assert decode(data) == Decoded(text, encoding)


def test_decode_few_bad_bytes_warns() -> None:
    data = ("时政要闻" * 100).encode() + b"\xff" + "要闻".encode()
    decoded = decode(data)
    assert isinstance(decoded, Decoded)
    assert decoded.encoding == "utf-8"
    assert decoded.text.count("\ufffd") == 1
    assert decoded.warnings == ("undecodable as utf-8: 1 byte(s), read as U+FFFD",)


def test_decode_gbk_with_damage_and_mostly_ascii() -> None:
    damaged = ("时政要闻" * 100).encode("gb18030") + b"\xff" + "要闻".encode("gb18030")
    decoded = decode(damaged)
    assert isinstance(decoded, Decoded)
    assert (decoded.encoding, decoded.warnings) == ("gb18030", ("undecodable as gb18030: 1 byte(s), read as U+FFFD",))
    mostly_ascii = decode(("Page 2 " * 100 + "驻马店").encode("gbk"))
    assert isinstance(mostly_ascii, Decoded) and mostly_ascii.text.endswith("驻马店")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b" \r\n\t\r\n", "empty"),
        (b"\xef\xbb\xbf\r\n", "empty"),
        ("\u3000\n".encode(), "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
        (b"abc\x01\x02\x03\x04\x05\x06def", "not text"),
        (b"\x80\xff" * 50, "undecodable"),
        ("\ufffd\ufffd时政".encode(), "undecodable"),
        ("\ue000\ue001时政".encode("gb18030"), "undecodable"),
    ],
)
def test_decode_rejections(data: bytes, reason: str) -> None:
    result = decode(data)
    assert isinstance(result, Rejection)
    assert result.reason == reason


# --- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rest", "code"),
    [
        ("持续改善。②6", "持续改善。", "②6"),
        ("不再“起舞”! ②6", "不再“起舞”!", "②6"),
        ("封盖包装。②2 记者 张新义 摄", "封盖包装。 记者 张新义 摄", "②2"),
        ("持续改善。⑳１２", "持续改善。", "⑳12"),
        ("见图②所示。", "见图②所示。", None),
        ("①2020年的工作", "①2020年的工作", None),
    ],
)
def test_editor_code(raw: str, rest: str, code: str | None) -> None:
    assert take_editor_code(raw) == (rest, code)


def test_editor_code_taken_before_nfkc() -> None:
    (line,) = to_lines("改善。②6")
    assert (line.text, line.editor_code) == ("改善。", "②6")


def test_fold_full_width() -> None:
    assert fold("１０１３件，（管委会）～％\u3000Ａ") == "1013件,(管委会)~% A"
    assert fold("a\tb\u200b\x0c") == "a\tb"


@pytest.mark.parametrize(
    ("text", "terminated"),
    [
        ("改善。", True),
        ("起舞”!", True),
        ("太好了。”", True),
        ("说:“现在办", False),
        ("网来网去”", False),
        ("等……", True),
    ],
)
def test_is_terminated(text: str, terminated: bool) -> None:
    assert is_terminated(fold(text)) is terminated


def test_rejoin() -> None:
    assert rejoin(["现在办", "事不仅快。", "下一段。", "断在"]) == ["现在办事不仅快。", "下一段。", "断在"]


# --- people ---------------------------------------------------------------------------


def test_news_byline_reporters_and_correspondents() -> None:
    rest, people = split_news_byline("本报讯(记者 王某某 通讯员 李某、赵某)12月22日,会议召开。")
    assert rest == "12月22日,会议召开。"
    assert people is not None
    assert (people.reporters, people.correspondents) == (["王某某"], ["李某", "赵某"])


def test_news_byline_names_glued_to_roles() -> None:
    _, people = split_news_byline("本报讯(记者黄育南 张勇)近日,")
    assert people is not None and people.reporters == ["黄育南", "张勇"]


def test_box_line_authors() -> None:
    people = read_box_line("□ 张大成 李丹丹")
    assert people is not None and people.authors == ["张大成", "李丹丹"]
    assert read_box_line("□ 我市召开了一次重要的会议,部署工作。") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("封盖包装。 记者 张新义 摄", ("封盖包装。", ("张新义",))),
        ("合影留念。本报记者 王某 通讯员 李某某 摄", ("合影留念。", ("王某", "李某某"))),
        ("记者 张新义 摄", ("", ("张新义",))),
        ("这部影片由他执导拍摄", None),
        ("会议现场。", None),
    ],
)
def test_photo_credit(text: str, expected: tuple[str, tuple[str, ...]] | None) -> None:
    assert split_credit(text) == expected


def test_leads() -> None:
    assert is_lead("本报讯(记者 黄育南)12月22日,")
    assert is_lead("□ 张大成 李丹丹")
    assert not is_lead("我市开展政务服务满意度调查活动")


# --- dates ----------------------------------------------------------------------------


def test_nearest_date_crosses_new_year() -> None:
    assert nearest_date(12, 28, date(2021, 1, 5)) == date(2020, 12, 28)
    assert nearest_date(1, 3, date(2020, 12, 30)) == date(2021, 1, 3)
    assert nearest_date(2, 30, date(2020, 12, 30)) is None


def test_event_date_in_january_issue() -> None:
    assert first_date("12月22日,省生态环境厅", date(2021, 1, 5)) == date(2020, 12, 22)
    assert first_date("2019年12月22日,省", date(2021, 1, 5)) == date(2019, 12, 22)
    assert first_date("12月22日,省", None) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2020-12-23_page.txt", date(2020, 12, 23)),
        ("zmd_20201223.txt", date(2020, 12, 23)),
        ("2020_12_23.txt", date(2020, 12, 23)),
        ("000_3e19ef32d54e8472.txt", None),
        ("a20201223b.txt", None),
        ("20201345.txt", None),
    ],
)
def test_issue_date_from_file_name(name: str, expected: date | None) -> None:
    assert from_file_name(name) == expected


def test_issue_date_from_page_and_inferred() -> None:
    dated = to_lines("时政要闻\n\n2020年12月23日 星期三\n\n标题")
    assert issue_date("page.txt", dated) == (date(2020, 12, 23), "page", ())
    crossing = to_lines("2020年12月28日~1月3日,受理")
    assert issue_date("page.txt", crossing) == (date(2021, 1, 3), "inferred", ())
    assert issue_date("page.txt", to_lines("12月22日,会议")) == (None, None, ())


# --- bulletin pieces ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "issue", "expected"),
    [
        ("2020年12月14日~12月20日,", None, (date(2020, 12, 14), date(2020, 12, 20))),
        ("2020年12月28日~1月3日,", None, (date(2020, 12, 28), date(2021, 1, 3))),
        ("12月28日~1月3日,", date(2021, 1, 5), (date(2020, 12, 28), date(2021, 1, 3))),
        ("12月28日~2021年1月3日,", None, (date(2020, 12, 28), date(2021, 1, 3))),
        ("2020年12月14日至20日,", None, (date(2020, 12, 14), date(2020, 12, 20))),
        ("12月14日~12月20日,", None, (None, None)),
        ("本周", None, (None, None)),
    ],
)
def test_period(text: str, issue: date | None, expected: tuple[date | None, date | None]) -> None:
    assert _period(text, issue) == expected


def test_as_of() -> None:
    assert _as_of("截至12月20日18时,", date(2020, 12, 20)) == datetime(2020, 12, 20, 18, 0)
    assert _as_of("截至1月3日24时,", date(2020, 12, 31)) == datetime(2021, 1, 4, 0, 0)
    assert _as_of("截至12月20日18时30分,", date(2020, 12, 20)) == datetime(2020, 12, 20, 18, 30)
    assert _as_of("截至12月20日25时,", date(2020, 12, 20)) is None


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("市辖区(管委会)组\t\t", ["市辖区(管委会)组"]),
        ("驿城区政府\t1013件\t8件", ["驿城区政府", "1013件", "8件"]),
        ("驿城区政府   1013  8", ["驿城区政府", "1013", "8"]),
        ("驿城区政府\t\t8件", ["驿城区政府", "", "8件"]),
    ],
)
def test_split_cells(text: str, cells: list[str]) -> None:
    assert split_cells(text) == cells


@pytest.mark.parametrize(
    ("raw", "kind", "name", "values"),
    [
        ("驿城区政府\t1013件\t8件", "row", "驿城区政府", (1013, 8)),
        ("驿城区政府　　１０１３件　　８件", "row", "驿城区政府", (1013, 8)),
        ("驿城区政府 1013件 8件", "row", "驿城区政府", (1013, 8)),
        ("驿城区 政府 1013 8", "row", "驿城区 政府", (1013, 8)),
        ("驿城区政府1013件8件", "row", "驿城区政府", (1013, 8)),
        ("驿城区政府\t1013件", "row", "驿城区政府", (1013,)),
        ("驿城区政府\t\t8件", "row", "驿城区政府", (None, 8)),
        ("驿城区政府\t\t", "name_only", "驿城区政府", ()),
        ("驿城区政府\t1234567890件\t8件", "row", "驿城区政府", (None, 8)),  # malformed: see below
        ("驻马店市数字化城市管理领导小组\t\t", "signature", None, ()),
        ("市直单位及企业组", "group", None, ()),
        ("单位\t交办件\t未办结件", "header", None, ()),
        ("数字城管周报(12月14日~12月20日)", "caption", None, ()),
        ("12月21日,记者在确山县看到,", None, None, ()),
        ("市交通运输局推行“行政审批+12328 预约监督”服务新模式", None, None, ()),
    ],
)
def test_classify_table_lines(raw: str, kind: str | None, name: str | None, values: tuple[int | None, ...]) -> None:
    line = classify(fold(raw).strip())
    if kind is None:
        assert line is None or line.kind not in {"row", "signature", "group", "header"}
        return
    assert line is not None
    assert (line.kind, line.name, line.values) == (kind, name, values)


@pytest.mark.parametrize(
    ("raw", "values", "malformed"),
    [
        ("驿城区政府\t1013件\t8件", (1013, 8), False),
        ("驿城区政府 1013 8", (1013, 8), False),
        ("驿城区政府\t1234567890件\t8件", (None, 8), True),  # more than 9 digits
        ("驿城区政府\t1 013件\t8件", (None, 8), True),
        ("驿城区政府\t1,013件\t8件", (None, 8), True),
        ("驿城区政府\t1013件\t-8件", (1013, None), True),
        ("驿城区政府\t1013件\t8.5件", (1013, None), True),
        # one cell: single spaces make "1 013件 8件" three numbers; none is trusted
        ("驿城区政府 1 013件 8件", (None, None, None), True),
        ("驿城区政府 -1013件 8件", (None, None), True),
        ("驿城区政府 1013.5件 8件", (None, None, None), True),
    ],
)
def test_classify_marks_numbers_that_are_not_plain_counts(
    raw: str, values: tuple[int | None, ...], malformed: bool
) -> None:
    line = classify(fold(raw).strip())
    assert line is not None
    assert (line.kind, line.name, line.values, line.malformed) == ("row", "驿城区政府", values, malformed)


# --- checks ---------------------------------------------------------------------------

# The sample's figures with a two-unit list: passes every check.
CLEAN = bulletin(
    period_start=date(2020, 12, 14),
    period_end=date(2020, 12, 20),
    received=4852,
    due=5723,
    closed=5184,
    in_progress=232,
    overdue=131,
    disputed=176,
    closure_rate_published=Decimal("0.9058"),
    linked_units=18,
    overdue_units=2,
    units=(BulletinUnitRow("g", "甲单位", 200, 100, 1, 1), BulletinUnitRow("g", "乙单位", 40, 31, 2, 2)),
    line_end=2,
)


@pytest.mark.parametrize(
    ("changes", "tables_closed", "failed"),
    [
        ({}, True, ()),
        ({}, False, ("table_complete",)),
        ({"period_end": None}, True, ("period_parsed",)),
        ({"period_end": date(2020, 12, 1)}, True, ("period_parsed",)),
        ({"received": None}, True, ("figures_present",)),
        ({"due": None}, True, ("figures_present",)),
        ({"disputed": 175}, True, ("components_sum_to_due",)),
        ({"closure_rate_published": Decimal("0.9059")}, True, ("closure_rate_matches",)),
        ({"closure_rate_published": Decimal("0.906")}, True, ()),  # 90.6% to one decimal
        ({"closure_rate_published": Decimal("0.91")}, True, ()),  # 91% to none
        ({"overdue_units": 3}, True, ("unit_count_matches",)),
        ({"units": ()}, True, ("units_sum_to_overdue", "unit_count_matches", "table_complete")),
        ({"units": (), "overdue_units": 0, "overdue": 0, "in_progress": 363}, True, ()),
        ({"overdue": 130, "in_progress": 233}, True, ("units_sum_to_overdue",)),
        (
            {"units": (BulletinUnitRow("g", "甲单位", 50, 100, 1, 1), CLEAN.units[1])},
            True,
            ("unresolved_le_dispatched",),
        ),
        ({"units": (CLEAN.units[0], BulletinUnitRow("g", "甲 单位", 40, 31, 2, 2))}, True, ("units_unique",)),
        ({"units": (CLEAN.units[0], BulletinUnitRow("g", "乙单位", 40, None, 2, 2))}, True, ("table_complete",)),
    ],
)
def test_checks(changes: dict[str, object], tables_closed: bool, failed: tuple[str, ...]) -> None:
    assert failed_checks(replace(CLEAN, **changes), tables_closed=tables_closed) == failed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "kwargs", "failed"),
    [
        ({}, {"period": WEEK_MONDAY_TO_SUNDAY, "issue_date": date(2020, 12, 22)}, ()),
        ({}, {"issue_date": date(2020, 12, 20)}, ()),  # the week's last day
        ({}, {"issue_date": date(2021, 3, 14)}, ()),  # 90 days after its start
        ({}, {"issue_date": date(2021, 3, 15)}, ("period_before_issue",)),
        ({}, {"issue_date": date(2020, 12, 19)}, ("period_before_issue",)),
        ({"period_end": date(2020, 12, 21)}, {"period": WEEK_MONDAY_TO_SUNDAY}, ("period_matches_format",)),
        (
            {"period_start": date(2020, 12, 15), "period_end": date(2020, 12, 21)},
            {"period": WEEK_MONDAY_TO_SUNDAY},
            ("period_matches_format",),
        ),
        ({"period_end": date(2021, 1, 13)}, {"period": PeriodRule(days=31)}, ()),
        ({}, {"malformed_numbers": 1}, ("numbers_well_formed",)),
        ({"period_end": None}, {"period": WEEK_MONDAY_TO_SUNDAY, "issue_date": date(2020, 12, 22)}, ("period_parsed",)),
    ],
)
def test_period_and_number_checks(changes: dict[str, object], kwargs: dict, failed: tuple[str, ...]) -> None:
    b = replace(CLEAN, **changes)  # type: ignore[arg-type]
    assert failed_checks(b, tables_closed=True, **kwargs) == failed


def test_closure_rate_rounds_half_up() -> None:
    # 1/8 = 12.5% exactly: half-up gives 13%, banker's rounding would give 12%.
    b = replace(CLEAN, due=8, closed=1, in_progress=7, overdue=0, disputed=0, closure_rate_published=Decimal("0.13"))
    assert "closure_rate_matches" not in failed_checks(b, tables_closed=True)


# --- page structure -------------------------------------------------------------------

SYNTHETIC = """要闻

2021年1月5日 星期二

全市上下齐努力
奋力夺取新胜利
——写在新年到来之际

本报讯(记者 王某某 通讯员 李某)12月31日,全市召开会议。

会议要求,要

抓好落实。②3


又一条新闻的标题

12月30日,会场一角。本报记者 赵某 摄
"""


def test_synthetic_page() -> None:
    page = parse_file("page.txt", SYNTHETIC.encode())
    assert isinstance(page, ParsedPage)
    assert (page.section, page.issue_date, page.issue_date_source) == ("要闻", date(2021, 1, 5), "page")
    first, second = page.articles
    assert (first.kicker, first.title, first.subtitle) == ("全市上下齐努力", "奋力夺取新胜利", "写在新年到来之际")
    assert (first.reporters, first.correspondents) == (("王某某",), ("李某",))
    assert first.event_date == date(2020, 12, 31)
    assert first.body == "12月31日,全市召开会议。\n会议要求,要抓好落实。"
    assert (first.editor_code, first.line_start, first.line_end) == ("②3", 5, 13)
    assert (second.kind, second.title, second.photographers) == ("photo", "又一条新闻的标题", ("赵某",))
    assert second.event_date == date(2020, 12, 30)
    assert page.bulletins == ()


SYNTHETIC_NO_CODES = """综合新闻

文明城市创建工作推进会召开

本报记者 王某 通讯员 李某

12月20日,会议召开。


12月21日,会场一角。 记者 赵某 摄

记者从会上获悉,各项工作进展顺利。
"""


def test_items_without_editor_codes() -> None:
    page = parse_file("2020-12-22_p2.txt", SYNTHETIC_NO_CODES.encode())
    assert isinstance(page, ParsedPage)
    news, photo, untitled = page.articles
    assert (news.title, news.reporters, news.correspondents) == ("文明城市创建工作推进会召开", ("王某",), ("李某",))
    assert (news.body, news.event_date, news.line_end) == ("12月20日,会议召开。", date(2020, 12, 20), 7)
    assert (photo.kind, photo.title, photo.photographers, photo.line_start) == ("photo", None, ("赵某",), 10)
    assert (untitled.kind, untitled.title, untitled.reporters) == ("news", None, ())
    assert untitled.body == "记者从会上获悉,各项工作进展顺利。"


def test_section_above_a_bulletin() -> None:
    sample = SAMPLE_PAGE.read_text(encoding="utf-8")
    bulletin_only = "时政要闻\n\n" + "\n".join(sample.split("\n")[90:])
    page = parse_file("2020-12-23.txt", bulletin_only.encode())
    assert isinstance(page, ParsedPage)
    assert page.section == "时政要闻"
    assert [(a.kind, a.line_start, a.line_end) for a in page.articles] == [("bulletin", 3, 27)]
    assert page.bulletins[0].failed_checks == ()


def test_parser_imports_no_prefect_or_duckdb() -> None:
    import ast

    package = Path(__file__).parent.parent / "flows" / "parsing"
    for module in package.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] in {"prefect", "duckdb"} for n in names), module
