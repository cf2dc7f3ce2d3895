"""The weekly report: one published week read from the marts, as Markdown (and HTML, in report_html).

`read_weekly_report` gathers everything the page shows through the readers;
`render_markdown` turns it into text. Both are pure over a connection / a value, so the
CLI (`bulletins report`) and the flow write the same files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from flows.reporting import labels as L
from flows.text.escape import markdown
from flows.warehouse.db import connection
from flows.warehouse.readers import (
    Acceptance,
    BulletinSource,
    CheckedBulletin,
    CityWeekRow,
    FailedWeek,
    UnitWeekRow,
    acceptances,
    bulletin_sources,
    city_weeks,
    failed_weeks,
    group_order,
    printed_unit_names,
    published_weeks,
    report_cities,
    resolve_week,
    unit_unresolved,
    unit_weeks,
    week_printings,
)

# The trend charts cover this many published weeks, ending with the report's week.
TREND_WEEKS = 12

# A run writes the reports of at most this many of the weeks it loaded, the latest ones
# (a backfill of years would otherwise write hundreds of pages); `bulletins report
# --week` writes any other.
REPORTS_PER_RUN = 8

REPORT_TITLE = "数字城管超时未办结单位周报"

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
    sources: dict[str, BulletinSource]  # bulletin_id -> where it was read, for every published trend week
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
        sources=bulletin_sources(con, [w.bulletin_id for w in window]),
        printings=week_printings(con, city_name, week_start),
        first_published=len(city_weeks(con, city_name, week_start, 2)) == 1,
        previous_failed=failed.get(previous) if not city.prev_week_published else None,
        accepted=acceptances(con, [w.bulletin_id for w in window]),
    )


# --------------------------------------------------------------------------- wording shared by both formats


def source_line(report: WeeklyReport, week: CityWeekRow) -> str:
    """Which bulletin a week's figures come from: issue date, file, bulletin id."""
    source = report.source(week)
    issue = L.day(week.issue_date)
    path = source.path if source and source.path else "文件未记录"
    return f"{issue} 刊发的通报，文件 {path}（通报编号 {week.bulletin_id}）"


def comparison_note(report: WeeklyReport) -> str:
    """What the week is compared with, or why it cannot be."""
    prev = report.previous_week
    prev_period = L.period(prev, prev + dt.timedelta(days=6))
    if report.city.prev_week_published:
        return f"变化均与上一周（{prev_period}）相比。"
    if report.previous_failed is not None:
        return (
            f"上一周（{prev_period}）的{failed_week_text(report.previous_failed)}，不能比较："
            "变化一栏为「—」，连续上榜周数从本周重新计算。"
        )
    if report.first_published:
        return "这是仓库中第一个发布周，没有上一周可比：变化一栏为「—」。"
    return f"上一周（{prev_period}）没有发布通报，无从比较：变化一栏为「—」，连续上榜周数从本周重新计算。"


def _count(value: int | None) -> str:
    return f"{value} 件"


def check_numbers(bulletin: CheckedBulletin, check: str) -> str | None:
    """The numbers a failed check compared, in words (None when the check records none we can show).

    >>> from flows.warehouse.readers import CheckedBulletin
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


def check_text(bulletin: CheckedBulletin, check: str) -> str:
    """A failed check by name, with its numbers when it records any: `units_sum_to_overdue（…）`."""
    numbers = check_numbers(bulletin, check)
    return f"{check}（{numbers}）" if numbers else check


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


def printings_note(report: WeeklyReport) -> str | None:
    """When the week was printed more than once: which printing the figures come from."""
    if len(report.printings) < 2:
        return None
    parts = []
    for p in report.printings:
        if p.bulletin_id == report.city.bulletin_id:
            state = "采用"
        elif p.superseded:
            state = "已被更正版取代"
        elif not p.passes_checks:
            state = "未通过校验"
        else:
            state = "未采用"
        parts.append(f"{L.day(p.issue_date)} 刊（{p.path or '文件未记录'}）{state}")
    return f"本周通报刊发了 {len(report.printings)} 次：" + "；".join(parts) + "。"


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


def unit_remark(unit: UnitWeekRow) -> str:
    return "；".join(unit_remarks(unit))


def list_summary(report: WeeklyReport) -> str:
    city = report.city
    entered = sum(1 for u in report.units if u.list_change == "entered")
    stayed = sum(1 for u in report.units if u.list_change == "stayed")
    left = sum(1 for u in report.units if u.list_change == "left")
    nothing = sum(1 for u in report.units if u.resolves_nothing)
    text = f"本周上榜 {city.units_on_list} 个单位"
    if city.prev_week_published:
        text += f"：新上榜 {entered} 个，连续上榜 {stayed} 个；退出 {left} 个"
    text += "。"
    if nothing:
        text += f"零办结（交办件全部未办结）的单位 {nothing} 个，备注栏标为「零办结」。"
    else:
        text += "本周没有零办结（交办件全部未办结）的单位。"
    return text


CITY_FIGURES: tuple[tuple[str, str, str | None], ...] = (
    # (label, figure column, change column)
    ("受理案件", "received", None),
    ("应结案", "due", None),
    ("已结案", "closed", None),
    ("正在办理", "in_progress", None),
    ("超时未办结", "overdue", "overdue_change"),
    ("确权争议未处置", "disputed", "disputed_change"),
)


def city_figure_rows(report: WeeklyReport) -> list[tuple[str, str, str]]:
    """(figure, this week, change) rows of the city's table."""
    city = report.city
    rows = []
    for name, column, change in CITY_FIGURES:
        value = getattr(city, column)
        rows.append((name, L.count(value), L.signed(getattr(city, change)) if change else ""))
    rows.append(("结案率（已结案÷应结案）", L.percent(city.closure_rate), L.signed_points(city.closure_rate_change_pp)))
    rows.append(("结案率（通报公布）", L.percent(city.closure_rate_published), ""))
    moved = ""
    if city.prev_week_published:
        moved = f"新上榜 {L.count(city.units_entered)}，退出 {L.count(city.units_left)}"
    rows.append(("上榜单位", L.count(city.units_on_list), moved))
    rows.append(("前三名单位占超时未办结", L.percent(city.top3_overdue_share), ""))
    return rows


UNIT_TABLE_HEADER = (
    "排名",
    "单位",
    "交办件",
    "未办结件",
    "较上周",
    "未办结率",
    "未办结率较上周",
    "上榜变化",
    "连续上榜周数",
    "备注",
)


def unit_table_rows(report: WeeklyReport, group: str) -> list[tuple[str, ...]]:
    return [
        (
            L.count(u.rank_in_group),
            unit_display_name(report, u),
            L.count(u.dispatched),
            L.count(u.unresolved),
            L.signed(u.unresolved_change),
            L.percent(u.unresolved_rate),
            L.signed_points(u.unresolved_rate_change_pp),
            L.list_change(u.list_change),
            str(u.weeks_on_list_streak),
            unit_remark(u),
        )
        for u in report.units
        if u.unit_group == group
    ]


def trend_label(week: dt.date) -> str:
    return f"{week.month}/{week.day}"


def trend_sources_line(report: WeeklyReport) -> str:
    published = [t.city for t in report.trend if t.city is not None]
    gaps = [t.week_start for t in report.trend if t.city is None and t.failed is None]
    failed = [t.failed for t in report.trend if t.failed is not None]
    text = (
        f"来源：{len(published)} 期通报，{L.day(published[0].issue_date)} 至 {L.day(published[-1].issue_date)} 刊发"
        "（逐期见「数据来源」）"
    )
    if gaps:
        text += "；" + "、".join(f"{g.isoformat()} 起的一周" for g in gaps) + "没有发布通报，图中留空"
    for week in failed:
        text += f"；{week.week_start.isoformat()} 起的一周的{failed_week_text(week)}，图中留空"
    return text + "。"


def share_rows(report: WeeklyReport) -> list[UnitWeekRow]:
    """Units on the list, the largest share of the overdue total first."""
    return sorted(report.on_list, key=lambda u: (-u.unresolved, u.unit_name))


def title(report: WeeklyReport) -> str:
    return f"{report.city_name}{REPORT_TITLE}：{L.period(report.city.week_start, report.city.week_end)}"


def unit_label(report: WeeklyReport, unit: UnitWeekRow) -> str:
    """A unit's name on the charts; with its group when the name is listed in two groups."""
    if sum(1 for u in report.units if u.unit_name == unit.unit_name) > 1:
        return f"{unit.unit_name}（{unit.unit_group}）"
    return unit.unit_name


# --------------------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    # Unit names, file names and notes come from pages and people: shown as text, never as
    # a link, HTML or a broken table (flows.text.escape).
    return markdown(text)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join("---:" if r else "---" for r in right) + " |")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: WeeklyReport) -> str:
    """The report as Markdown (the `weekly-report` artifact and report-<week>.md)."""
    city = report.city
    single_source = markdown(f"来源：{source_line(report, city)}。")
    out = [f"# {markdown(title(report))}", ""]
    out += [
        f"本周：{L.day(city.week_start)} ~ {L.day(city.week_end)}，{L.day(city.issue_date)} 刊发。"
        f"{markdown(comparison_note(report))}",
        "",
    ]

    out += ["## 一、全市概况", ""]
    out += _md_table(("指标", "本周", "较上周"), city_figure_rows(report), (False, True, True))
    out += ["", single_source]
    if note := week_acceptance_note(report):
        out += ["", markdown(note)]
    if note := printings_note(report):
        out += ["", markdown(note)]
    out += [""]

    out += ["## 二、上榜单位", "", markdown(list_summary(report)), ""]
    right = (True, False, True, True, True, True, True, False, True, False)
    for group in report.groups:
        out += [f"### {markdown(group)}", ""]
        out += _md_table(UNIT_TABLE_HEADER, unit_table_rows(report, group), right)
        out += [""]
    out += [single_source, ""]

    out += [f"## 三、各单位未办结件走势（近 {TREND_WEEKS} 个发布周）", ""]
    header = ["单位", *(trend_label(t.week_start) for t in report.trend)]
    rows = []
    for unit in report.units:
        history = report.unit_trend.get((unit.unit_list, unit.unit_name), {})
        cells = [str(history[t.week_start]) if t.city is not None else t.gap_word for t in report.trend]
        rows.append((unit_label(report, unit), *cells))
    out += _md_table(header, rows, (False, *(True for _ in report.trend)))
    out += ["", markdown(trend_sources_line(report)), ""]

    out += ["## 四、全市结案率走势", ""]
    rows = []
    for t in report.trend:
        if t.city is None:
            rows.append((L.day(t.week_start), t.gap_word, t.gap_word, L.MISSING))
        else:
            rows.append(
                (
                    L.day(t.week_start),
                    L.percent(t.city.closure_rate),
                    L.percent(t.city.closure_rate_published),
                    L.signed_points(t.city.closure_rate_change_pp),
                )
            )
    out += _md_table(("周起始日", "结案率（计算）", "结案率（通报公布）", "较上周"), rows, (False, True, True, True))
    out += ["", markdown(trend_sources_line(report)), ""]

    out += ["## 五、超时未办结集中在哪些单位", ""]
    out += [
        f"全市超时未办结 {L.count(city.overdue)} 件，前三名单位合计占 {L.percent(city.top3_overdue_share)}。",
        "",
    ]
    rows = [(unit_label(report, u), L.count(u.unresolved), L.percent(u.overdue_share)) for u in share_rows(report)]
    out += _md_table(("单位", "未办结件", "占全市超时未办结"), rows, (False, True, True))
    out += ["", single_source, ""]

    out += ["## 数据来源", ""]
    rows = []
    for t in reversed(report.trend):
        if t.city is None:
            rows.append(gap_source_row(t))
            continue
        source = report.source(t.city)
        rows.append(
            (
                L.day(t.week_start),
                L.day(t.city.issue_date),
                (source.path if source else None) or "文件未记录",
                t.city.bulletin_id,
            )
        )
    out += _md_table(("周起始日", "刊发日期", "文件", "通报编号"), rows, (False, False, False, False))
    for note in trend_acceptance_notes(report):
        out += ["", markdown(note)]
    out += ["", markdown(sources_footer(report))]
    return "\n".join(out) + "\n"


def gap_source_row(t: TrendWeek) -> tuple[str, str, str, str]:
    """A gap's row in the sources table: nothing published, or the printing that failed its checks."""
    if t.failed is None:
        return (L.day(t.week_start), NOT_PUBLISHED, "", "")
    b = t.failed.bulletin
    return (L.day(t.week_start), f"{L.day(b.issue_date)}（{FAILED_CHECKS}）", b.path or "文件未记录", b.bulletin_id)


def sources_footer(report: WeeklyReport) -> str:
    """Which bulletins the figures come from."""
    accepted = "（或未通过的校验经人工确认）" if any(report.accepted.values()) else ""
    return (
        "数字取自仓库的 marts.city_week_performance 与 marts.unit_week_performance；"
        f"只采用通过校验{accepted}、且未被更正版取代的通报。"
    )


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class WrittenReport:
    city: str
    week_start: dt.date
    html: Path
    markdown: Path


def report_paths(out_dir: Path, week_start: dt.date, city: str | None = None) -> tuple[Path, Path]:
    """report-<week_start>.html and .md; report-<city>-<week_start>.* when the warehouse holds several cities."""
    stem = f"report-{week_start.isoformat()}" if city is None else f"report-{city}-{week_start.isoformat()}"
    return out_dir / f"{stem}.html", out_dir / f"{stem}.md"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: WeeklyReport, out_dir: Path, *, name_city: bool = False) -> WrittenReport:
    """Write the report's .html and .md into `out_dir` (each under a temporary name, then renamed)."""
    from flows.reporting.report_html import render_html  # plotly: imported only when a page is written

    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = report_paths(out_dir, report.week_start, report.city_name if name_city else None)
    _write_atomic(md_path, render_markdown(report))
    _write_atomic(html_path, render_html(report))
    return WrittenReport(report.city_name, report.week_start, html_path, md_path)


def write_reports(
    con: duckdb.DuckDBPyConnection, out_dir: Path, cities: Sequence[str], week: dt.date | None
) -> list[WrittenReport]:
    """Write each city's report of `week` (None: its latest); names carry the city when the warehouse has several."""
    name_city = len(report_cities(con)) > 1
    return [write_report(read_weekly_report(con, city, week), out_dir, name_city=name_city) for city in cities]


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
