"""The weekly report as one self-contained HTML page: tables, and static SVG charts.

Everything is inline (styles, charts): no script, no font, no request. The page is the
Jinja2 template `templates/report.html.j2` (autoescaped) over the same `ReportContext`
as the Markdown, plus the charts (`flows.reporting.charts`). It reads on a 390-px phone
(tables turn into one card per unit, charts redraw for a narrow box) and prints on A4.
Text is drawn by the viewer's browser with the viewer's fonts, so nothing here depends on
a font on the machine that builds the page.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from markupsafe import Markup

from flows.reporting import labels as L
from flows.reporting.charts import NARROW, WIDE, LineChart, Series, Slot, render_svg, series_style
from flows.reporting.report_context import environment, report_context
from flows.reporting.report_tables import share_rows, unit_label
from flows.reporting.weekly_report import WeeklyReport

# Chart element ids: one chart per chart section.
CHART_IDS = ("chart-unit-trend", "chart-closure-rate", "chart-overdue-share")

# The viewer's fonts: whichever CJK face the reader's system has.
FONT_STACK = (
    'system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'
)

WORSE, BETTER, NEUTRAL = "#c0392b", "#1e8449", "#95a5a6"


def percent_points(rate: float | None) -> float | None:
    """A 0..1 rate as a percentage for a chart, to 4 places; None (a gap) when missing or NaN.

    >>> percent_points(0.920400), percent_points(None), percent_points(float("nan"))
    (92.04, None, None)
    """
    return None if rate is None or not math.isfinite(rate) else round(rate * 100, 4)


def gap_runs(report: WeeklyReport) -> list[tuple[dt.date, dt.date, int]]:
    """The runs of consecutive unpublished weeks on the trend: first and last week_start, and length.

    Weeks with no bulletin and weeks whose bulletin failed a check are runs of their own:
    each is named for what it is (`_gap_label`).
    """
    runs: list[tuple[dt.date, dt.date, int]] = []
    previous: str | None = None  # the gap word of the week before, None when it was published
    for t in report.trend:
        word = t.gap_word if t.city is None else None
        if word is not None:
            first, _, weeks = runs.pop() if previous == word else (t.week_start, t.week_start, 0)
            runs.append((first, t.week_start, weeks + 1))
        previous = word
    return runs


def _gap_label(report: WeeklyReport, first: dt.date, weeks: int) -> str:
    """未发布 / N 周未发布, or 通报未通过校验 / N 周通报未通过校验."""
    word = next(t.gap_word for t in report.trend if t.week_start == first)
    return word if weeks == 1 else f"{weeks} 周{word}"


def trend_slots(report: WeeklyReport) -> list[tuple[Slot, dt.date, bool]]:
    """The x axis of the trend charts: (slot, its first week, published) in order.

    A published week is one slot; a run of weeks without figures is one slot too, however
    long (the 12 published weeks of a trend can lie years apart): linear in the trend.
    """
    runs = {first: (first, weeks) for first, _, weeks in gap_runs(report)}
    inside = {t.week_start for first, last, _ in gap_runs(report) for t in report.trend if first < t.week_start <= last}
    slots = []
    for t in report.trend:
        if t.week_start in inside:
            continue
        tick = f"{t.week_start.month}/{t.week_start.day}"
        if t.city is not None:
            slots.append((Slot(tick), t.week_start, True))
        else:
            first, weeks = runs[t.week_start]
            slots.append((Slot(tick, _gap_label(report, first, weeks)), t.week_start, False))
    return slots


def unit_trend_chart(report: WeeklyReport) -> LineChart:
    """Unresolved cases per unit over the trend weeks; unpublished weeks are gaps."""
    slots = trend_slots(report)
    series = []
    for n, unit in enumerate(report.units):
        history = report.unit_trend.get((unit.unit_list, unit.unit_name), {})
        name = unit_label(report, unit)
        values: list[float | None] = [history.get(week) if published else None for _, week, published in slots]
        color, dash = series_style(n)
        tips = [f"{week.isoformat()} 起一周 {name}：{L.count(history.get(week))} 件" for _, week, _ in slots]
        series.append(Series(name, values, color, dash, tips=tips))
    return LineChart([s for s, _, _ in slots], series, y_title="未办结件（件）")


def closure_rate_chart(report: WeeklyReport) -> LineChart:
    """The city's closure rate, computed and as published, over the trend weeks."""
    slots = trend_slots(report)
    by_week = {t.week_start: t.city for t in report.trend}
    weeks = [(by_week[week] if published else None) for _, week, published in slots]
    computed = [percent_points(c.closure_rate) if c else None for c in weeks]
    published = [percent_points(c.closure_rate_published) if c else None for c in weeks]
    values = [v for v in computed + published if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 100.0)
    pad = max((high - low) * 0.3, 0.5)
    tips = [f"{week.isoformat()} 起一周" for _, week, _ in slots]
    series = [
        Series(
            L.label("closure_rate"),
            computed,
            series_style(0)[0],
            labels=[L.percent(c.closure_rate) if c else "" for c in weeks],
            tips=[
                f"{tip} {L.label('closure_rate')}：{L.percent(c.closure_rate) if c else L.MISSING}"
                for tip, c in zip(tips, weeks, strict=True)
            ],
        ),
        Series(
            L.label("closure_rate_published"),
            published,
            series_style(1)[0],
            line=False,
            marker="cross",
            tips=[
                f"{tip} {L.label('closure_rate_published')}：{L.percent(c.closure_rate_published) if c else L.MISSING}"
                for tip, c in zip(tips, weeks, strict=True)
            ],
        ),
    ]
    return LineChart(
        [s for s, _, _ in slots],
        series,
        y_title="结案率",
        y_suffix="%",
        y_range=(math.floor((low - pad) * 2) / 2, min(math.ceil((high + pad) * 2) / 2, 100.0)),
        y_decimals=1,
    )


@dataclass(frozen=True)
class Bar:
    """A unit's bar on the share chart: its length (0..100, of the longest) and what it says."""

    name: str
    length: float
    text: str
    top: bool  # one of the three largest: drawn in the alarm colour


def share_bars(report: WeeklyReport) -> list[Bar]:
    """Each listed unit's unresolved cases, the largest first: with its share of the city's overdue when printed."""
    units = share_rows(report)
    longest = max((u.unresolved for u in units), default=0) or 1
    bars = []
    for n, u in enumerate(units):
        share = (
            f"{L.percent(u.overdue_share)}（{u.unresolved} 件）"
            if u.overdue_share is not None
            else f"{u.unresolved} 件"
        )
        bars.append(
            Bar(unit_label(report, u), round(100 * u.unresolved / longest, 2), share, n < 3 and u.unresolved > 0)
        )
    return bars


@dataclass(frozen=True)
class ChartView:
    """A chart as the page shows it: drawn wide and narrow, and its legend."""

    id: str
    wide: Markup
    narrow: Markup
    legend: list[tuple[str, str, str, str]]  # (name, colour, dash, marker)


def _view(chart: LineChart, chart_id: str, label: str) -> ChartView:
    # render_svg escapes every text it writes: its output is markup.
    return ChartView(
        chart_id,
        Markup(render_svg(chart, WIDE, label=label)),
        Markup(render_svg(chart, NARROW, label=label)),
        [(s.name, s.color, s.dash, s.marker if not s.line else "line") for s in chart.series],
    )


def render_html(report: WeeklyReport) -> str:
    """The report as one self-contained HTML page."""
    context = report_context(report)
    return (
        environment("html")
        .get_template("report.html.j2")
        .render(
            c=context,
            font=Markup(FONT_STACK),  # a constant, into the <style> element (raw text: no entities there)
            colors={"worse": WORSE, "better": BETTER, "neutral": NEUTRAL},
            unit_trend=_view(unit_trend_chart(report), CHART_IDS[0], context.trend_title),
            closure_rate=_view(closure_rate_chart(report), CHART_IDS[1], "全市结案率走势"),
            share_id=CHART_IDS[2],
            bars=share_bars(report),
        )
    )
