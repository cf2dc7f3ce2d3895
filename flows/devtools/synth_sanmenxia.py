"""Synthetic pages of Sanmenxia's weekly web report (tests/fixtures/pages/cities/sanmenxia-*.txt),
for the tests: a report week from its departments' figures, in either table layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

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
