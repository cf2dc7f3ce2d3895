"""The run's artifacts as text, in Chinese: the summary in markdown, the latest week's unit table.

Pure text building over what the readers return; also `bulletins status`'s lines on how old a
city's latest week is (statuses and check names in Chinese through `labels`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import Any

import duckdb

from flows.reporting import labels as L
from flows.reporting.reason_labels import problem_line, reason_label
from flows.settings import InboxLocation
from flows.text.escape import markdown
from flows.text.redact import redact
from flows.warehouse.db import connection
from flows.warehouse.readers.inbox_presence import gone_from_inbox
from flows.warehouse.readers.report import UnitWeekRow, group_order, report_cities, resolve_week, unit_weeks
from flows.warehouse.readers.shared import inferred_mark
from flows.warehouse.readers.status import (
    CityWeek,
    Freshness,
    LeftOutBulletin,
    bulletins_left_out,
    files_by_status,
    latest_city_weeks,
)
from flows.warehouse.summary import MAX_PROBLEMS_SHOWN, ProblemFile, RunSummary, capped

# At most this many bulletins are listed in the summary; the rest are counted.
MAX_LEFT_OUT_ROWS = 50


def _cell(value: Any) -> str:
    """A value from the warehouse or the run as Markdown text: no link, HTML or cell break."""
    return "" if value is None else markdown(str(value))


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return "未知"
    return f"{start} 至 {end}" if end is not None else str(start)


def lake_note(summary: RunSummary) -> str:
    """What the lake check did, in Chinese (`RunSummary.lake_line` is the log's), by
    `RunSummary.lake_counts`.

    >>> from flows.warehouse.lake_audit import RESTORED, SET_ASIDE, LakeProblem
    >>> lake_note(RunSummary(lake_problems=[LakeProblem("b1", "x", RESTORED), LakeProblem("b2", "y", SET_ASIDE)]))
    '1 个批次已从数据库恢复，1 个批次已移出、不入库（lake/_quarantine，原因见 quarantine.log）'
    """
    restored, aside = summary.lake_counts()
    return f"{restored} 个批次已从数据库恢复，{aside} 个批次已移出、不入库（lake/_quarantine，原因见 quarantine.log）"


def run_line(summary: RunSummary) -> str:
    """The run's one line in Chinese (the artifact's; `RunSummary.line` is the log's, in English).

    >>> run_line(RunSummary(files_new=2, files_loaded=2, weeks_loaded=[dt.date(2021, 1, 18), dt.date(2020, 12, 7)]))
    '新文件 2 个（已入库 2，部分入库 0，已隔离 0），重复 0，未变化 0；入库的周：2 周（2020-12-07 至 2021-01-18）'
    >>> run_line(RunSummary(not_run="another run holds the lock"))
    '本次运行未执行：another run holds the lock'
    """
    if summary.not_run:
        return f"本次运行未执行：{summary.not_run}"
    weeks = sorted(set(summary.weeks_loaded))
    if not weeks:
        span = "无"
    elif len(weeks) == 1:
        span = f"1 周（{weeks[0]}）"
    else:
        span = f"{len(weeks)} 周（{weeks[0]} 至 {weeks[-1]}）"
    skipped = f"，{L.status_label('skipped')} {summary.files_skipped}" if summary.files_skipped else ""
    lake = f"；湖检查：{lake_note(summary)}" if summary.lake_problems else ""
    return (
        f"新文件 {summary.files_new} 个（{L.status_label('loaded')} {summary.files_loaded}，"
        f"{L.status_label('partial')} {summary.files_partial}，{L.status_label('quarantined')} "
        f"{summary.files_quarantined}），{L.status_label('duplicate')} {summary.files_duplicate}，"
        f"未变化 {summary.files_unchanged}{skipped}；入库的周：{span}{lake}"
    )


def run_problem_lines(summary: RunSummary, limit: int = MAX_PROBLEMS_SHOWN) -> list[str]:
    """This run's partial, quarantined and skipped entries as `bulletins run` prints them: in
    Chinese, the first `limit`, then one line counting the rest.

    >>> from flows.warehouse.summary import ProblemFile
    >>> run_problem_lines(RunSummary(problems=[ProblemFile("quarantined", "a.txt", ["empty: 0 bytes, no text"])]))
    ['已隔离 a.txt：空文件：0 字节，没有文字']
    """
    return capped([problem_line(p.status, p.path, p.reasons) for p in summary.problems], limit)


def freshness_line(city: Freshness) -> str:
    """What `bulletins status` says about a city's latest published week.

    >>> d = dt.date
    >>> freshness_line(Freshness("驻马店", d(2021, 1, 18), d(2021, 1, 24), d(2021, 1, 27), d(2021, 2, 1), 14))
    '最新已发布周，驻马店：2021-01-18 ~ 2021-01-24（2021-01-27 刊），周末后已过 8 天'
    """
    if city.week_start is None:
        return "最新已发布周：尚无"
    issue = f"（{city.issue_date} 刊{inferred_mark(city.issue_date_source)}）" if city.issue_date else ""
    return f"最新已发布周，{city.city}：{city.week_start} ~ {city.week_end}{issue}，周末后已过 {city.days_since_end} 天"


def stale_warning(city: Freshness) -> str | None:
    """The stale-feed warning in Chinese, or None.

    >>> d = dt.date
    >>> stale_warning(Freshness("驻马店", d(2021, 1, 18), d(2021, 1, 24), None, d(2021, 2, 8), 14))
    '通报可能已停止更新，驻马店：最新一周截至 2021-01-24，之后 15 天没有新的一周（超过 14 天即提醒）'
    """
    if not city.stale:
        return None
    return (
        f"通报可能已停止更新，{city.city}：最新一周截至 {city.week_end}，之后 {city.days_since_end} 天没有新的一周"
        f"（超过 {city.stale_after_days} 天即提醒）"
    )


def build_summary_markdown(
    run_line: str,
    file_counts: Mapping[str, int],
    left_out: Sequence[LeftOutBulletin] | None,
    cities: Sequence[CityWeek],
    warnings: Sequence[str] = (),
    reports: Sequence[str] = (),
    run_problems: Sequence[ProblemFile] = (),
) -> str:
    """The `bulletin-etl-summary` markdown, in Chinese, from what the readers return.

    `left_out` None means no `core.bulletins` yet; `cities` empty means no marts yet;
    `run_problems` are this run's entries that are partial, quarantined or skipped.
    Statuses and reasons in Chinese; check names keep their identifiers, with a gloss.
    """
    lines = ["# 本次运行（bulletin-etl）", "", f"本次运行：{_cell(run_line)}", ""]
    if warnings:
        lines += ["## 提醒", ""]
        lines += [f"- **提醒**：{_cell(redact(w))}" for w in warnings]  # a webhook's URL among them
        lines += [""]
    if reports:
        lines += ["## 已写出的周报", ""]
        lines += [f"- {_cell(r)}" for r in reports]
        lines += [""]
    if run_problems:
        lines += ["## 本次未完全入库的文件", ""]
        lines += [f"- {_cell(problem_line(p.status, p.path, p.reasons))}" for p in run_problems[:MAX_LEFT_OUT_ROWS]]
        if len(run_problems) > MAX_LEFT_OUT_ROWS:
            lines += [f"- ……另有 {len(run_problems) - MAX_LEFT_OUT_ROWS} 个（`bulletins status` 全部列出）。"]
        lines += [""]

    lines += ["## 各状态文件数", ""]
    if file_counts:
        lines += ["| 状态 | 文件数 |", "| --- | ---: |"]
        lines += [f"| {_cell(L.status_label(status))} | {count} |" for status, count in file_counts.items()]
        lines += [f"| 合计 | {sum(file_counts.values())} |"]
    else:
        lines += ["尚无文件记录。"]
    lines += [""]

    lines += ["## 未计入统计表的通报", ""]
    if left_out is None:
        lines += ["尚无通报入库。"]
    elif not left_out:
        lines += ["无：每期通报都通过了校验，也没有被重印取代的。"]
    else:
        lines += [
            f"| {L.label('city')} | 周期 | {L.label('issue_date')} | 文件 | 原因 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for b in left_out[:MAX_LEFT_OUT_ROWS]:
            reasons = "；".join(reason_label(r) for r in b.reasons)
            lines.append(
                f"| {_cell(b.city)} | {_period(b.period_start, b.period_end)} | {_cell(b.issue_date)} "
                f"| {_cell(b.path)} | {_cell(reasons)} |"
            )
        if len(left_out) > MAX_LEFT_OUT_ROWS:
            lines += ["", f"……另有 {len(left_out) - MAX_LEFT_OUT_ROWS} 期。"]
    lines += [""]

    lines += ["## 各城市结案率", ""]
    if not cities:
        lines += ["尚无统计表：还没有已发布的周。"]
    for city in cities:
        week = f"{_cell(city.city)}，{_period(city.week_start, city.week_end)} 的一周"
        if city.closure_rate is None:
            lines += [f"{week}：无结案率（该期通报没有应结案数）。"]
            continue
        if city.closure_rate_change_pp is None:
            change = "上周未发布，无从比较"
        else:
            change = f"较上周 {L.signed_points(city.closure_rate_change_pp)}"
        lines += [f"{week}：结案率 {L.percent(city.closure_rate)}（{change}）。"]
    return "\n".join(lines) + "\n"


# The table artifact `unit-week-performance`: the mart columns it shows, in order.
UNIT_TABLE_COLUMNS = (
    "city",
    "week_start",
    "unit_group",
    "rank_in_group",
    "unit_name",
    "on_list",
    "dispatched",
    "unresolved",
    "unresolved_change",
    "unresolved_rate",
    "unresolved_rate_change_pp",
    "list_change",
    "weeks_on_list_streak",
)
# Mart column -> the artifact's header: the column's label in the one table (`labels.COLUMNS`).
UNIT_TABLE_HEADERS: dict[str, str] = {column: L.label(column) for column in UNIT_TABLE_COLUMNS}


def unit_artifact_rows(city: str, week_start: dt.date, units: Sequence[UnitWeekRow]) -> list[dict[str, str]]:
    """The week's units as the table artifact shows them: Chinese headers, 56.45%, +2, 新上榜."""
    h = UNIT_TABLE_HEADERS
    return [
        {
            h["city"]: city,
            h["week_start"]: week_start.isoformat(),
            h["unit_group"]: u.unit_group,
            h["rank_in_group"]: L.count(u.rank_in_group),
            h["unit_name"]: u.unit_name,
            h["on_list"]: L.yes_no(u.on_list),
            h["dispatched"]: L.count(u.dispatched),
            h["unresolved"]: L.count(u.unresolved),
            h["unresolved_change"]: L.signed(u.unresolved_change),
            h["unresolved_rate"]: L.percent(u.unresolved_rate),
            h["unresolved_rate_change_pp"]: L.signed_points(u.unresolved_rate_change_pp),
            h["list_change"]: L.list_change(u.list_change),
            h["weeks_on_list_streak"]: str(u.weeks_on_list_streak),
        }
        for u in units
    ]


def read_unit_table(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """Each city's latest published week, its units by group (as printed) and rank; empty when none."""
    table: list[dict[str, str]] = []
    for city in report_cities(con):
        week = resolve_week(con, city, None)
        if week is None:
            continue
        units = unit_weeks(con, city, week)
        bulletin = con.execute(
            "select bulletin_id from marts.city_week_performance where city = ? and week_start = ?", [city, week]
        ).fetchall()
        groups = group_order(con, bulletin[0][0]) if bulletin else []
        groups += sorted({u.unit_group for u in units} - set(groups))
        units.sort(key=lambda u: groups.index(u.unit_group))  # stable: by rank within each group
        table += unit_artifact_rows(city, week, units)
    return table


def read_run_report(
    db_path: Path, summary: RunSummary, inbox: InboxLocation | None = None, listed: Set[str] | None = None
) -> tuple[list[dict[str, str]], str]:
    """The unit table and the summary markdown, read from the warehouse (read-only).

    With the inbox, entries whose file left it are out of the totals, as in `bulletins status`;
    with `listed` (the run's own listing of the inbox), as the run found the inbox.
    """

    def summary_markdown(
        file_counts: Mapping[str, int], left_out: list[LeftOutBulletin] | None, cities: list[CityWeek]
    ) -> str:
        return build_summary_markdown(
            run_line(summary), file_counts, left_out, cities, summary.warnings, summary.reports, summary.problems
        )

    if not Path(db_path).exists():
        return [], summary_markdown({}, None, [])
    with connection(db_path, read_only=True) as con:
        table = read_unit_table(con)
        gone = (gone_from_inbox(con, inbox, listed) if inbox is not None else None) or []
        text = summary_markdown(
            files_by_status(con, leaving_out={p.path for p in gone}), bulletins_left_out(con), latest_city_weeks(con)
        )
    return table, text
