"""The real sample page, read item by item and figure by figure (values written out by hand)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from testdata import SAMPLE_PAGE

from flows.parsing import Article, Bulletin, BulletinUnitRow, ParsedPage, parse_file


@pytest.fixture(scope="module")
def page() -> ParsedPage:
    result = parse_file(SAMPLE_PAGE.name, SAMPLE_PAGE.read_bytes())
    assert isinstance(result, ParsedPage)
    return result


def test_page_level(page: ParsedPage) -> None:
    assert page.encoding == "utf-8"
    # No date in the file name, no date line: the latest date the page mentions,
    # 12月22日, in the year of the page's full date 2020年12月14日.
    assert (page.issue_date, page.issue_date_source) == (date(2020, 12, 22), "inferred")
    assert page.section == "时政要闻"
    assert page.warnings == ()
    assert [a.kind for a in page.articles] == ["news", "news", "news", "photo", "news", "commentary", "bulletin"]
    assert [a.seq for a in page.articles] == [1, 2, 3, 4, 5, 6, 7]
    assert {a.section for a in page.articles} == {"时政要闻"}


# seq: (kind, kicker, title, subtitle, reporters, correspondents, photographers, authors,
#       event_date, editor_code, line_start, line_end, paragraphs, body start, body end)
ITEMS = {
    1: (
        "news", None, "省生态环境厅 第六生态环境保护督察办公室 在我市挂牌", None,
        ("黄育南",), (), (), (), date(2020, 12, 22), "②6", 5, 13, 4,
        "12月22日,省生态环境厅第六生态环境保", "全方位推动驻马店市生态环境质量持续改善。",
    ),
    2: (
        "news", None, "积极探索 认真总结 推动残疾人工作高质量发展", None,
        ("张新理",), (), (), (), date(2020, 12, 22), "②6", 15, 25, 5,
        "12月22日,省残联党组成员、副理事长吴", ",为“十四五”残疾人保障和发展贡献力量。",
    ),
    3: (
        "news", None, "我市开展政务服务满意度调查活动", None,
        ("吴勇峰",), (), (), (), None, "②6", 27, 37, 5,
        "为大力宣传和落实市委、市政府全面优化营商", "务,为全市优化营商环境工作提供有力支撑。",
    ),
    4: (
        "photo", None, None, None,
        (), (), ("张新义",), (), date(2020, 12, 21), "②2", 41, 41, 1,
        "12月21日,记者在确山县光照中药材种植", "作人员正在生产线上给皂角洗衣液封盖包装。",
    ),
    5: (
        "news", "创新服务流程 优化营商环境", "市交通运输局推行“行政审批+12328 预约监督”服务新模式", None,
        ("张勇",), (), (), (), date(2020, 12, 20), "②6", 43, 63, 7,
        "“你们的服务真是又快又好,我们公司在最短", "2328交通运输监督电话回访了8家企业。",
    ),
    6: (
        "commentary", None, "莫让指尖成为形式主义“推手”", None,
        (), (), (), ("张大成", "李丹丹"), None, "②6", 67, 87, 6,
        "近日,笔者下乡采访时和一名基层干部谈起微", "歇一歇,让形式主义在指尖上不再“起舞”!",
    ),
    7: (
        "bulletin", None, "驻马店市数字化城市管理案件办理后进单位周通报", None,
        (), (), (), (), None, None, 91, 115, 17,
        "2020年12月14日~12月20日,驻", "件\t1件\n驻马店市数字化城市管理领导小组",
    ),
}  # fmt: skip


def _item_view(a: Article) -> tuple[object, ...]:
    return (
        a.kind, a.kicker, a.title, a.subtitle, a.reporters, a.correspondents, a.photographers, a.authors,
        a.event_date, a.editor_code, a.line_start, a.line_end, a.body.count("\n") + 1, a.body[:20], a.body[-20:],
    )  # fmt: skip


@pytest.mark.parametrize("seq", sorted(ITEMS))
def test_item(page: ParsedPage, seq: int) -> None:
    assert _item_view(page.articles[seq - 1]) == ITEMS[seq]


def test_photo_caption_in_full(page: ParsedPage) -> None:
    photo = page.articles[3]
    caption = "12月21日,记者在确山县光照中药材种植专业合作社看到,合作社的工作人员正在生产线上给皂角洗衣液封盖包装。"
    assert photo.body == caption
    assert photo.original_text == caption + "②2 记者 张新义 摄"


def test_paragraphs_rejoined_across_column_breaks(page: ParsedPage) -> None:
    assert "顾先生高兴地说:“现在办事不仅环境优美、服务周到" in page.articles[4].body
    assert "重点工作研究解决,立即开通了网上自动审批平台" in page.articles[4].body
    assert "“指尖上的沟通”反而成为“指尖上的负担”" in page.articles[5].body
    assert "以“网来网去”代替“从群众中来到群众中去”" in page.articles[5].body
    assert "正在办理中232件、超时未办结131件" in page.articles[6].body


def test_bylines_and_codes_off_the_body(page: ParsedPage) -> None:
    first = page.articles[0]
    assert first.original_text.startswith("省生态环境厅 第六生态环境保护督察办公室 在我市挂牌\n\n本报讯(记者 黄育南)")
    assert first.original_text.endswith("生态环境质量持续改善。②6")
    assert "本报讯" not in first.body and "②" not in first.body
    assert not page.articles[5].body.startswith("□")


def test_bulletin_article_points_to_bulletin(page: ParsedPage) -> None:
    (bulletin,) = page.bulletins
    article = page.articles[bulletin.article_seq - 1]
    assert article.kind == "bulletin"
    assert (article.line_start, article.line_end) == (bulletin.line_start, bulletin.line_end)


def test_bulletin_figures(page: ParsedPage) -> None:
    (b,) = page.bulletins
    assert b == Bulletin(
        seq=1,
        article_seq=7,
        format="zhumadian_weekly",
        city="驻马店",
        period_label=None,
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
        overdue_units=9,
        as_of=datetime(2020, 12, 20, 18, 0),
        units=b.units,  # compared row by row below
        failed_checks=(),
        line_start=91,
        line_end=115,
    )
    assert str(b.closure_rate_published) == "0.9058"


def test_bulletin_units(page: ParsedPage) -> None:
    districts, departments = "市辖区(管委会)组", "市直单位及企业组"
    assert page.bulletins[0].units == (
        BulletinUnitRow(districts, "驿城区政府", 1013, 8, 1, 101),
        BulletinUnitRow(districts, "经济开发区管委会", 503, 6, 2, 102),
        BulletinUnitRow(districts, "市城乡一体化示范区管委会", 16, 5, 3, 103),
        BulletinUnitRow(departments, "中国电信驻马店分公司", 68, 68, 4, 109),
        BulletinUnitRow(departments, "中一市政建设管理有限公司", 18, 18, 5, 110),
        BulletinUnitRow(departments, "市豫资市政设施管理有限公司", 15, 13, 6, 111),
        BulletinUnitRow(departments, "河南移动驻马店分公司", 55, 9, 7, 112),
        BulletinUnitRow(departments, "国电驻马店热电有限公司", 6, 3, 8, 113),
        BulletinUnitRow(departments, "中国联通驻马店分公司", 59, 1, 9, 114),
    )
