"""Synthetic pages for the bundled inbox and the tests: a bulletin week from figures.

Zhumadian's page mimics the real e-paper layout (see tests/fixtures/pages/000_*.txt): a
section line, one news item, then the weekly bulletin with tab-separated tables.
Sanmenxia's pages: `flows.devtools.synth_sanmenxia`.
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


class PrintedUnitRow(NamedTuple):
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
    units: tuple[PrintedUnitRow, ...]

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


def _u(group: str, name: str, dispatched: int, unresolved: int) -> PrintedUnitRow:
    return PrintedUnitRow(group, name, dispatched, unresolved)


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
