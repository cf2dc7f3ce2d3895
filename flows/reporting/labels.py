"""Chinese wording and number formats for people: the report, the artifact, the exports.

One place for how a figure reads: rates as percentages (90.58%), changes signed
(+0.11 个百分点, -2), list changes in the bulletin's own words (新上榜 / 连续上榜 / 退出),
and a Chinese label for every mart column (the English name stays beside it in exports).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

MISSING = "—"

LIST_CHANGE = {"entered": "新上榜", "stayed": "连续上榜", "left": "退出"}

# Every column of the marts (and the city dimension to come), in Chinese.
COLUMN_LABELS: dict[str, str] = {
    "city": "城市",
    "period_label": "期号",
    "week_start": "周起始日",
    "week_end": "周截止日",
    "unit_name": "单位",
    "unit_group": "分组",
    "unit_list": "榜单",
    "on_list": "本周上榜",
    "dispatched": "交办件",
    "unresolved": "未办结件",
    "unresolved_rate": "未办结率",
    "prev_week_published": "上周已发布",
    "prev_on_list": "上周上榜",
    "prev_dispatched": "上周交办件",
    "prev_unresolved": "上周未办结件",
    "unresolved_change": "未办结件较上周",
    "unresolved_rate_change_pp": "未办结率较上周（百分点）",
    "weeks_on_list_streak": "连续上榜周数",
    "list_change": "上榜变化",
    "rank_in_group": "组内排名",
    "weeks_on_list_total": "累计上榜周数",
    "prev_unresolved_rate": "上周未办结率",
    "prev_unit_group": "上周分组",
    "prev_rank_in_group": "上周组内排名",
    "rank_change": "排名变化",
    "resolves_nothing": "零办结",
    "overdue_share": "占全市超时未办结比例",
    "received": "受理案件",
    "due": "应结案",
    "closed": "已结案",
    "in_progress": "正在办理",
    "overdue": "超时未办结",
    "disputed": "确权争议未处置",
    "closure_rate": "结案率（计算）",
    "closure_rate_published": "结案率（通报公布）",
    "prev_closure_rate": "上周结案率",
    "closure_rate_change_pp": "结案率较上周（百分点）",
    "overdue_change": "超时未办结较上周",
    "disputed_change": "确权争议较上周",
    "units_on_list": "上榜单位数",
    "units_entered": "新上榜单位数",
    "units_left": "退出单位数",
    "top3_overdue_share": "前三名单位占超时未办结比例",
    "linked_units": "联动单位数",
    "overdue_units": "通报所列单位数",
    "bulletin_id": "通报编号",
    "issue_date": "刊发日期",
    "prev_week_status": "上周通报情况",
    "prev_week_failed_checks": "上周通报未通过的校验",
}


def label(column: str) -> str:
    """The Chinese label of a column; the column's own name when it has none."""
    return COLUMN_LABELS.get(column, column)


def export_header(column: str) -> str:
    """A header for people and SQL users alike.

    >>> export_header("unresolved")
    '未办结件 (unresolved)'
    """
    chinese = COLUMN_LABELS.get(column)
    return f"{chinese} ({column})" if chinese else column


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


def period(start: dt.date, end: dt.date | None) -> str:
    """A week as people write it.

    >>> period(dt.date(2020, 12, 28), dt.date(2021, 1, 3))
    '2020年12月28日—2021年1月3日'
    >>> period(dt.date(2021, 1, 18), dt.date(2021, 1, 24))
    '2021年1月18日—1月24日'
    """
    first = f"{start.year}年{start.month}月{start.day}日"
    if end is None:
        return first
    last = f"{end.month}月{end.day}日" if end.year == start.year else f"{end.year}年{end.month}月{end.day}日"
    return f"{first}—{last}"
