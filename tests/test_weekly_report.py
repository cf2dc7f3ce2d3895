"""The weekly report: golden Markdown for the bundled inbox, the HTML parsed back, edge cases, the CLI.

The page in a real browser (phone and desktop widths, PDF, PNG) is tests/test_report_browser.py.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from pipeline_helpers import copy_bundled, load_without_prefect, make_inbox
from testdata import build_models, load_rows, regrouped_unit_rows
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.charts import NARROW, WIDE, render_svg
from flows.reporting.report_context import TEMPLATES, render_markdown
from flows.reporting.report_files import write_week_reports
from flows.reporting.report_html import CHART_IDS, closure_rate_chart, gap_runs, render_html, unit_trend_chart
from flows.reporting.weekly_report import NoPublishedWeek, calendar, read_weekly_report
from flows.settings import PROJECT_DIR
from flows.warehouse.db import connection
from flows.warehouse.readers.report import WeekNotPublished

D = dt.date
ZMD = "驻马店"
FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


@pytest.fixture(scope="module")
def bundled(bundled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of the bundled inbox (the real sample and five synthetic weeks)."""
    return copy_bundled(bundled_template, tmp_path_factory.mktemp("report"))


EXPECTED_LATEST = """\
# 驻马店数字城管超时未办结单位周报：2021年1月18日—1月24日

本周：2021年1月18日—1月24日，2021年1月27日刊发。变化均与上一周（2021年1月11日—1月17日）相比。

## 一、全市概况

| 指标 | 本周 | 较上周 |
| --- | ---: | ---: |
| 受理案件 | 4515 | +93 |
| 应结案 | 5402 | +12 |
| 已结案 | 4972 | +17 |
| 正在办理 | 226 | -4 |
| 超时未办结 | 46 | +1 |
| 确权争议未处置 | 158 | -2 |
| 结案率（计算） | 92.04% | +0.11 个百分点 |
| 结案率（通报公布） | 92.04% | +0.11 个百分点 |
| 上榜单位数 | 3 | -1（新上榜 1，退出 2） |
| 前三名单位占超时未办结比例 | 100.00% | +4.44 个百分点 |

来源：《驻马店日报》2021年1月27日「时政要闻」版。

## 二、上榜单位

本周上榜 3 个单位：新上榜 1 个，连续上榜 2 个；退出 2 个。本周没有零办结（交办件全部未办结）的单位。

### 市辖区(管委会)组

| 组内排名 | 单位 | 交办件 | 未办结件 | 未办结件较上周 | 未办结率 | 未办结率较上周（百分点） | 上榜变化 | 连续上榜周数 | 备注 |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |
| 1 | 驿城区政府 | 985 | 5 | -2 | 0.51% | -0.20 个百分点 | 连续上榜 | 2 |  |
| — | 经济开发区管委会 | — | 0 | -3 | — | — | 退出 | 0 |  |

### 市直单位及企业组

| 组内排名 | 单位 | 交办件 | 未办结件 | 未办结件较上周 | 未办结率 | 未办结率较上周（百分点） | 上榜变化 | 连续上榜周数 | 备注 |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |
| 1 | 中国电信驻马店分公司 | 62 | 35 | +2 | 56.45% | +1.45 个百分点 | 连续上榜 | 2 |  |
| 2 | 市豫资市政设施管理有限公司 | 14 | 6 | +6 | 42.86% | — | 新上榜 | 1 |  |
| — | 中国联通驻马店分公司 | — | 0 | -2 | — | — | 退出 | 0 |  |

来源：《驻马店日报》2021年1月27日「时政要闻」版。

## 三、各单位未办结件走势（近 12 个发布周）

| 单位 | 12/7 | 12/14 | 12/21 | 12/28 | 1/4 | 1/11 | 1/18 |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 驿城区政府 | 12 | 8 | 6 | 9 | 未发布 | 7 | 5 |
| 经济开发区管委会 | 4 | 6 | 0 | 0 | 未发布 | 3 | 0 |
| 中国电信驻马店分公司 | 61 | 68 | 52 | 40 | 未发布 | 33 | 35 |
| 市豫资市政设施管理有限公司 | 0 | 13 | 7 | 4 | 未发布 | 0 | 6 |
| 中国联通驻马店分公司 | 3 | 1 | 0 | 0 | 未发布 | 2 | 0 |

来源：6 期通报，2020年12月16日至2021年1月27日刊发（逐期见「数据来源」）；2021-01-04 起的一周没有发布通报，图中留空。

## 四、全市结案率走势

| 周起始日 | 结案率（计算） | 结案率（通报公布） | 结案率较上周（百分点） |
| --- | ---: | ---: | ---: |
| 2020-12-07 | 90.59% | 90.59% | — |
| 2020-12-14 | 90.58% | 90.58% | -0.01 个百分点 |
| 2020-12-21 | 91.39% | 91.39% | +0.80 个百分点 |
| 2020-12-28 | 92.08% | 92.08% | +0.69 个百分点 |
| 2021-01-04 | 未发布 | 未发布 | — |
| 2021-01-11 | 91.93% | 91.93% | — |
| 2021-01-18 | 92.04% | 92.04% | +0.11 个百分点 |

来源：6 期通报，2020年12月16日至2021年1月27日刊发（逐期见「数据来源」）；2021-01-04 起的一周没有发布通报，图中留空。

## 五、超时未办结集中在哪些单位

全市超时未办结 46 件，前三名单位合计占 100.00%。

| 单位 | 未办结件 | 占全市超时未办结比例 |
| --- | ---: | ---: |
| 中国电信驻马店分公司 | 35 | 76.09% |
| 市豫资市政设施管理有限公司 | 6 | 13.04% |
| 驿城区政府 | 5 | 10.87% |

来源：《驻马店日报》2021年1月27日「时政要闻」版。

## 数据来源

| 周起始日 | 刊发于 |
| --- | --- |
| 2021-01-18 | 《驻马店日报》2021年1月27日「时政要闻」版 |
| 2021-01-11 | 《驻马店日报》2021年1月20日「时政要闻」版 |
| 2021-01-04 | 未发布 |
| 2020-12-28 | 《驻马店日报》2021年1月6日「时政要闻」版 |
| 2020-12-21 | 《驻马店日报》2020年12月30日「时政要闻」版 |
| 2020-12-14 | 《驻马店日报》2020年12月22日「时政要闻」版，刊发日期（推断） |
| 2020-12-07 | 《驻马店日报》2020年12月16日「时政要闻」版 |

只采用通过校验、且未被更正版取代的通报。

### 文件溯源（供核对）

| 周起始日 | 文件 | 记录号 |
| --- | --- | --- |
| 2021-01-18 | 2021-01-27_synthetic_week_2021-01-18.txt | 286e4b5b2f3b9593-1 |
| 2021-01-11 | 2021-01-20_synthetic_week_2021-01-11.txt | 94b73911217f461c-1 |
| 2020-12-28 | 2021-01-06_synthetic_week_2020-12-28.txt | adda653f5a116c94-1 |
| 2020-12-21 | 2020-12-30_synthetic_week_2020-12-21.txt | 454eaccf8e2a628a-1 |
| 2020-12-14 | 000_3e19ef32d54e8472.txt | 9e943b1cf111c7e0-1 |
| 2020-12-07 | 2020-12-16_synthetic_week_2020-12-07.txt | e2b233da7a5fa313-1 |

数字取自仓库的 marts.city_week_performance 与 marts.unit_week_performance；记录号为文件 SHA-256 的前 16 位与通报在文件中的序号。
"""


def test_golden_markdown_of_the_bundled_latest_week(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD)
    assert report.week_start == D(2021, 1, 18)
    assert render_markdown(report) == EXPECTED_LATEST


class _Page(HTMLParser):
    """Text, chart divs and outside references of each <section id=...> of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.text: dict[str, list[str]] = {}
        self.charts: dict[str, list[str]] = {}
        self.external: list[str] = []
        self.tags: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "data", "action", "srcset", "poster"):
            if values.get(name):
                self.external.append(f"{tag} {name}={values[name]}")
        if tag == "section":
            self.section = values["id"]
            self.text[self.section or ""] = []
            self.charts[self.section or ""] = []
        if tag == "figure" and "chart" in (values.get("class") or "") and self.section:
            self.charts[self.section].append(values["id"] or "")
        self.in_script = tag in {"script", "style"}

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        if tag in {"script", "style"}:
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.section and not self.in_script:
            self.text[self.section].append(data)

    def section_text(self, section: str) -> str:
        return "".join(self.text[section])


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def test_html_shows_every_unit_every_change_and_one_chart_per_chart_section(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD)
    html = render_html(report)
    page = parse(html)
    assert list(page.charts) == ["city", "list", "unit-trend", "closure-rate", "overdue-share", "sources"]
    assert page.charts == {
        "city": [],
        "list": [],
        "unit-trend": [CHART_IDS[0]],
        "closure-rate": [CHART_IDS[1]],
        "overdue-share": [CHART_IDS[2]],
        "sources": [],
    }
    city = page.section_text("city")
    for figure in (
        "4515",
        "5402",
        "4972",
        "226",
        "46",
        "+1",
        "158",
        "-2",
        "92.04%",
        "+0.11 个百分点",
        "-1（新上榜 1，退出 2）",
    ):
        assert figure in city
    # Every figure row has its change on the week before, as the Markdown has it.
    figures = EXPECTED_LATEST.split("## 一、全市概况")[1].split("来源：")[0]
    for line in figures.splitlines()[4:]:
        if line.startswith("| "):
            label, value, change = (c.strip() for c in line.strip("|").split("|"))
            assert change and f"{label}{value}{change}" in city, line
    assert "来源：《驻马店日报》2021年1月27日「时政要闻」版。" in city
    listed = page.section_text("list")
    for unit in report.units:
        assert unit.unit_name in listed
    # Every change of the list, as the Markdown prints it, is on the page.
    for line in EXPECTED_LATEST.split("## 二、上榜单位")[1].split("## 三")[0].splitlines():
        if line.startswith("| ") and not line.startswith(("| 组内排名", "| ---")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            for cell in cells:
                assert cell in listed, cell
    for label in ("连续上榜", "新上榜", "退出"):
        assert label in listed
    # Every chart section says where its figures come from.
    for section in ("unit-trend", "closure-rate", "overdue-share"):
        assert "来源：" in page.section_text(section)
    # Self-contained and static: no element points anywhere, no script (the charts are inline SVG).
    assert page.external == []
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "<script" not in html
    assert html.count("<svg") >= 2 * 2  # two line charts, each drawn wide and narrow
    assert '<html lang="zh-CN">' in html
    assert len(html.encode()) < 100_000  # well under 1 MB (plotly.js inline made it 4.85 MB)
    # An A4 print stylesheet: no chart toolbar to print, no break inside a table row or chart.
    assert "@page { size: A4;" in html
    assert re.search(r"@media print \{[^@]*table, tr, figure[^}]*break-inside: avoid", html)


def test_units_that_resolve_nothing_are_marked(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2020, 12, 14))
    markdown = render_markdown(report)
    assert "零办结（交办件全部未办结）的单位 2 个" in markdown
    assert "| 1 | 中国电信驻马店分公司 | 68 | 68 | +7 | 100.00% | +12.86 个百分点 | 连续上榜 | 2 | 零办结 |" in markdown
    assert (
        "| 2 | 中一市政建设管理有限公司 | 18 | 18 | +3 | 100.00% | +25.00 个百分点 | 连续上榜 | 2 | 零办结 |"
        in markdown
    )
    assert render_html(report).count('<span class="badge nothing">零办结</span>') == 2


def test_first_published_week_has_no_changes(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2020, 12, 10))  # a day inside the first week
    assert report.week_start == D(2020, 12, 7) and report.first_published
    markdown = render_markdown(report)
    assert "这是仓库中第一个发布周，没有上一周可比：变化一栏为「—」。" in markdown
    assert "| 超时未办结 | 106 | — |" in markdown
    assert "| 结案率（计算） | 90.59% | — |" in markdown
    assert "| 上榜单位数 | 6 | — |" in markdown
    assert "| 受理案件 | 4710 | — |" in markdown  # every figure row has a change column: — when none
    assert "| 1 | 驿城区政府 | 998 | 12 | — | 1.20% | — | — | 1 |  |" in markdown
    assert "本周上榜 6 个单位。" in markdown
    assert "新上榜" not in markdown and "退出" not in markdown
    # One published week: the trend charts hold one point, no gap.
    assert [t.week_start for t in report.trend] == [D(2020, 12, 7)]


def test_week_after_an_unpublished_week(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2021, 1, 11))
    markdown = render_markdown(report)
    assert not report.first_published and not report.city.prev_week_published
    assert (
        "上一周（2021年1月4日—1月10日）没有发布通报，无从比较：变化一栏为「—」，连续上榜周数从本周重新计算。"
        in markdown
    )
    assert "| 超时未办结 | 45 | — |" in markdown
    assert "| 1 | 中国电信驻马店分公司 | 60 | 33 | — | 55.00% | — | — | 1 |  |" in markdown
    # The gap is a gap on the charts, not a zero.
    assert [(t.week_start, t.city is None) for t in report.trend][-2:] == [
        (D(2021, 1, 4), True),
        (D(2021, 1, 11), False),
    ]
    assert "| 中国电信驻马店分公司 | 61 | 68 | 52 | 40 | 未发布 | 33 |" in markdown
    chart = unit_trend_chart(report)
    [telecom] = [s for s in chart.series if s.name == "中国电信驻马店分公司"]
    assert list(telecom.values) == [61, 68, 52, 40, None, 33]
    assert [(slot.tick, slot.gap) for slot in chart.slots][-2:] == [("1/4", "未发布"), ("1/11", None)]
    # The line breaks at the gap: one polyline (12/7 to 12/28), and 1/11 a point on its own.
    svg = render_svg(chart, WIDE, label="t")
    assert svg.count(f'stroke="{telecom.color}" stroke-width="2"/>') == 1
    assert svg.count(f'fill="{telecom.color}"><title>') == 5


def test_published_weeks_years_apart_shade_one_gap_not_every_week(bundled: Path) -> None:
    """Found by the reliability suite: a trend whose published weeks lie years apart (an archive
    with a hole) drew one shape per unpublished week, in quadratic time: the run hung writing reports.
    A run of weeks without figures is one slot of the axis, named with its length."""
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2021, 1, 11))
    published = [t.city for t in report.trend if t.city is not None]
    long_ago = dataclasses.replace(published[0], week_start=D(2010, 1, 4), week_end=D(2010, 1, 10))
    report = dataclasses.replace(report, trend=calendar([long_ago, *published]))
    gap = (D(2020, 12, 7) - D(2010, 1, 11)).days // 7  # the weeks from 2010-01-11 to 2020-11-30
    assert len(report.trend) == 1 + gap + 6
    assert gap_runs(report) == [(D(2010, 1, 11), D(2020, 11, 30), gap), (D(2021, 1, 4), D(2021, 1, 4), 1)]
    for chart in (unit_trend_chart(report), closure_rate_chart(report)):
        assert [(slot.tick, slot.gap) for slot in chart.slots] == [
            ("1/4", None), ("1/11", f"{gap} 周未发布"), ("12/7", None), ("12/14", None), ("12/21", None),
            ("12/28", None), ("1/4", "未发布"), ("1/11", None),
        ]  # fmt: skip
        for frame in (WIDE, NARROW):
            svg = render_svg(chart, frame, label="t")
            assert svg.count('<rect class="gap"') == 2
            assert re.findall(r'<text class="gap-label"[^>]*>([^<]*)</text>', svg) == [f"{gap} 周未发布", "未发布"]


RENDER_AND_LIST_MODULES = """
import sys
import time
from pathlib import Path

from flows.reporting.report_files import write_report
from flows.reporting.weekly_report import read_weekly_report
from flows.warehouse.db import connection

started = time.perf_counter()
with connection(Path(sys.argv[1]), read_only=True) as con:
    written = write_report(read_weekly_report(con, "驻马店"), Path(sys.argv[2]))
print(time.perf_counter() - started)
print(written.html.stat().st_size)
print(sorted(m for m in sys.modules if m.startswith(("plotly", "_plotly_utils", "matplotlib", "pygal"))))
"""


def test_writing_a_report_is_small_and_quick_and_loads_no_plotting_library(bundled: Path, tmp_path: Path) -> None:
    """The page carried plotly.js (4.85 MB): the charts are SVG drawn by flows.reporting.charts now."""
    result = subprocess.run(
        [sys.executable, "-c", RENDER_AND_LIST_MODULES, str(bundled), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, size, modules = result.stdout.splitlines()
    assert 10_000 < int(size) < 1_000_000
    assert ast.literal_eval(modules) == []
    assert float(seconds) < 5  # in a new process, reading included (about 0.1 s here)


def test_templates_ship_with_the_package() -> None:
    """An installed `bulletins` finds its templates: pyproject's package data covers every file there."""
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["flows.reporting"]
    files = [p.relative_to(TEMPLATES.parent).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert {"templates/report.html.j2", "templates/report.md.j2", "templates/report.css"} <= set(files)
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


def test_no_internal_identifier_in_the_body(bundled: Path) -> None:
    """The body names the newspaper, date and page; file names, ids and tables only in the closing note."""
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD)
    markdown = render_markdown(report)
    body, note = markdown.split("### 文件溯源（供核对）")
    html_body, html_note = render_html(report).split('<footer id="provenance">')
    for text in (body, html_body):
        assert ".txt" not in text and "marts." not in text and "通报编号" not in text
        assert not re.search(r"[0-9a-f]{16}-\d", text)
    for text in (note, html_note):
        assert "2021-01-27_synthetic_week_2021-01-18.txt" in text and "286e4b5b2f3b9593-1" in text
        assert "marts.city_week_performance" in text


def test_unit_names_as_printed(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2020, 12, 21))
    assert report.printed_names == {"驿城区政府": ["驿城区人民政府"]}
    assert "| 1 | 驿城区人民政府（统一名称：驿城区政府） | 1021 | 6 | -2 |" in render_markdown(report)


def test_a_unit_printed_in_the_other_group_stayed_on_the_list(con: duckdb.DuckDBPyConnection) -> None:
    """Zhumadian's groups are one list: a unit that moved is 连续上榜, its remark names last
    week's group, and its trend goes on across the move."""
    load_rows(con, regrouped_unit_rows())
    build_models(con)
    report = read_weekly_report(con, ZMD, D(2021, 1, 11))
    markdown = render_markdown(report)
    assert "本周上榜 3 个单位：新上榜 0 个，连续上榜 3 个；退出 0 个。" in markdown
    assert (
        "| 2 | 市城市管理局 | 50 | 5 | -3 | 10.00% | -10.00 个百分点 | 连续上榜 | 2 | 上周在市直单位及企业组 |"
        in markdown
    )
    assert "| 市城市管理局 | 8 | 5 |" in markdown
    assert "上周在市直单位及企业组" in parse(render_html(report)).section_text("list")


def test_a_week_whose_bulletin_was_corrected(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    corrected = (
        (inbox / "000_3e19ef32d54e8472.txt")
        .read_text(encoding="utf-8")
        .replace("超时未办结131件", "超时未办结130件")
        .replace("正在办理中232件", "正在办理中233件")
        .replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件")
    )
    (inbox / "2020-12-30_correction.txt").write_text(corrected, encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    with connection(db, read_only=True) as con:
        report = read_weekly_report(con, ZMD)
    markdown = render_markdown(report)
    assert "| 超时未办结 | 130 | — |" in markdown
    assert "| 1 | 驿城区政府 | 1013 | 7 | — |" in markdown
    assert "来源：《驻马店日报》2020年12月30日「时政要闻」版。" in markdown
    assert (
        "本周通报刊发了 2 次：《驻马店日报》2020年12月22日「时政要闻」版，刊发日期（推断）（已被更正版取代）；"
        "《驻马店日报》2020年12月30日「时政要闻」版（采用）（文件见文末「文件溯源」）。"
    ) in markdown
    # The files of both printings, in the closing note only.
    note = markdown.split("### 文件溯源（供核对）")[1]
    assert "| 2020-12-14 | 2020-12-30_correction.txt | a89154c71f81f8ec-1 |" in note
    assert "| 2020-12-14 | 000_3e19ef32d54e8472.txt | 9e943b1cf111c7e0-1（已被更正版取代） |" in note
    assert "已被更正版取代" in parse(render_html(report)).section_text("city")


def test_a_warehouse_with_no_bulletin(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(FIXTURES / "pages" / "2020-12-23_no_bulletin.txt", inbox / "2020-12-23_no_bulletin.txt")
    db = load_without_prefect(inbox, tmp_path / "wh")
    with connection(db, read_only=True) as con, pytest.raises(NoPublishedWeek):
        read_weekly_report(con, ZMD)
    result = runner.invoke(app, ["report", "--warehouse", str(tmp_path / "wh")])
    assert result.exit_code == 1
    assert result.output == "error: no published week in the warehouse yet: nothing to report\n"
    assert not (tmp_path / "wh" / "reports").exists()


def test_cli_writes_both_files_of_the_latest_week(bundled: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", "--warehouse", str(bundled.parent), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["report-2021-01-18.html", "report-2021-01-18.md"]
    assert (out / "report-2021-01-18.md").read_text(encoding="utf-8") == EXPECTED_LATEST
    assert result.output.splitlines() == [
        "周报（驻马店，2021-01-18 起的一周）：",
        f"  {out / 'report-2021-01-18.html'}",
        f"  {out / 'report-2021-01-18.md'}",
    ]


def test_cli_default_folder_and_a_chosen_week(bundled: Path) -> None:
    result = runner.invoke(app, ["report", "--warehouse", str(bundled.parent), "--week", "2020-12-14"])
    assert result.exit_code == 0, result.output
    assert 10_000 < (bundled.parent / "reports" / "report-2020-12-14.html").stat().st_size < 1_000_000


def test_cli_format_chooses_the_files(bundled: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "--warehouse", str(bundled.parent), "--out", str(tmp_path), "--format", "md"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-2021-01-18.md"]
    assert result.output.splitlines() == [
        "周报（驻马店，2021-01-18 起的一周）：",
        f"  {tmp_path / 'report-2021-01-18.md'}",
    ]


@pytest.mark.parametrize("value", ["docx", "html,jpg", ","])
def test_cli_unknown_format_is_a_usage_error(bundled: Path, tmp_path: Path, value: str) -> None:
    result = runner.invoke(
        app, ["report", "--warehouse", str(bundled.parent), "--out", str(tmp_path), "--format", value]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: Invalid value for --format: must be html, md, pdf, png, not ")
    assert len(result.output.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_pdf_and_png_without_chromium_is_one_line_naming_the_package(bundled: Path, tmp_path: Path) -> None:
    """Chromium is a system package: missing, pdf and png fail before anything is written; html and md still work."""
    empty = tmp_path / "no-programs"
    empty.mkdir()
    out = tmp_path / "out"
    args = ["report", "--warehouse", str(bundled.parent), "--out", str(out)]
    result = runner.invoke(app, [*args, "--format", "html,pdf"], env={"PATH": str(empty)})
    assert result.exit_code == 1
    assert result.output == (
        "error: the pdf and png formats need Chromium, which is not installed: apt-get install chromium\n"
    )
    assert not out.exists()
    result = runner.invoke(app, [*args, "-f", "html", "-f", "md"], env={"PATH": str(empty)})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["report-2021-01-18.html", "report-2021-01-18.md"]


@pytest.mark.parametrize(
    ("week", "message"),
    [
        (
            "2021-01-06",
            "error: week 2021-01-06 was not published in 驻马店 (published weeks: 6, 2020-12-07 to 2021-01-18)\n",
        ),
        (
            "2019-01-07",
            "error: week 2019-01-07 was not published in 驻马店 (published weeks: 6, 2020-12-07 to 2021-01-18)\n",
        ),
        ("18/01/2021", "error: --week must be a date like 2021-01-18, not '18/01/2021'\n"),
    ],
)
def test_cli_week_never_published_is_one_line_and_exit_1(bundled: Path, week: str, message: str) -> None:
    result = runner.invoke(app, ["report", "--warehouse", str(bundled.parent), "--week", week])
    assert result.exit_code == 1
    assert result.output == message


def test_write_reports_of_a_chosen_week(bundled: Path, tmp_path: Path) -> None:
    with connection(bundled, read_only=True) as con:
        [written] = write_week_reports(con, tmp_path, [ZMD], D(2020, 12, 28))
        assert (written.city, written.week_start, written.html.name) == (ZMD, D(2020, 12, 28), "report-2020-12-28.html")
        with pytest.raises(WeekNotPublished):
            write_week_reports(con, tmp_path, [ZMD], D(2021, 1, 4))


def test_cli_unknown_city_is_one_line_and_exit_1(bundled: Path) -> None:
    result = runner.invoke(app, ["report", "--warehouse", str(bundled.parent), "--city", "三门峡"])
    assert result.exit_code == 1
    assert result.output == "error: city '三门峡' has no published week (cities: 驻马店)\n"


def test_two_cities_one_report_each_named_by_city(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox")
    sanmenxia = FIXTURES / "pages" / "cities" / "sanmenxia-2021w07-complete.txt"
    shutil.copyfile(sanmenxia, inbox / sanmenxia.name)
    db = load_without_prefect(inbox, tmp_path / "wh")
    wh = ["--warehouse", str(tmp_path / "wh")]

    every = runner.invoke(app, ["report", *wh])
    assert every.exit_code == 0, every.output
    reports = tmp_path / "wh" / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [
        "report-三门峡-2021-02-27.html",
        "report-三门峡-2021-02-27.md",
        "report-驻马店-2021-01-18.html",
        "report-驻马店-2021-01-18.md",
    ]
    smx = (reports / "report-三门峡-2021-02-27.md").read_text(encoding="utf-8")
    # Sanmenxia prints no city-level figures but received: dashes, never zeros.
    assert smx.startswith("# 三门峡数字城管案件办理周报：2021年2月27日—3月5日\n")
    assert "| 受理案件 | 1282 | — |\n| 应结案 | — | — |" in smx
    # A table of every department, 0 unresolved included: not a list of laggards.
    assert "上榜" not in smx and "超时未办结单位" not in smx
    assert "## 二、各单位办理情况" in smx
    assert (
        "本周通报列出全部 11 个单位（同一单位在两个分组各列一次），其中有未办结件的 6 个，未办结件为 0 的 5 个。" in smx
    )
    assert (
        "| 组内排名 | 单位 | 交办件 | 未办结件 | 未办结件较上周 | 未办结率 | 未办结率较上周（百分点） | 备注 |" in smx
    )
    assert "| 1 | 广告执法大队 | 1 | 0 | — | 0.00% | — |  |" in smx
    assert "| 通报列出单位 | 11 | — |" in smx
    assert "来源：三门峡市城市管理局网站 2021年9月3日发布（2021第7期）。" in smx
    smx_html = (reports / "report-三门峡-2021-02-27.html").read_text(encoding="utf-8")
    assert "上榜" not in smx_html and "<title>三门峡数字城管案件办理周报" in smx_html
    # A department listed by two channels is told apart on the charts.
    assert "| 一支队（数字城管平台） | 17 |" in smx and "| 一支队（12319城管热线） | 0 |" in smx
    assert parse((reports / "report-三门峡-2021-02-27.html").read_text(encoding="utf-8")).charts["overdue-share"] == [
        CHART_IDS[2]
    ]

    one = runner.invoke(app, ["report", *wh, "--city", ZMD, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "report-驻马店-2021-01-18.html",
        "report-驻马店-2021-01-18.md",
    ]
    with connection(db, read_only=True) as con:  # Zhumadian's report is unchanged by Sanmenxia's presence
        assert render_markdown(read_weekly_report(con, ZMD)) == EXPECTED_LATEST


def test_publications_name_known_formats() -> None:
    """A publication declared for a format that does not exist (a typo) would never be used."""
    from flows.parsing.formats import FORMATS
    from flows.reporting.report_wording import PUBLICATIONS

    assert set(PUBLICATIONS) <= {fmt.name for fmt in FORMATS}
    assert PUBLICATIONS["zhumadian_weekly"].lists_laggards and not PUBLICATIONS["sanmenxia_weekly"].lists_laggards


def test_every_column_is_named_by_its_one_label(bundled: Path) -> None:
    """One table of Chinese column labels (labels.COLUMNS, the exports' headers): the report's
    unit table, city figures, closure-rate and share tables and the run's unit table artifact
    name a mart column alike; only the report's own remarks column has a label of its own."""
    from flows.reporting.labels import COLUMN_LABELS, REMARKS
    from flows.reporting.report_context import report_context
    from flows.reporting.run_summary import UNIT_TABLE_HEADERS

    with connection(bundled, read_only=True) as con:
        context = report_context(read_weekly_report(con, ZMD))
    labels = set(COLUMN_LABELS.values())
    assert [h for h in context.header if h not in labels] == [REMARKS]
    assert [c.header for c in context.columns if c.name != "remarks"] == [
        COLUMN_LABELS[c.name] for c in context.columns if c.name != "remarks"
    ]
    assert [row.label for row in context.figures if row.label not in labels] == []
    assert set(context.closure_header) | set(context.share_header) | {context.trend_header[0]} <= labels
    assert {column: COLUMN_LABELS[column] for column in UNIT_TABLE_HEADERS} == UNIT_TABLE_HEADERS
