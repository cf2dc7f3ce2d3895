"""The weekly report's tables as text: the city's figures, each group's units, the trend's
labels, the share of the overdue total.

Cells in the report's wording (`labels`: 90.58%, +2, 新上榜), with the tone the page shows
(worse / better); headers from `labels`, the one table of column labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.reporting import labels as L
from flows.reporting.report_wording import lists_laggards
from flows.reporting.weekly_report import WeeklyReport
from flows.warehouse.readers.report import CityWeekRow, UnitWeekRow

# The remark of a unit on the list with every dispatched case unresolved (the mart's column's label).
RESOLVES_NOTHING = L.label("resolves_nothing")


def unit_display_name(report: WeeklyReport, unit: UnitWeekRow) -> str:
    """The unit's name as this week's bulletin printed it, with the canonical name when it differs."""
    printed = report.printed_names.get(unit.unit_name)
    if not printed:
        return unit.unit_name
    return f"{'、'.join(printed)}（统一名称：{unit.unit_name}）"


def unit_remarks(unit: UnitWeekRow) -> list[tuple[str, str]]:
    """What the remark column says of a unit, each with the page's badge class ('' for none):
    零办结 (badge "nothing"), and the group it moved from."""
    remarks = []
    if unit.resolves_nothing:
        remarks.append((RESOLVES_NOTHING, "nothing"))
    if unit.on_list and unit.prev_unit_group is not None and unit.prev_unit_group != unit.unit_group:
        remarks.append((f"上周在{unit.prev_unit_group}", ""))
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

    def count_row(column: str, change: int | None, worse: bool | None) -> FigureRow:
        return FigureRow(L.label(column), L.count(getattr(city, column)), L.signed(change), _tone(change, worse))

    def before(column: str) -> int | None:
        return getattr(prev, column) if prev is not None else None

    rows = [
        count_row("received", _diff(city.received, before("received")), None),
        count_row("due", _diff(city.due, before("due")), None),
        count_row("closed", _diff(city.closed, before("closed")), None),
        count_row("in_progress", _diff(city.in_progress, before("in_progress")), None),
        count_row("overdue", city.overdue_change, True),
        count_row("disputed", city.disputed_change, True),
    ]
    rate_change = city.closure_rate_change_pp
    rows.append(
        FigureRow(
            L.label("closure_rate"),
            L.percent(city.closure_rate),
            L.signed_points(rate_change),
            _tone(rate_change, False),
        )
    )
    published_change = _points(city.closure_rate_published, prev.closure_rate_published if prev else None)
    rows.append(
        FigureRow(
            L.label("closure_rate_published"),
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
        rows.append(FigureRow(L.label("units_on_list"), L.count(city.units_on_list), moved, _tone(listed_change, True)))
    else:
        rows.append(FigureRow(L.UNITS_PRINTED, L.count(city.units_on_list), L.signed(listed_change)))
    share_change = _points(city.top3_overdue_share, prev.top3_overdue_share if prev else None)
    rows.append(
        FigureRow(L.label("top3_overdue_share"), L.percent(city.top3_overdue_share), L.signed_points(share_change))
    )
    return rows


REMARKS_COLUMN = "remarks"  # the report's own column (no mart holds it)


@dataclass(frozen=True)
class Column:
    """A column of the unit table: the mart column it shows (or REMARKS_COLUMN), and whether it holds numbers."""

    name: str
    numeric: bool

    @property
    def header(self) -> str:
        """Its Chinese label, from the one table of labels (`labels.COLUMNS`)."""
        return L.REMARKS if self.name == REMARKS_COLUMN else L.label(self.name)


LAGGARD_COLUMNS = (
    Column("rank_in_group", True),
    Column("unit_name", False),
    Column("dispatched", True),
    Column("unresolved", True),
    Column("unresolved_change", True),
    Column("unresolved_rate", True),
    Column("unresolved_rate_change_pp", True),
    Column("list_change", False),
    Column("weeks_on_list_streak", True),
    Column(REMARKS_COLUMN, False),
)
# A table of every unit: no 上榜 to change or to last.
ALL_UNIT_COLUMNS = tuple(c for c in LAGGARD_COLUMNS if c.name not in {"list_change", "weeks_on_list_streak"})


def unit_columns(report: WeeklyReport) -> tuple[Column, ...]:
    return LAGGARD_COLUMNS if lists_laggards(report) else ALL_UNIT_COLUMNS


@dataclass(frozen=True)
class ReportCell:
    """A table cell: its text (Markdown), and for the page its tone and badges."""

    text: str
    tone: str = ""  # "worse" / "better"
    # (text, badge class) parts for the page: a badge where the class is set, plain text where not
    parts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UnitRow:
    cells: tuple[ReportCell, ...]
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
            ReportCell(L.count(u.rank_in_group)),
            ReportCell(unit_display_name(report, u)),
            ReportCell(L.count(u.dispatched)),
            ReportCell(L.count(u.unresolved)),
            ReportCell(L.signed(u.unresolved_change), _tone(u.unresolved_change, True)),
            ReportCell(L.percent(u.unresolved_rate)),
            ReportCell(L.signed_points(u.unresolved_rate_change_pp), _tone(u.unresolved_rate_change_pp, True)),
        ]
        if laggards:
            change = L.list_change(u.list_change)
            cells.append(ReportCell(change, parts=((change, u.list_change),) if u.list_change else ()))
            cells.append(ReportCell(str(u.weeks_on_list_streak)))
        cells.append(ReportCell("；".join(text for text, _ in remarks), parts=tuple(remarks)))
        rows.append(UnitRow(tuple(cells), u.on_list))
    return rows


def share_rows(report: WeeklyReport) -> list[UnitWeekRow]:
    """Units on the list, the largest share of the overdue total first."""
    return sorted(report.on_list, key=lambda u: (-u.unresolved, u.unit_name))


def unit_label(report: WeeklyReport, unit: UnitWeekRow) -> str:
    """A unit's name on the charts; with its group when the name is listed in two groups."""
    if sum(1 for u in report.units if u.unit_name == unit.unit_name) > 1:
        return f"{unit.unit_name}（{unit.unit_group}）"
    return unit.unit_name
