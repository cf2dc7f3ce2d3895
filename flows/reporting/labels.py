"""Chinese wording and number formats for people: the report, the artifact, the exports.

One place for how a figure reads: rates as percentages (90.58%), changes signed
(+0.11 个百分点, -2), list changes in the bulletin's own words (新上榜 / 连续上榜 / 退出),
and the statuses in Chinese (the English identifiers stay in SQL).

`COLUMNS` is the one table of Chinese column labels: the exports' headers, the run's unit
table artifact, the weekly report's tables and its city figures all take a mart column's
label from it (`label`). Recorded reasons and checks are worded in `reason_labels`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MISSING = "—"

LIST_CHANGE = {"entered": "新上榜", "stayed": "连续上榜", "left": "退出"}

# Every column of the marts (and the city dimension to come): its Chinese label, and
# whether an analyst gets it in an export by default (`analyst`) or only with --all-columns
# (`internal`: the mart's plumbing: the week before's raw figures, list keys, ids).
# A new mart needs only its columns here: exports pick the columns from these flags.


@dataclass(frozen=True)
class ColumnLabel:
    label: str
    analyst: bool


def analyst(label: str) -> ColumnLabel:
    """A column an analyst gets by default."""
    return ColumnLabel(label, analyst=True)


def internal(label: str) -> ColumnLabel:
    """A column only `--all-columns` exports."""
    return ColumnLabel(label, analyst=False)


COLUMNS: dict[str, ColumnLabel] = {
    "city": analyst("城市"),
    "period_label": internal("期号"),
    "week_start": analyst("周起始日"),
    "week_end": analyst("周截止日"),
    "unit_name": analyst("单位"),
    "unit_group": analyst("分组"),
    "unit_list": internal("榜单"),
    "on_list": analyst("本周上榜"),
    "dispatched": analyst("交办件"),
    "unresolved": analyst("未办结件"),
    "unresolved_rate": analyst("未办结率"),
    "prev_week_published": internal("上周已发布"),
    "prev_on_list": internal("上周上榜"),
    "prev_dispatched": internal("上周交办件"),
    "prev_unresolved": internal("上周未办结件"),
    "unresolved_change": analyst("未办结件较上周"),
    "unresolved_rate_change_pp": analyst("未办结率较上周（百分点）"),
    "weeks_on_list_streak": analyst("连续上榜周数"),
    "list_change": analyst("上榜变化"),
    "rank_in_group": analyst("组内排名"),
    "weeks_on_list_total": analyst("累计上榜周数"),
    "prev_unresolved_rate": internal("上周未办结率"),
    "prev_unit_group": internal("上周分组"),
    "prev_rank_in_group": internal("上周组内排名"),
    "rank_change": analyst("排名变化"),
    "resolves_nothing": analyst("零办结"),
    "overdue_share": analyst("占全市超时未办结比例"),
    "received": analyst("受理案件"),
    "due": analyst("应结案"),
    "closed": analyst("已结案"),
    "in_progress": analyst("正在办理"),
    "overdue": analyst("超时未办结"),
    "disputed": analyst("确权争议未处置"),
    "closure_rate": analyst("结案率（计算）"),
    "closure_rate_published": analyst("结案率（通报公布）"),
    "prev_closure_rate": internal("上周结案率"),
    "closure_rate_change_pp": analyst("结案率较上周（百分点）"),
    "overdue_change": analyst("超时未办结较上周"),
    "disputed_change": analyst("确权争议较上周"),
    "units_on_list": analyst("上榜单位数"),
    "units_entered": analyst("新上榜单位数"),
    "units_left": analyst("退出单位数"),
    "top3_overdue_share": analyst("前三名单位占超时未办结比例"),
    "linked_units": analyst("联动单位数"),
    "overdue_units": analyst("通报所列单位数"),
    "bulletin_id": internal("通报编号"),
    "issue_date": analyst("刊发日期"),
    "prev_week_status": internal("上周通报情况"),
    "prev_week_failed_checks": internal("上周通报未通过的校验"),
    # marts.unit_period_scores: monthly and quarterly scorecards (考评), Sanmenxia's 月报
    "period_kind": analyst("周期类型"),
    "period_start": analyst("期间起始日"),
    "period_end": analyst("期间截止日"),
    "printed": internal("本期通报列出"),
    "score": analyst("得分"),
    "no_data": analyst("无数据"),
    "grade": analyst("等次"),
    "rank": analyst("组内排名（按得分）"),
    "score_list": analyst("所列名单"),
    "on_bad_list": analyst("列入处置差名单"),
    "prev_period_start": internal("上期起始日"),
    "prev_period_published": internal("上期已发布"),
    "prev_printed": internal("上期通报列出"),
    "prev_score": analyst("上期得分"),
    "prev_grade": analyst("上期等次"),
    "prev_rank": internal("上期组内排名"),
    "prev_on_bad_list": internal("上期列入处置差名单"),
    "score_change": analyst("得分较上期"),
    "grade_change": analyst("等次变化"),
    "bad_list_change": analyst("处置差名单变化"),
    "bad_list_streak": analyst("连续列入处置差名单期数"),
    "bad_list_periods_total": analyst("累计列入处置差名单期数"),
}

COLUMN_LABELS: dict[str, str] = {name: column.label for name, column in COLUMNS.items()}

# Text values of the marts in people's words, by column (the SQL keeps the English).
VALUE_LABELS: dict[str, dict[str, str]] = {
    "list_change": LIST_CHANGE,
    "prev_week_status": {"published": "已发布", "failed_checks": "未通过校验", "not_published": "未发布"},
    "period_kind": {"week": "周", "month": "月", "quarter": "季度"},
    "score_list": {"good": "处置好", "bad": "处置差", "none": "—"},
    "grade_change": {"up": "上升", "down": "下降", "same": "持平"},
    "bad_list_change": {"entered": "新列入", "stayed": "连续列入", "left": "退出"},
}

# The marts as sheets (Excel allows 31 characters in a sheet's name).
MART_LABELS: dict[str, str] = {
    "city_week_performance": "城市周表现",
    "unit_week_performance": "单位周表现",
    "unit_period_scores": "单位月度季度考评",
}


# The weekly report's words where no mart column says it: the unit table's remarks column
# (零办结, the group a unit moved from), and `units_on_list` where the bulletin prints every
# unit (a table, not a list of laggards: no 上榜).
REMARKS = "备注"
UNITS_PRINTED = "通报列出单位"


def is_analyst_column(column: str) -> bool:
    """Whether an export shows the column by default; a column without a label is shown (never hidden unseen).

    >>> [is_analyst_column(c) for c in ("unit_name", "unit_list", "prev_unresolved", "a_new_column")]
    [True, False, False, True]
    """
    known = COLUMNS.get(column)
    return known is None or known.analyst


def label(column: str) -> str:
    """The Chinese label of a column; the column's own name when it has none.

    >>> label("rank_in_group"), label("unresolved_rate_change_pp"), label("a_new_column")
    ('组内排名', '未办结率较上周（百分点）', 'a_new_column')
    """
    return COLUMN_LABELS.get(column, column)


def export_header(column: str, headers: str = "zh") -> str:
    """A column's header in an export: its Chinese label (`zh`), or its own name (`en`, for SQL users).

    >>> export_header("unresolved"), export_header("unresolved", "en"), export_header("a_new_column")
    ('未办结件', 'unresolved', 'a_new_column')
    """
    return column if headers == "en" else label(column)


def export_value(column: str, value: object) -> object:
    """A mart value as an export shows it: 是/否 for booleans, 新上榜 for `entered`; the rest as is.

    >>> [export_value("on_list", True), export_value("list_change", "left"), export_value("unresolved", 3)]
    ['是', '退出', 3]
    """
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and column in VALUE_LABELS:
        return VALUE_LABELS[column].get(value, value)
    return value


def _rounded(value: float, digits: int) -> Decimal:
    # Half-up on the decimal text, as the bulletins print (90.575 -> 90.58).
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def percent(rate: float | None, digits: int = 2) -> str:
    """A 0..1 rate as a percentage.

    >>> percent(0.9058186)
    '90.58%'
    >>> percent(None)
    '—'
    """
    if rate is None:
        return MISSING
    return f"{_rounded(rate * 100, digits)}%"


def signed_points(change_pp: float | None, digits: int = 2) -> str:
    """A change in percentage points, signed.

    >>> signed_points(0.1104861)
    '+0.11 个百分点'
    >>> signed_points(-0.0107828)
    '-0.01 个百分点'
    >>> signed_points(0.001)
    '0.00 个百分点'
    """
    if change_pp is None:
        return MISSING
    value = _rounded(change_pp, digits)
    if value == 0:
        return f"{abs(value)} 个百分点"
    return f"{value:+} 个百分点"


def signed(change: int | None) -> str:
    """A change in a count, signed.

    >>> [signed(3), signed(-2), signed(0), signed(None)]
    ['+3', '-2', '0', '—']
    """
    if change is None:
        return MISSING
    return f"{change:+d}" if change else "0"


def count(value: int | None) -> str:
    """A count, or a dash when unknown."""
    return MISSING if value is None else str(value)


def list_change(value: str | None) -> str:
    """entered / stayed / left in the bulletin's words; a dash when the week before is unknown."""
    return MISSING if value is None else LIST_CHANGE.get(value, value)


def yes_no(value: bool | None) -> str:
    return MISSING if value is None else ("是" if value else "否")


def day(value: dt.date | None) -> str:
    """A date as ISO text (2021-01-18), a dash when unknown."""
    return MISSING if value is None else value.isoformat()


def week_text(start: dt.date, end: dt.date | None) -> str:
    """A week as people write it.

    >>> week_text(dt.date(2020, 12, 28), dt.date(2021, 1, 3))
    '2020年12月28日—2021年1月3日'
    >>> week_text(dt.date(2021, 1, 18), dt.date(2021, 1, 24))
    '2021年1月18日—1月24日'
    """
    first = f"{start.year}年{start.month}月{start.day}日"
    if end is None:
        return first
    last = f"{end.month}月{end.day}日" if end.year == start.year else f"{end.year}年{end.month}月{end.day}日"
    return f"{first}—{last}"


# --------------------------------------------------------------------------- statuses, checks, reasons

# An inbox entry's status (`core.files.status`, English in SQL) in people's words.
# The decisions `bulletins forget` and `accept` record (flows/warehouse/corrections.py), as people read them.
DECISION_LABELS: dict[str, str] = {"forget": "撤回", "unforget": "恢复", "accept": "接受", "unaccept": "取消接受"}

STATUS_LABELS: dict[str, str] = {
    "loaded": "已入库",
    "partial": "部分入库",
    "quarantined": "已隔离",
    "duplicate": "重复",
    "skipped": "未读取",
    "forgotten": "已撤回",
}


def status_label(status: str) -> str:
    """A status in Chinese (an unknown one as it is).

    >>> [status_label(s) for s in ("loaded", "partial", "quarantined", "forgotten", "new_status")]
    ['已入库', '部分入库', '已隔离', '已撤回', 'new_status']
    """
    return STATUS_LABELS.get(status, status)
