"""The weekly report's sentences: where a bulletin was printed, what a week is compared with,
the checks a printing failed (with their numbers) or a person accepted, titles and sources.

Text only, over a `WeeklyReport`: never a file name or an id but in the closing 文件溯源
note (`provenance_rows`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flows.reporting import labels as L
from flows.reporting.weekly_report import FAILED_CHECKS, NOT_PUBLISHED, TrendWeek, WeeklyReport
from flows.warehouse.readers.report import CityWeekRow
from flows.warehouse.readers.report_sources import Acceptance, BulletinSource, CheckedBulletin, FailedWeek
from flows.warehouse.readers.shared import inferred_mark

REPORT_TITLE = "数字城管超时未办结单位周报"  # a list of laggards (Zhumadian)
TABLE_REPORT_TITLE = "数字城管案件办理周报"  # a table of every unit (Sanmenxia)
ACCEPTED = "经人工确认"


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
    return L.week_text(day, None) if day else "日期未记录"


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
    prev_period = L.week_text(prev, prev + dt.timedelta(days=6))
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


def report_title(report: WeeklyReport) -> str:
    """What the report is called: a list of laggards, or a table of every unit's cases."""
    return REPORT_TITLE if lists_laggards(report) else TABLE_REPORT_TITLE


def title(report: WeeklyReport) -> str:
    return f"{report.city_name}{report_title(report)}：{L.week_text(report.city.week_start, report.city.week_end)}"


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
