"""Bulletins no format reads are recognised by their content too (issue 17, item 5).

A unit table or a score list that no format claims is reported as `unknown bulletin
format` with what was seen, never silently loaded as news; an article about a scorecard
(prose) stays news with no note.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from testdata import PAGES

from flows.parsing import ParsedPage, parse_file
from flows.parsing.records import UnknownBulletin
from flows.warehouse import build, db
from flows.warehouse.inbox import RecordedFiles, plan_run
from flows.warehouse.ingest import file_status, process_batch
from flows.warehouse.readers.status import batches_outcome

CITIES = PAGES / "cities"
EMPTY = RecordedFiles(paths={}, path_shas=frozenset(), taken={}, max_ingest_seq=0)
ZHENGZHOU_TABLE = "table 城区|未派遣数|应结案数… of 4 rows at line 31"


def _parse(name: str, text: str) -> ParsedPage:
    page = parse_file(name, text.encode())
    assert isinstance(page, ParsedPage)
    return page


def _without_lines(path: Path, *line_nos: int) -> str:
    """The page with some lines blanked (line numbers kept)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for no in line_nos:
        lines[no - 1] = ""
    return "\n".join(lines)


def test_zhengzhou_is_flagged_with_its_unit_table() -> None:
    page = _parse("zhengzhou.txt", (CITIES / "zhengzhou-2019w15.txt").read_text(encoding="utf-8"))
    (unknown,) = page.unknown_bulletins
    assert unknown.seen == ("figures (受理, 案件, 立案) at line 5", ZHENGZHOU_TABLE)
    assert file_status(page)[1] == [
        "unknown bulletin format: 每周运行分析报告(2019年4月8日至4月14日) (line 2); "
        f"seen: figures (受理, 案件, 立案) at line 5, {ZHENGZHOU_TABLE}"
    ]


def test_tianmen_is_flagged_with_the_figures_it_prints() -> None:
    page = _parse("tianmen.txt", (CITIES / "tianmen-2016-12.txt").read_text(encoding="utf-8"))
    assert page.unknown_bulletins == (
        UnknownBulletin("天门:数字化城市管理12月绩效情况通报", 2, ("figures (受理, 案件, 立案) at line 3",)),
    )


def test_zhengzhou_without_its_title_is_still_flagged_by_its_table() -> None:
    """Before: a title was the only way in, and this page loaded as plain news.

    Its title (每周运行分析报告) and the heading that can stand for one (一、数字城管平台总体运行情况)
    are taken off."""
    page = _parse("zhengzhou.txt", _without_lines(CITIES / "zhengzhou-2019w15.txt", 2, 3))
    assert page.unknown_bulletins == (UnknownBulletin("", 31, (ZHENGZHOU_TABLE,)),)
    assert file_status(page) == ("loaded", [f"unknown bulletin format: {ZHENGZHOU_TABLE}"])


SCORES = """要闻

一、得分情况

(一)县、市组

鄢陵县(99.02分)

襄城县(98.99分)

禹州市(98.42分)

(二)建成区组

东城区(93.46分)(优秀等次)

示范区、魏都区(88分)(良好等次)

高铁北站(无数据)
"""


def test_a_score_list_without_a_title_is_flagged() -> None:
    page = _parse("scores.txt", SCORES)
    assert page.bulletins == ()
    assert page.unknown_bulletins == (UnknownBulletin("", 7, ("score list 名称(NN分) of 6 lines at line 7",)),)


def test_a_unit_table_in_pipes_without_a_title_is_flagged() -> None:
    text = "要闻\n\n部门 | 派遣数 | 完成数 | 完成率 |\n一支队 | 4 | 4 | 100% |\n二支队 | 2 | 1 | 50% |\n"
    page = _parse("pipes.txt", text)
    assert page.unknown_bulletins == (UnknownBulletin("", 3, ("table 部门|派遣数|完成数… of 2 rows at line 3",)),)


def test_news_about_a_scorecard_stays_news_with_no_note() -> None:
    text = (
        "要闻\n\n我市公布数字城管考评结果\n\n"
        "本报讯(记者 王某)12月1日,市数字城管中心公布11月考评得分,东城区得分95.2分,位列第一,"
        "魏都区得分93分,建安区得分90.5分。\n\n"
        "一张表格里的一个数字 12\n"
    )
    page = _parse("2020-12-02_news.txt", text)
    assert page.unknown_bulletins == ()
    assert {a.kind for a in page.articles} == {"news"}
    assert file_status(page) == ("loaded", [])


def test_a_table_of_other_figures_is_not_a_unit_table() -> None:
    """Zhengzhou's city-wide table (基础指标 | 案件数 ...) names no unit's case work: alone, no note."""
    text = "本周全市数字城管案件统计表\n基础指标 | 案件数 | 比率指标 | 数值 |\n受理数 | 51571 | ||\n立案数 | 51229 | 立案率 | 99.34% |\n"
    assert _parse("city.txt", text).unknown_bulletins == ()


def test_the_run_names_files_of_unknown_format_among_its_problems(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "zhengzhou.txt").write_text(_without_lines(CITIES / "zhengzhou-2019w15.txt", 2, 3), encoding="utf-8")
    lake_dir = tmp_path / "lake"
    process_batch(inbox, lake_dir, "b1", plan_run(inbox, EMPTY).to_parse, datetime(2026, 1, 1, tzinfo=UTC))
    with db.connection(None) as con:
        db.create_raw_tables(con)
        assert build.load_and_build(con, lake_dir, ["b1"])
        outcome = batches_outcome(con, ["b1"])
    assert outcome.statuses == {"loaded": 1}
    assert [str(p) for p in outcome.problems] == [f"loaded zhengzhou.txt: unknown bulletin format: {ZHENGZHOU_TABLE}"]
