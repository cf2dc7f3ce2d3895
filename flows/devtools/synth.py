"""Synthetic pages for the bundled inbox and the tests: a bulletin week from figures.

Zhumadian's page mimics the real e-paper layout (see tests/fixtures/pages/000_*.txt): a
section line, one news item, then the weekly bulletin with tab-separated tables.
Sanmenxia's mimics its web report (tests/fixtures/pages/cities/sanmenxia-*.txt).
Every page satisfies the identities of a clean bulletin unless told otherwise.

    python -m flows.devtools.synth warehouse/inbox     # (re)writes the bundled synthetic weeks
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import NamedTuple

DISTRICTS = "市辖区(管委会)组"
CITY_UNITS = "市直单位及企业组"
SIGNATURE = "驻马店市数字化城市管理领导小组"


class UnitRow(NamedTuple):
    """One row of a bulletin's table, as printed (a tuple: `group, name, d, u = row` works)."""

    group: str
    name: str
    dispatched: int
    unresolved: int


@dataclass(frozen=True)
class Week:
    """The figures of one weekly bulletin; the rest are derived so the identities hold."""

    start: date
    received: int
    due: int
    in_progress: int
    disputed: int
    linked_units: int
    units: tuple[UnitRow, ...]

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def overdue(self) -> int:
        return sum(u.unresolved for u in self.units)

    @property
    def closed(self) -> int:
        return self.due - self.in_progress - self.overdue - self.disputed

    @property
    def overdue_units(self) -> int:
        return len(self.units)

    @property
    def closure_rate(self) -> Decimal:
        """In percent, to two decimals, as printed."""
        return (Decimal(self.closed) * 100 / Decimal(self.due)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def closure_rate_pct(self) -> str:
        return f"{self.closure_rate}%"


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def render_page(week: Week, issue_date: date) -> str:
    """Render a page holding one synthetic news item and the week's bulletin."""
    start = f"{week.start.year}年{_md(week.start)}"
    end = _md(week.end)  # printed without its year, as the e-paper does, even across New Year
    lines = [
        "",
        "时政要闻",
        "",
        "合成样例页 供测试使用",
        "",
        f"本报讯(记者 测试员){_md(issue_date - timedelta(days=1))},这是由项目生成器合成的新闻条目,内容不对应真实事件。②6",
        "",
        "",
        "",
        "驻马店市数字化城市管理案件办理后进单位周通报",
        "",
        f"{start}~{end},驻马店市智慧城市管理中心通过采集员、网格员采集上报、视频抓拍、市民举报、领导交办等途径"
        f"受理各类城市管理案件{week.received}件,本周应结案{week.due}件,其中已结案{week.closed}件、"
        f"正在办理中{week.in_progress}件、超时未办结{week.overdue}件,因确权争议未处置案件共{week.disputed}件,"
        f"结案率{week.closure_rate_pct},所有案件均通过数字城管系统派单交办至{week.linked_units}个联动单位,"
        f"经采集员核查,截至{_md(week.end)}18时,存在超时未办结案件的单位共{len(week.units)}个,详细情况如下:",
        "",
        f"数字城管周报({_md(week.start)}~{_md(week.end)})",
        "",
    ]
    for group in (DISTRICTS, CITY_UNITS):
        rows = [u for u in week.units if u.group == group]
        if not rows:
            continue
        lines += [f"{group}\t\t", "单位\t交办件\t未办结件"]
        lines += [f"{u.name}\t{u.dispatched}件\t{u.unresolved}件" for u in rows]
        lines += [f"{SIGNATURE}\t\t", ""]
    return "\n".join(lines)


def _u(group: str, name: str, dispatched: int, unresolved: int) -> UnitRow:
    return UnitRow(group, name, dispatched, unresolved)


# The bundled weeks around the real sample (2020-12-14): a unit entering, staying and
# leaving, an alias (驿城区人民政府), a week across New Year, and an unpublished week
# (2021-01-04) before the last two.
BUNDLED_WEEKS: tuple[tuple[date, Week], ...] = (
    (
        date(2020, 12, 16),
        Week(
            date(2020, 12, 7),
            4710,
            5602,
            240,
            181,
            18,
            (
                _u(DISTRICTS, "驿城区政府", 998, 12),
                _u(DISTRICTS, "经济开发区管委会", 490, 4),
                _u(CITY_UNITS, "中国电信驻马店分公司", 70, 61),
                _u(CITY_UNITS, "中一市政建设管理有限公司", 20, 15),
                _u(CITY_UNITS, "河南移动驻马店分公司", 50, 11),
                _u(CITY_UNITS, "中国联通驻马店分公司", 61, 3),
            ),
        ),
    ),
    (
        date(2020, 12, 30),
        Week(
            date(2020, 12, 21),
            4903,
            5688,
            221,
            170,
            18,
            (
                _u(DISTRICTS, "驿城区人民政府", 1021, 6),
                _u(DISTRICTS, "市城乡一体化示范区管委会", 18, 5),
                _u(CITY_UNITS, "中国电信驻马店分公司", 71, 52),
                _u(CITY_UNITS, "中一市政建设管理有限公司", 19, 19),
                _u(CITY_UNITS, "市豫资市政设施管理有限公司", 15, 7),
                _u(CITY_UNITS, "河南移动驻马店分公司", 54, 10),
            ),
        ),
    ),
    (
        date(2021, 1, 6),
        Week(
            date(2020, 12, 28),
            4587,
            5530,
            215,
            168,
            18,
            (
                _u(DISTRICTS, "驿城区政府", 1002, 9),
                _u(CITY_UNITS, "中国电信驻马店分公司", 66, 40),
                _u(CITY_UNITS, "市豫资市政设施管理有限公司", 16, 4),
                _u(CITY_UNITS, "国电驻马店热电有限公司", 7, 2),
            ),
        ),
    ),
    (
        date(2021, 1, 20),
        Week(
            date(2021, 1, 11),
            4422,
            5390,
            230,
            160,
            18,
            (
                _u(DISTRICTS, "驿城区政府", 990, 7),
                _u(DISTRICTS, "经济开发区管委会", 470, 3),
                _u(CITY_UNITS, "中国电信驻马店分公司", 60, 33),
                _u(CITY_UNITS, "中国联通驻马店分公司", 58, 2),
            ),
        ),
    ),
    (
        date(2021, 1, 27),
        Week(
            date(2021, 1, 18),
            4515,
            5402,
            226,
            158,
            18,
            (
                _u(DISTRICTS, "驿城区政府", 985, 5),
                _u(CITY_UNITS, "中国电信驻马店分公司", 62, 35),
                _u(CITY_UNITS, "市豫资市政设施管理有限公司", 14, 6),
            ),
        ),
    ),
)


# --------------------------------------------------------------------------- Sanmenxia

HOTLINE = "12319城管热线"
PLATFORM = "数字城管平台"


@dataclass(frozen=True)
class Department:
    """One department row of a Sanmenxia channel table."""

    channel: str  # HOTLINE or PLATFORM
    name: str
    dispatched: int
    closed: int

    @property
    def unresolved(self) -> int:
        return self.dispatched - self.closed


@dataclass(frozen=True)
class SanmenxiaWeek:
    """The figures of one Sanmenxia weekly report (市城管局监督指挥中心周报); the rest are derived."""

    start: date  # the report's weeks run Saturday to Friday
    issue_no: int  # the 期 number, counted in the year of `label_year`
    label_year: int
    hotline_12345: int  # cases the 12345 hotline passed on and the centre took in
    consultations_12319: int  # 12319 calls answered without a case (咨询解释)
    departments: tuple[Department, ...]
    layout: str = "cells"  # "cells": one cell per line, or "pipes": a | b | c |

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.label_year}第{self.issue_no}期"

    def channel(self, name: str) -> tuple[Department, ...]:
        return tuple(d for d in self.departments if d.channel == name)

    @property
    def received(self) -> int:
        """共处理案件: every channel's cases (12319's consultations included; 领导督办 0)."""
        platform = sum(d.dispatched for d in self.channel(PLATFORM))
        hotline = self.consultations_12319 + sum(d.dispatched for d in self.channel(HOTLINE))
        return platform + self.hotline_12345 + hotline


def _rate(closed: int, dispatched: int) -> str:
    """The rate as the publisher prints it: 100% and 0% bare, else one decimal, rounded half-up."""
    if closed in (0, dispatched):
        return f"{100 * closed // dispatched}%"
    return f"{(Decimal(closed) * 100 / Decimal(dispatched)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _department_table(rows: tuple[Department, ...], rate_name: str, layout: str) -> list[str]:
    table = [["部门", "派遣数", "完成数", "未完成数", rate_name]]
    table += [
        [d.name, str(d.dispatched), str(d.closed), str(d.unresolved), _rate(d.closed, d.dispatched)] for d in rows
    ]
    dispatched, closed = sum(d.dispatched for d in rows), sum(d.closed for d in rows)
    table.append(["合  计", str(dispatched), str(closed), str(dispatched - closed), _rate(closed, dispatched)])
    if layout == "pipes":
        return [" | ".join(cells) + " |" for cells in table]
    return [line for cells in table for cell in cells for line in (cell, "")]


def render_sanmenxia_page(week: SanmenxiaWeek, issue_date: date) -> str:
    """Render a Sanmenxia report page (the layout of tests/fixtures/pages/cities/sanmenxia-*.txt)."""
    days = f"{week.start.month}.{week.start.day:02d}—{week.end.month}.{week.end.day:02d}"
    hotline, platform = week.channel(HOTLINE), week.channel(PLATFORM)
    hotline_dispatched = sum(d.dispatched for d in hotline)
    platform_dispatched = sum(d.dispatched for d in platform)
    platform_closed = sum(d.closed for d in platform)
    lines = [
        "source: synthetic page made by flows.devtools.synth (not a real report)",
        "当前位置:首页> 运行简报> 周报> 文章浏览",
        f"市城管局监督指挥中心周报({week.label}){days}",
        f"发布日期: {issue_date:%Y-%m-%d} 09:00",
        "来源: 数管中心",
        "",
        f"上周({days})案件办理情况",
        "",
        f"上周({days}),局监督指挥中心共处理案件{week.received}件,其中市级数字城管平台案件{platform_dispatched}件,"
        f"市12345政务热线平台案件{week.hotline_12345}件,领导督办案件0件,"
        f"12319城管热线群众诉求{week.consultations_12319 + hotline_dispatched}件。现将具体办理情况通报如下:",
        "",
        "一、12345政府热线",
        "",
        f"上周12345政府热线平台共签收(含复派){week.hotline_12345}件,退回市12345平台0件,"
        f"实际受理{week.hotline_12345}件。",
        "",
        "二、12319城管热线",
        "",
        f"上周我局12319城管热线共受理案件{week.consultations_12319 + hotline_dispatched}件。"
        f"其中,咨询解释{week.consultations_12319}件,派遣案件{hotline_dispatched}件。",
        "",
        "(一)完成情况",
        "",
        f"派遣的{hotline_dispatched}件中,完成情况如下:",
        "",
        *_department_table(hotline, "完成率", week.layout),
        "",
        "三、数字城管平台",
        "",
        f"上周向我局各承办部门共派遣数字城管案件{platform_dispatched}件,实际完成{platform_closed}件,"
        f"未完成{platform_dispatched - platform_closed}件。",
        "",
        "(一)完成情况",
        "",
        f"派遣的{platform_dispatched}件中,完成情况如下:",
        "",
        *_department_table(platform, "结案率", week.layout),
        "",
    ]
    return "\n".join(lines)


def _d(channel: str, name: str, dispatched: int, closed: int) -> Department:
    return Department(channel, name, dispatched, closed)


# Three Sanmenxia weeks for the tests (not in the bundled inbox): two in a row, then one
# after an unpublished week; departments entering and leaving; the middle one in pipe rows.
SANMENXIA_WEEKS: tuple[tuple[date, SanmenxiaWeek], ...] = (
    (
        date(2021, 3, 3),
        SanmenxiaWeek(
            date(2021, 2, 27), 7, 2021, 45, 38,
            (
                _d(HOTLINE, "一支队", 1, 1), _d(HOTLINE, "渣土办", 2, 2),
                _d(PLATFORM, "一支队", 167, 150), _d(PLATFORM, "二支队", 193, 185), _d(PLATFORM, "环卫处", 50, 50),
            ),
        ),
    ),
    (
        date(2021, 3, 10),
        SanmenxiaWeek(
            date(2021, 3, 6), 8, 2021, 40, 30,
            (
                _d(HOTLINE, "一支队", 3, 2),
                _d(PLATFORM, "一支队", 150, 140), _d(PLATFORM, "二支队", 180, 180), _d(PLATFORM, "三支队", 90, 80),
            ),
            layout="pipes",
        ),
    ),
    (
        date(2021, 3, 24),
        SanmenxiaWeek(
            date(2021, 3, 20), 10, 2021, 42, 35,
            (_d(HOTLINE, "渣土办", 1, 1), _d(PLATFORM, "一支队", 160, 150), _d(PLATFORM, "三支队", 100, 99)),
        ),
    ),
)  # fmt: skip


def sanmenxia_files(
    weeks: list[tuple[date, SanmenxiaWeek]] | tuple[tuple[date, SanmenxiaWeek], ...] = SANMENXIA_WEEKS,
) -> dict[str, str]:
    """File name -> page text for (issue date, Sanmenxia week) pairs."""
    return {
        f"{issue:%Y-%m-%d}_synthetic_sanmenxia_{week.start:%Y-%m-%d}.txt": render_sanmenxia_page(week, issue)
        for issue, week in weeks
    }


def random_weeks(count: int, seed: int = 0, first: date = date(2019, 1, 7)) -> list[tuple[date, Week]]:
    """`count` consecutive clean weeks with units drifting on and off the list (benchmarks)."""
    rng = random.Random(seed)
    names = [
        (DISTRICTS, n) for n in ("驿城区政府", "经济开发区管委会", "市城乡一体化示范区管委会", "高新技术产业开发区")
    ]
    names += [
        (CITY_UNITS, n)
        for n in (
            "中国电信驻马店分公司",
            "中一市政建设管理有限公司",
            "市豫资市政设施管理有限公司",
            "河南移动驻马店分公司",
            "国电驻马店热电有限公司",
            "中国联通驻马店分公司",
        )
    ]
    weeks = []
    for n in range(count):
        start = first + timedelta(weeks=n)
        units = []
        for group, name in names:
            if rng.random() < 0.6:
                dispatched = rng.randint(5, 1100)
                units.append(_u(group, name, dispatched, rng.randint(1, min(dispatched, 70))))
        if not units:
            units.append(_u(*names[0], 900, 1))
        due = rng.randint(5000, 6000)
        weeks.append(
            (
                start + timedelta(days=9),
                Week(
                    start, rng.randint(4000, 5000), due, rng.randint(150, 260), rng.randint(120, 200), 18, tuple(units)
                ),
            )
        )
    return weeks


def page_files(weeks: list[tuple[date, Week]] | tuple[tuple[date, Week], ...]) -> dict[str, str]:
    """File name -> page text for (issue date, week) pairs."""
    return {
        f"{issue:%Y-%m-%d}_synthetic_week_{week.start:%Y-%m-%d}.txt": render_page(week, issue) for issue, week in weeks
    }


def bundled_files() -> dict[str, str]:
    """File name -> page text of the bundled synthetic weeks."""
    return page_files(BUNDLED_WEEKS)


def write_bundled(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in bundled_files().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_bundled(Path(sys.argv[1] if len(sys.argv) > 1 else "warehouse/inbox")):
        print(p)
