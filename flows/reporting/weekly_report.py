"""The weekly report: one published week read from the marts, as Markdown (and HTML, in report_html).

`read_weekly_report` gathers everything the page shows through the readers;
`report_context` words it once (text only: where the bulletin was printed, never a file
name or an id but in the closing 文件溯源 note); the templates in `templates/` lay that
one context out as Markdown (`render_markdown`) and as a page (`report_html.render_html`).
All pure over a connection / a value, so the CLI (`bulletins report`) and the flow write
the same files.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import duckdb
import jinja2
from markupsafe import Markup

from flows.reporting import labels as L
from flows.reporting.browser import Browser
from flows.text.escape import markdown, visible
from flows.warehouse.atomic import write_atomic
from flows.warehouse.db import connection
from flows.warehouse.readers.report import (
    CityWeekRow,
    UnitWeekRow,
    city_weeks,
    group_order,
    published_weeks,
    report_cities,
    resolve_week,
    unit_unresolved,
    unit_weeks,
)
from flows.warehouse.readers.report_sources import (
    Acceptance,
    BulletinSource,
    CheckedBulletin,
    FailedWeek,
    acceptances,
    bulletin_sources,
    failed_weeks,
    printed_unit_names,
    week_printings,
)
from flows.warehouse.readers.shared import inferred_mark

# The trend charts cover this many published weeks, ending with the report's week.
TREND_WEEKS = 12

# A run writes the reports of at most this many of the weeks it loaded, the latest ones
# (a backfill of years would otherwise write hundreds of pages); `bulletins report
# --week` writes any other.
REPORTS_PER_RUN = 8

REPORT_TITLE = "数字城管超时未办结单位周报"  # a list of laggards (Zhumadian)
TABLE_REPORT_TITLE = "数字城管案件办理周报"  # a table of every unit (Sanmenxia)

# The remark of a unit on the list with every dispatched case unresolved.
RESOLVES_NOTHING = "零办结"

# A week with no published figures: nothing printed, or printed with a bulletin that
# failed a check (its figures exist but are not trusted: never "未发布").
NOT_PUBLISHED = "未发布"
FAILED_CHECKS = "通报未通过校验"
ACCEPTED = "经人工确认"


class NoPublishedWeek(LookupError):
    """The warehouse has no published week: nothing to report."""


@dataclass(frozen=True)
class TrendWeek:
    """A calendar week on the trend charts: published (with its figures) or not (a gap)."""

    week_start: dt.date
    city: CityWeekRow | None
    failed: FailedWeek | None = None  # a gap whose bulletin was printed but failed a check

    @property
    def gap_word(self) -> str:
        """What a gap is called: 未发布, or 通报未通过校验 when the week was printed but failed."""
        return FAILED_CHECKS if self.failed is not None else NOT_PUBLISHED


@dataclass(frozen=True)
class WeeklyReport:
    """Everything one week's report shows, read from the marts."""

    city: CityWeekRow
    units: list[UnitWeekRow]
    groups: list[str]  # unit groups in the order the bulletin prints them
    printed_names: dict[str, list[str]]  # canonical -> as printed this week (when it differs)
    trend: list[TrendWeek]  # calendar weeks of the last TREND_WEEKS published weeks, oldest first
    unit_trend: dict[tuple[str, str], dict[dt.date, int]]  # (list, unit) -> published week -> unresolved
    sources: dict[str, BulletinSource]  # bulletin_id -> where it was read: every trend week's, failed ones too
    printings: list[BulletinSource]  # every printing of this week, earliest first
    first_published: bool  # no published week before this one
    # the previous week when its bulletin failed a check (the trend's gaps carry theirs)
    previous_failed: FailedWeek | None = None
    # bulletin_id -> failed checks accepted on record, for every published trend week
    accepted: dict[str, list[Acceptance]] = field(default_factory=dict)

    @property
    def week_start(self) -> dt.date:
        return self.city.week_start

    @property
    def city_name(self) -> str:
        return self.city.city

    @property
    def previous_week(self) -> dt.date:
        return self.city.week_start - dt.timedelta(days=7)

    @property
    def on_list(self) -> list[UnitWeekRow]:
        return [u for u in self.units if u.on_list]

    def source(self, week: CityWeekRow) -> BulletinSource | None:
        return self.sources.get(week.bulletin_id)


def calendar(weeks: Sequence[CityWeekRow]) -> list[TrendWeek]:
    """Published weeks with the unpublished 7-day steps between them as gaps.

    >>> w = lambda d: CityWeekRow("c", d, d + dt.timedelta(6), *[None] * 8, False, *[None] * 3, 0, *[None] * 5, "b", None)
    >>> [(t.week_start.isoformat(), t.city is not None) for t in calendar([w(dt.date(2021, 1, 4)), w(dt.date(2021, 1, 18))])]
    [('2021-01-04', True), ('2021-01-11', False), ('2021-01-18', True)]
    """
    if not weeks:
        return []
    by_start = {w.week_start: w for w in weeks}
    starts = set(by_start)
    step = weeks[0].week_start
    while step < weeks[-1].week_start:
        inside_published = any(w.week_start < step <= (w.week_end or w.week_start) for w in weeks)
        if not inside_published:
            starts.add(step)
        step += dt.timedelta(days=7)
    return [TrendWeek(s, by_start.get(s)) for s in sorted(starts)]


def read_weekly_report(con: duckdb.DuckDBPyConnection, city_name: str, week: dt.date | None = None) -> WeeklyReport:
    """The city's report of the published week starting on or containing `week` (default: its latest).

    Raises `NoPublishedWeek` when the city has nothing published, `WeekNotPublished` when
    `week` falls in none of its published weeks.
    """
    week_start = resolve_week(con, city_name, week)
    if week_start is None:
        raise NoPublishedWeek(f"no published week of {city_name} yet: nothing to report")
    window = city_weeks(con, city_name, week_start, TREND_WEEKS)
    city = window[-1]
    units = unit_weeks(con, city_name, week_start)
    published = [w.week_start for w in window]
    printed = {
        name: raw
        for name, raw in printed_unit_names(con, city.bulletin_id).items()
        if raw != [name]  # only where the bulletin printed another spelling
    }
    groups = group_order(con, city.bulletin_id)
    groups += sorted({u.unit_group for u in units} - set(groups))
    units.sort(key=lambda u: groups.index(u.unit_group))  # stable: by rank within each group
    trend = calendar(window)
    previous = week_start - dt.timedelta(days=7)
    failed = failed_weeks(con, city_name, [t.week_start for t in trend if t.city is None] + [previous])
    return WeeklyReport(
        city=city,
        units=units,
        groups=groups,
        printed_names=printed,
        trend=[replace(t, failed=failed.get(t.week_start)) if t.city is None else t for t in trend],
        unit_trend=unit_unresolved(con, city_name, [(u.unit_list, u.unit_name) for u in units], published),
        sources=bulletin_sources(
            con, [w.bulletin_id for w in window] + [f.bulletin.bulletin_id for f in failed.values()]
        ),
        printings=week_printings(con, city_name, week_start),
        first_published=len(city_weeks(con, city_name, week_start, 2)) == 1,
        previous_failed=failed.get(previous) if not city.prev_week_published else None,
        accepted=acceptances(con, [w.bulletin_id for w in window]),
    )


# --------------------------------------------------------------------------- where a bulletin was printed


@dataclass(frozen=True)
class Publication:
    """Where a format's bulletins are printed, and what its unit tables are."""

    name: str  # the newspaper (《驻马店日报》) or the site (三门峡市城市管理局网站)
    newspaper: bool  # a daily's page (its date and 版) or a web page (its 发布日期)
    # True: only units with cases past deadline are printed, a list of laggards (上榜);
    # False: every unit is printed, 0 unresolved included, a table of all units.
    lists_laggards: bool


# By bulletin format (core.bulletins.format). A format not named here reads as a table of
# all its units from an unnamed source ("<date> 刊发的通报"): never "上榜" unless declared.
PUBLICATIONS: dict[str, Publication] = {
    "zhumadian_weekly": Publication("《驻马店日报》", newspaper=True, lists_laggards=True),
    "sanmenxia_weekly": Publication("三门峡市城市管理局网站", newspaper=False, lists_laggards=False),
}
UNNAMED = Publication("", newspaper=False, lists_laggards=False)


def publication(source: BulletinSource | None) -> Publication:
    """The publication a bulletin was read from (by its format)."""
    return PUBLICATIONS.get(source.format or "", UNNAMED) if source else UNNAMED


def chinese_day(day: dt.date | None) -> str:
    """2021年1月27日, or 日期未记录."""
    return L.period(day, None) if day else "日期未记录"


def printed_in(source: BulletinSource | None, issue_date: dt.date | None) -> str:
    """Where a bulletin was printed, as a reader would look it up: no file name, no id.

    《驻马店日报》2021年1月27日「时政要闻」版; 三门峡市城市管理局网站 2021年9月3日发布（2021第7期）.
    A date inferred (not from the file name or the page's date line) ends it with
    "，刊发日期（推断）".
    """
    where = publication(source)
    day = chinese_day(issue_date)
    inferred = inferred_mark(source.issue_date_source) if source and issue_date else ""
    if not where.name:
        return f"{day} 刊发的通报{inferred}"
    if where.newspaper:
        section = f"「{source.section}」版" if source and source.section else ""
        return f"{where.name}{day}{section}{inferred}"
    label = f"（{source.period_label}）" if source and source.period_label else ""
    return f"{where.name} {day}发布{label}{inferred}"


# --------------------------------------------------------------------------- wording shared by both formats


def lists_laggards(report: WeeklyReport) -> bool:
    """Whether the week's bulletin is a list of laggards (上榜) or a table of every unit."""
    return publication(report.source(report.city)).lists_laggards


def source_line(report: WeeklyReport, week: CityWeekRow) -> str:
    """Where a week's figures come from: the newspaper, date and page."""
    return printed_in(report.source(week), week.issue_date)


def comparison_note(report: WeeklyReport) -> str:
    """What the week is compared with, or why it cannot be."""
    prev = report.previous_week
    prev_period = L.period(prev, prev + dt.timedelta(days=6))
    streak = "，连续上榜周数从本周重新计算" if lists_laggards(report) else ""
    if report.city.prev_week_published:
        return f"变化均与上一周（{prev_period}）相比。"
    if report.previous_failed is not None:
        return (
            f"上一周（{prev_period}）的{failed_week_text(report.previous_failed)}，不能比较：变化一栏为「—」{streak}。"
        )
    if report.first_published:
        return "这是仓库中第一个发布周，没有上一周可比：变化一栏为「—」。"
    return f"上一周（{prev_period}）没有发布通报，无从比较：变化一栏为「—」{streak}。"


def _count(value: int | None) -> str:
    return f"{value} 件"


def check_numbers(bulletin: CheckedBulletin, check: str) -> str | None:
    """The numbers a failed check compared, in words (None when the check records none we can show).

    >>> from flows.warehouse.readers.report_sources import CheckedBulletin
    >>> b = CheckedBulletin("b-1", None, None, ["units_sum_to_overdue"], 5723, 5184, 232, 150, 176, 0.9058, 9, 9, 131, 0)
    >>> check_numbers(b, "units_sum_to_overdue"), check_numbers(b, "components_sum_to_due")
    ('各单位未办结件合计 131 件，通报的超时未办结 150 件', '已结案 + 正在办理 + 超时未办结 + 确权争议 = 5742 件，应结案 5723 件')
    """
    b = bulletin
    if check in b.warehouse_details:
        return b.warehouse_details[check]
    parts = (b.closed, b.in_progress, b.overdue, b.disputed)
    if check == "units_sum_to_overdue" and b.units_unresolved is not None and b.overdue is not None:
        return f"各单位未办结件合计 {_count(b.units_unresolved)}，通报的超时未办结 {_count(b.overdue)}"
    if check == "components_sum_to_due" and b.due is not None and all(p is not None for p in parts):
        total = sum(p for p in parts if p is not None)
        return f"已结案 + 正在办理 + 超时未办结 + 确权争议 = {_count(total)}，应结案 {_count(b.due)}"
    if check == "closure_rate_matches" and b.due and b.closed is not None and b.closure_rate_published is not None:
        return f"已结案÷应结案 = {L.percent(b.closed / b.due)}，通报公布 {L.percent(b.closure_rate_published)}"
    if check == "unit_count_matches" and b.overdue_units is not None:
        return f"列出单位 {b.units_listed} 个，通报称 {b.overdue_units} 个"
    if check == "unresolved_le_dispatched" and b.units_over_dispatched:
        return f"{b.units_over_dispatched} 个单位的未办结件多于交办件"
    return None


_DETAIL_LINES = re.compile(r"\blines? (\d+(?:-\d+)?)")


def check_lines(bulletin: CheckedBulletin, check: str) -> str | None:
    """The lines of its file a failed check compared (parser's details), in words: `第101–114行、第95行`.

    >>> from flows.warehouse.readers.report_sources import CheckedBulletin
    >>> b = CheckedBulletin("b-1", None, None, [], None, None, None, None, None, None, None, 0, None, 0,
    ...     parser_details={"units_sum_to_overdue": "rows sum to 131 (lines 101-114), the bulletin prints 150 (line 95)"})
    >>> check_lines(b, "units_sum_to_overdue")
    '第101–114行、第95行'
    """
    found = _DETAIL_LINES.findall(bulletin.parser_details.get(check, ""))
    return "、".join(f"第{n.replace('-', '–')}行" for n in found) or None


def check_text(bulletin: CheckedBulletin, check: str) -> str:
    """A failed check by name, with its numbers and the lines they were printed on: `units_sum_to_overdue（…）`.

    Numbers the report words itself come first; a check it has no words for shows the
    parser's own detail (core.bulletins.check_details).
    """
    numbers = check_numbers(bulletin, check)
    lines = check_lines(bulletin, check)
    if numbers and lines:
        return f"{check}（{numbers}；原文{lines}）"
    if numbers:
        return f"{check}（{numbers}）"
    detail = bulletin.parser_details.get(check)
    return f"{check}（{detail}）" if detail else check


def failed_week_text(week: FailedWeek) -> str:
    """`通报未通过校验：<check（numbers）>；…`, the week's latest printing's unaccepted checks."""
    checks = "；".join(check_text(week.bulletin, c) for c in week.failed_checks) or "校验未通过"
    return f"{FAILED_CHECKS}：{checks}"


def acceptance_text(accepted: Sequence[Acceptance]) -> str:
    """`通报未通过校验 <check（numbers）>，经人工确认：<note>（<who>，<day>）`, one part per check."""
    parts = []
    for a in accepted:
        day = a.accepted_at.astimezone(dt.UTC).date() if a.accepted_at.tzinfo else a.accepted_at.date()
        parts.append(
            f"{FAILED_CHECKS} {check_text(a.bulletin, a.check_name)}，{ACCEPTED}：{a.note}（{a.accepted_by}，{L.day(day)}）"
        )
    return "；".join(parts)


def week_acceptance_note(report: WeeklyReport) -> str | None:
    """The report's own week, when it is published because a person accepted its failed checks."""
    accepted = report.accepted.get(report.city.bulletin_id)
    return f"本周{acceptance_text(accepted)}。" if accepted else None


def trend_acceptance_notes(report: WeeklyReport) -> list[str]:
    """One line per published trend week whose failed checks a person accepted, latest first."""
    notes = []
    for t in reversed(report.trend):
        if t.city is not None and (accepted := report.accepted.get(t.city.bulletin_id)):
            notes.append(f"{L.day(t.week_start)} 起的一周：{acceptance_text(accepted)}。")
    return notes


def _printing_state(report: WeeklyReport, p: BulletinSource) -> str:
    if p.bulletin_id == report.city.bulletin_id:
        return "采用"
    if p.superseded:
        return "已被更正版取代"
    return "未通过校验" if not p.passes_checks else "未采用"


def printings_note(report: WeeklyReport) -> str | None:
    """When the week was printed more than once: which printing the figures come from."""
    if len(report.printings) < 2:
        return None
    parts = [f"{printed_in(p, p.issue_date)}（{_printing_state(report, p)}）" for p in report.printings]
    return f"本周通报刊发了 {len(report.printings)} 次：" + "；".join(parts) + "（文件见文末「文件溯源」）。"


def unit_display_name(report: WeeklyReport, unit: UnitWeekRow) -> str:
    """The unit's name as this week's bulletin printed it, with the canonical name when it differs."""
    printed = report.printed_names.get(unit.unit_name)
    if not printed:
        return unit.unit_name
    return f"{'、'.join(printed)}（统一名称：{unit.unit_name}）"


def unit_remarks(unit: UnitWeekRow) -> list[str]:
    """What the remark column says of a unit: 零办结, and the group it moved from."""
    remarks = []
    if unit.resolves_nothing:
        remarks.append(RESOLVES_NOTHING)
    if unit.on_list and unit.prev_unit_group is not None and unit.prev_unit_group != unit.unit_group:
        remarks.append(f"上周在{unit.prev_unit_group}")
    return remarks


def list_summary(report: WeeklyReport) -> str:
    """The sentence above the unit tables: who is on the list (laggards) or how many units have unresolved cases."""
    city = report.city
    nothing = sum(1 for u in report.units if u.resolves_nothing)
    if lists_laggards(report):
        entered = sum(1 for u in report.units if u.list_change == "entered")
        stayed = sum(1 for u in report.units if u.list_change == "stayed")
        left = sum(1 for u in report.units if u.list_change == "left")
        text = f"本周上榜 {city.units_on_list} 个单位"
        if city.prev_week_published:
            text += f"：新上榜 {entered} 个，连续上榜 {stayed} 个；退出 {left} 个"
        text += "。"
    else:
        listed = [u for u in report.units if u.on_list]
        open_ = sum(1 for u in listed if u.unresolved > 0)
        twice = len({u.unit_name for u in listed}) < len(listed)
        text = (
            f"本周通报列出全部 {len(listed)} 个单位{'（同一单位在两个分组各列一次）' if twice else ''}，"
            f"其中有未办结件的 {open_} 个，未办结件为 0 的 {len(listed) - open_} 个。"
        )
    if nothing:
        text += f"零办结（交办件全部未办结）的单位 {nothing} 个，备注栏标为「零办结」。"
    else:
        text += "本周没有零办结（交办件全部未办结）的单位。"
    return text


def previous_published(report: WeeklyReport) -> CityWeekRow | None:
    """The week before's figures, when that week was published (None: nothing to compare with)."""
    if not report.city.prev_week_published:
        return None
    published = [t.city for t in report.trend if t.city is not None]
    return published[-2] if len(published) >= 2 else None


def _diff(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


def _points(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else (now - before) * 100


@dataclass(frozen=True)
class FigureRow:
    """A row of the city's table: figure, this week, change on the week before, and whether up is worse."""

    label: str
    value: str
    change: str
    tone: str = ""  # "worse" / "better" / "": how the change reads


def _tone(change: float | None, higher_is_worse: bool | None) -> str:
    if change is None or higher_is_worse is None or round(change, 9) == 0:
        return ""
    return "worse" if (change > 0) == higher_is_worse else "better"


def city_figure_rows(report: WeeklyReport) -> list[FigureRow]:
    """The city's table: every figure with its change on the week before (— when there is none)."""
    city, prev = report.city, previous_published(report)

    def count_row(label: str, column: str, change: int | None, worse: bool | None) -> FigureRow:
        return FigureRow(label, L.count(getattr(city, column)), L.signed(change), _tone(change, worse))

    def before(column: str) -> int | None:
        return getattr(prev, column) if prev is not None else None

    rows = [
        count_row("受理案件", "received", _diff(city.received, before("received")), None),
        count_row("应结案", "due", _diff(city.due, before("due")), None),
        count_row("已结案", "closed", _diff(city.closed, before("closed")), None),
        count_row("正在办理", "in_progress", _diff(city.in_progress, before("in_progress")), None),
        count_row("超时未办结", "overdue", city.overdue_change, True),
        count_row("确权争议未处置", "disputed", city.disputed_change, True),
    ]
    rate_change = city.closure_rate_change_pp
    rows.append(
        FigureRow(
            "结案率（已结案÷应结案）",
            L.percent(city.closure_rate),
            L.signed_points(rate_change),
            _tone(rate_change, False),
        )
    )
    published_change = _points(city.closure_rate_published, prev.closure_rate_published if prev else None)
    rows.append(
        FigureRow(
            "结案率（通报公布）",
            L.percent(city.closure_rate_published),
            L.signed_points(published_change),
            _tone(published_change, False),
        )
    )
    listed_change = _diff(city.units_on_list, prev.units_on_list if prev else None)
    if lists_laggards(report):
        moved = L.signed(listed_change)
        if prev is not None:
            moved += f"（新上榜 {L.count(city.units_entered)}，退出 {L.count(city.units_left)}）"
        rows.append(FigureRow("上榜单位", L.count(city.units_on_list), moved, _tone(listed_change, True)))
    else:
        rows.append(FigureRow("通报列出单位", L.count(city.units_on_list), L.signed(listed_change)))
    share_change = _points(city.top3_overdue_share, prev.top3_overdue_share if prev else None)
    rows.append(FigureRow("前三名单位占超时未办结", L.percent(city.top3_overdue_share), L.signed_points(share_change)))
    return rows


@dataclass(frozen=True)
class Column:
    """A column of the unit table: its header and whether it holds numbers."""

    header: str
    numeric: bool


LAGGARD_COLUMNS = (
    Column("排名", True),
    Column("单位", False),
    Column("交办件", True),
    Column("未办结件", True),
    Column("较上周", True),
    Column("未办结率", True),
    Column("未办结率较上周", True),
    Column("上榜变化", False),
    Column("连续上榜周数", True),
    Column("备注", False),
)
# A table of every unit: no 上榜 to change or to last.
ALL_UNIT_COLUMNS = tuple(c for c in LAGGARD_COLUMNS if c.header not in {"上榜变化", "连续上榜周数"})
UNIT_TABLE_HEADER = tuple(c.header for c in LAGGARD_COLUMNS)


def unit_columns(report: WeeklyReport) -> tuple[Column, ...]:
    return LAGGARD_COLUMNS if lists_laggards(report) else ALL_UNIT_COLUMNS


@dataclass(frozen=True)
class Cell:
    """A table cell: its text (Markdown), and for the page its tone and badges."""

    text: str
    tone: str = ""  # "worse" / "better"
    # (text, badge class) parts for the page: a badge where the class is set, plain text where not
    parts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UnitRow:
    cells: tuple[Cell, ...]
    on_list: bool  # False: the unit left the list this week (shown greyed)


def unit_rows(report: WeeklyReport, group: str) -> list[UnitRow]:
    """The unit table of one group, cells in `unit_columns` order."""
    laggards = lists_laggards(report)
    rows = []
    for u in report.units:
        if u.unit_group != group:
            continue
        remarks = unit_remarks(u)
        cells = [
            Cell(L.count(u.rank_in_group)),
            Cell(unit_display_name(report, u)),
            Cell(L.count(u.dispatched)),
            Cell(L.count(u.unresolved)),
            Cell(L.signed(u.unresolved_change), _tone(u.unresolved_change, True)),
            Cell(L.percent(u.unresolved_rate)),
            Cell(L.signed_points(u.unresolved_rate_change_pp), _tone(u.unresolved_rate_change_pp, True)),
        ]
        if laggards:
            change = L.list_change(u.list_change)
            cells.append(Cell(change, parts=((change, u.list_change),) if u.list_change else ()))
            cells.append(Cell(str(u.weeks_on_list_streak)))
        cells.append(
            Cell("；".join(remarks), parts=tuple((r, "nothing" if r == RESOLVES_NOTHING else "") for r in remarks))
        )
        rows.append(UnitRow(tuple(cells), u.on_list))
    return rows


def unit_table_rows(report: WeeklyReport, group: str) -> list[tuple[str, ...]]:
    """The unit table of one group as text, cells in `unit_columns` order."""
    return [tuple(c.text for c in row.cells) for row in unit_rows(report, group)]


def trend_label(week: dt.date) -> str:
    return f"{week.month}/{week.day}"


def trend_sources_line(report: WeeklyReport) -> str:
    published = [t.city for t in report.trend if t.city is not None]
    gaps = [t.week_start for t in report.trend if t.city is None and t.failed is None]
    failed = [t.failed for t in report.trend if t.failed is not None]
    first, last = published[0].issue_date, published[-1].issue_date
    text = f"来源：{len(published)} 期通报，{chinese_day(first)}"
    text += f"至{chinese_day(last)}刊发（逐期见「数据来源」）" if len(published) > 1 else "刊发"
    if gaps:
        text += "；" + "、".join(f"{g.isoformat()} 起的一周" for g in gaps) + "没有发布通报，图中留空"
    for week in failed:
        text += f"；{week.week_start.isoformat()} 起的一周的{failed_week_text(week)}，图中留空"
    return text + "。"


def share_rows(report: WeeklyReport) -> list[UnitWeekRow]:
    """Units on the list, the largest share of the overdue total first."""
    return sorted(report.on_list, key=lambda u: (-u.unresolved, u.unit_name))


def report_title(report: WeeklyReport) -> str:
    """What the report is called: a list of laggards, or a table of every unit's cases."""
    return REPORT_TITLE if lists_laggards(report) else TABLE_REPORT_TITLE


def title(report: WeeklyReport) -> str:
    return f"{report.city_name}{report_title(report)}：{L.period(report.city.week_start, report.city.week_end)}"


def unit_label(report: WeeklyReport, unit: UnitWeekRow) -> str:
    """A unit's name on the charts; with its group when the name is listed in two groups."""
    if sum(1 for u in report.units if u.unit_name == unit.unit_name) > 1:
        return f"{unit.unit_name}（{unit.unit_group}）"
    return unit.unit_name


def gap_source_row(report: WeeklyReport, t: TrendWeek) -> tuple[str, str]:
    """A gap's row in the sources table: nothing published, or the printing that failed its checks."""
    if t.failed is None:
        return (L.day(t.week_start), NOT_PUBLISHED)
    b = t.failed.bulletin
    return (L.day(t.week_start), f"{printed_in(report.sources.get(b.bulletin_id), b.issue_date)}（{FAILED_CHECKS}）")


def sources_rows(report: WeeklyReport) -> list[tuple[str, str]]:
    """(week, where it was printed) of every trend week, latest first."""
    rows = []
    for t in reversed(report.trend):
        if t.city is None:
            rows.append(gap_source_row(report, t))
        else:
            rows.append((L.day(t.week_start), source_line(report, t.city)))
    return rows


def provenance_rows(report: WeeklyReport) -> list[tuple[str, str, str]]:
    """(week, inbox file, bulletin_id) of every bulletin the report names, latest week first: for checking."""
    rows = []
    for t in reversed(report.trend):
        bulletin_id = t.city.bulletin_id if t.city else t.failed.bulletin.bulletin_id if t.failed else None
        if bulletin_id is None:
            continue
        source = report.sources.get(bulletin_id)
        path = (source.path if source else None) or (t.failed.bulletin.path if t.failed else None)
        rows.append((L.day(t.week_start), path or "文件未记录", bulletin_id))
        if t.city is report.city:
            rows += [
                (L.day(t.week_start), p.path or "文件未记录", f"{p.bulletin_id}（{_printing_state(report, p)}）")
                for p in report.printings
                if p.bulletin_id != bulletin_id
            ]
    return rows


def sources_footer(report: WeeklyReport) -> str:
    """Which bulletins the figures come from."""
    accepted = "（或未通过的校验经人工确认）" if any(report.accepted.values()) else ""
    return f"只采用通过校验{accepted}、且未被更正版取代的通报。"


PROVENANCE_FOOTER = "数字取自仓库的 marts.city_week_performance 与 marts.unit_week_performance；记录号为文件 SHA-256 的前 16 位与通报在文件中的序号。"


# --------------------------------------------------------------------------- one context for both formats


@dataclass(frozen=True)
class ReportContext:
    """What both the page and the Markdown say, in order: templates/report.html.j2 and report.md.j2."""

    title: str
    lead: str
    figures: list[FigureRow]
    source: str  # 来源：《驻马店日报》2021年1月27日「时政要闻」版。
    city_notes: list[str]
    laggards: bool
    list_title: str
    list_summary: str
    columns: tuple[Column, ...]
    groups: list[tuple[str, list[UnitRow]]]
    trend_title: str
    trend_header: list[str]
    trend_rows: list[list[str]]
    trend_source: str
    closure_rows: list[tuple[str, str, str, str]]
    share_title: str
    share_summary: str
    share_rows: list[tuple[str, str, str]]
    sources_rows: list[tuple[str, str]]
    sources_notes: list[str]
    sources_footer: str
    provenance_rows: list[tuple[str, str, str]]
    provenance_footer: str

    @property
    def figure_cells(self) -> list[tuple[str, str, str]]:
        return [(r.label, r.value, r.change) for r in self.figures]

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def numeric(self) -> list[bool]:
        return [c.numeric for c in self.columns]


def report_context(report: WeeklyReport) -> ReportContext:
    """Everything the report says, as text, for the HTML and Markdown templates."""
    city = report.city
    laggards = lists_laggards(report)
    trend_rows = []
    for unit in report.units:
        history = report.unit_trend.get((unit.unit_list, unit.unit_name), {})
        cells = [str(history[t.week_start]) if t.city is not None else t.gap_word for t in report.trend]
        trend_rows.append([unit_label(report, unit), *cells])
    closure_rows = []
    for t in report.trend:
        if t.city is None:
            closure_rows.append((L.day(t.week_start), t.gap_word, t.gap_word, L.MISSING))
        else:
            closure_rows.append(
                (
                    L.day(t.week_start),
                    L.percent(t.city.closure_rate),
                    L.percent(t.city.closure_rate_published),
                    L.signed_points(t.city.closure_rate_change_pp),
                )
            )
    overdue = "超时未办结" if laggards else "未办结件"
    return ReportContext(
        title=title(report),
        lead=(
            f"本周：{L.period(city.week_start, city.week_end)}，{chinese_day(city.issue_date)}刊发。"
            f"{comparison_note(report)}"
        ),
        figures=city_figure_rows(report),
        source=f"来源：{source_line(report, city)}。",
        city_notes=[n for n in (week_acceptance_note(report), printings_note(report)) if n],
        laggards=laggards,
        list_title="二、上榜单位" if laggards else "二、各单位办理情况",
        list_summary=list_summary(report),
        columns=unit_columns(report),
        groups=[(g, unit_rows(report, g)) for g in report.groups],
        trend_title=f"三、各单位未办结件走势（近 {TREND_WEEKS} 个发布周）",
        trend_header=["单位", *(trend_label(t.week_start) for t in report.trend)],
        trend_rows=trend_rows,
        trend_source=trend_sources_line(report),
        closure_rows=closure_rows,
        share_title=f"五、{overdue}集中在哪些单位",
        share_summary=(
            f"全市超时未办结 {L.count(city.overdue)} 件，前三名单位合计占 {L.percent(city.top3_overdue_share)}。"
            if city.overdue is not None
            else f"通报未印全市超时未办结总数：下表为各单位未办结件，合计 {sum(u.unresolved for u in report.on_list)} 件。"
        ),
        share_rows=[
            (unit_label(report, u), L.count(u.unresolved), L.percent(u.overdue_share)) for u in share_rows(report)
        ],
        sources_rows=sources_rows(report),
        sources_notes=trend_acceptance_notes(report),
        sources_footer=sources_footer(report),
        provenance_rows=provenance_rows(report),
        provenance_footer=PROVENANCE_FOOTER,
    )


# --------------------------------------------------------------------------- templates

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=2)
def environment(kind: str) -> jinja2.Environment:
    """The Jinja2 environment of the page ("html": autoescaped) or the Markdown ("md": every value through
    `flows.text.escape.markdown`, the Markdown's autoescape)."""
    loader = jinja2.FileSystemLoader(TEMPLATES)
    if kind == "html":
        # Autoescaped, and a control character from a page (ESC, BEL, a bidi override) shown as
        # its escape, as everywhere else (flows.text.escape.visible).
        env = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            finalize=lambda value: value if isinstance(value, Markup) else visible(str(value)),
        )
    else:
        env = jinja2.Environment(
            loader=loader,
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            finalize=lambda value: value if isinstance(value, Markup) else markdown(value),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    env.filters["md_table"] = md_table
    env.filters["texts"] = lambda cells: [cell.text for cell in cells]
    return env


def md_table(rows: Sequence[Sequence[str]], header: Sequence[str], right: Sequence[bool]) -> Markup:
    """A GFM table, every cell escaped (flows.text.escape): a value from a page stays text in its cell."""
    lines = ["| " + " | ".join(markdown(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---:" if r else "---" for r in right) + " |")
    lines += ["| " + " | ".join(markdown(c) for c in row) + " |" for row in rows]
    return Markup("\n".join(lines))


def render_markdown(report: WeeklyReport) -> str:
    """The report as Markdown (the `weekly-report` artifact and report-<week>.md)."""
    return environment("md").get_template("report.md.j2").render(c=report_context(report))


# --------------------------------------------------------------------------- files


# The formats `bulletins report --format` writes; a run writes the default two.
FORMATS = ("html", "md", "pdf", "png")
DEFAULT_FORMATS = ("html", "md")
# pdf and png are drawn from the page by Chromium (flows.reporting.browser).
BROWSER_FORMATS = frozenset({"pdf", "png"})


@dataclass(frozen=True)
class WrittenReport:
    city: str
    week_start: dt.date
    html: Path | None  # None: not asked for (a run always writes it)
    markdown: Path | None
    pdf: Path | None = None
    png: Path | None = None

    @property
    def files(self) -> list[Path]:
        """The files written, in FORMATS order."""
        return [p for p in (self.html, self.markdown, self.pdf, self.png) if p is not None]


def report_paths(out_dir: Path, week_start: dt.date, city: str | None = None) -> tuple[Path, Path]:
    """report-<week_start>.html and .md; report-<city>-<week_start>.* when the warehouse holds several cities."""
    stem = f"report-{week_start.isoformat()}" if city is None else f"report-{city}-{week_start.isoformat()}"
    return out_dir / f"{stem}.html", out_dir / f"{stem}.md"


def write_report(
    report: WeeklyReport,
    out_dir: Path,
    *,
    name_city: bool = False,
    formats: Sequence[str] = DEFAULT_FORMATS,
    browser: Browser | None = None,
) -> WrittenReport:
    """Write the report in `formats` into `out_dir` (each under a temporary name, then renamed).

    pdf and png need `browser` (a running Chromium); they are drawn from the page, which is
    written to a temporary folder when html itself was not asked for.
    """
    from flows.reporting.report_html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = report_paths(out_dir, report.week_start, report.city_name if name_city else None)
    written: dict[str, Path] = {}
    if "md" in formats:
        write_atomic(md_path, render_markdown(report))
        written["md"] = md_path
    if "html" in formats or BROWSER_FORMATS & set(formats):
        page = render_html(report)
        if "html" in formats:
            write_atomic(html_path, page)
            written["html"] = html_path
        if BROWSER_FORMATS & set(formats):
            if browser is None:
                raise ValueError("pdf and png need a running Chromium (flows.reporting.browser.chromium)")
            with tempfile.TemporaryDirectory(prefix="bulletins-report-") as tmp:
                source = html_path if "html" in formats else Path(tmp) / html_path.name
                if source != html_path:
                    source.write_text(page, encoding="utf-8")
                for kind in ("pdf", "png"):
                    if kind in formats:
                        target = html_path.with_suffix(f".{kind}")
                        written[kind] = browser.pdf(source, target) if kind == "pdf" else browser.png(source, target)
    return WrittenReport(
        report.city_name,
        report.week_start,
        written.get("html"),
        written.get("md"),
        written.get("pdf"),
        written.get("png"),
    )


def write_reports(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    cities: Sequence[str],
    week: dt.date | None,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> list[WrittenReport]:
    """Write each city's report of `week` (None: its latest); names carry the city when the warehouse has several.

    pdf and png start the system's Chromium once for all of them (`ChromiumMissing` when it is not installed).
    """
    name_city = len(report_cities(con)) > 1
    reports = [read_weekly_report(con, city, week) for city in cities]
    if not BROWSER_FORMATS & set(formats):
        return [write_report(r, out_dir, name_city=name_city, formats=formats) for r in reports]
    from flows.reporting.browser import chromium

    with chromium() as browser:
        return [write_report(r, out_dir, name_city=name_city, formats=formats, browser=browser) for r in reports]


def weeks_to_report(
    con: duckdb.DuckDBPyConnection,
    city: str,
    loaded: Sequence[dt.date],
    out_dir: Path,
    rebuilt: bool,
    limit: int = REPORTS_PER_RUN,
) -> list[dt.date]:
    """Which of the city's weeks a run writes reports for, oldest first.

    The published weeks among those it loaded (the latest `limit`), and the latest
    published week when the models were rebuilt or its report is missing.
    """
    published = published_weeks(con, city)
    if not published:
        return []
    chosen = sorted(set(loaded) & set(published))[-limit:]
    latest = published[-1]
    name_city = city if len(report_cities(con)) > 1 else None
    if latest not in chosen and (rebuilt or not report_paths(out_dir, latest, name_city)[0].exists()):
        chosen.append(latest)
    return sorted(chosen)


@dataclass(frozen=True)
class RunReports:
    written: list[WrittenReport]  # by city, oldest week first
    latest: list[Path]  # each city's latest published week's HTML report, written now or before


def write_run_reports(db_path: Path, out_dir: Path, loaded: Sequence[dt.date], rebuilt: bool) -> RunReports:
    """Write the reports a run owes (see `weeks_to_report`), from the warehouse at `db_path`, read-only.

    `loaded` holds the first days of the weeks the run loaded, of any city.
    """
    if not Path(db_path).exists():
        return RunReports([], [])
    written: list[WrittenReport] = []
    latest: list[Path] = []
    with connection(db_path, read_only=True) as con:
        cities = report_cities(con)
        name_city = len(cities) > 1
        for city in cities:
            for week in weeks_to_report(con, city, loaded, out_dir, rebuilt):
                written.append(write_report(read_weekly_report(con, city, week), out_dir, name_city=name_city))
            html = report_paths(out_dir, published_weeks(con, city)[-1], city if name_city else None)[0]
            if html.exists():
                latest.append(html)
    return RunReports(written, latest)
