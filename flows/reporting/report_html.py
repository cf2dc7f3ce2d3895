"""The weekly report as one self-contained HTML page: tables, and plotly charts drawn by the reader's browser.

Everything is inline (plotly.js, styles, data): the file opens offline, can be mailed
and printed. Text is drawn by the viewer's browser with the viewer's fonts, so nothing
here depends on a font on the machine that builds the page.

The charts are plain plotly figure dicts (`{"data": [...], "layout": {...}}`) handed to
`Plotly.newPlot` in the page, not `plotly.graph_objects` figures: plotly's Python object
model validates and deep-copies every property (its template most of all) and its first
figure loads the validators, which cost a run's report more than the rest of it together.
plotly.js draws the same figure from the same JSON; nothing here imports `graph_objects`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pkgutil
from collections.abc import Sequence
from functools import lru_cache
from html import escape
from string import Template
from typing import Any

from plotly.offline import get_plotlyjs

from flows.reporting import labels as L
from flows.reporting.weekly_report import (
    RESOLVES_NOTHING,
    TREND_WEEKS,
    UNIT_TABLE_HEADER,
    WeeklyReport,
    city_figure_rows,
    comparison_note,
    gap_source_row,
    list_summary,
    printings_note,
    share_rows,
    source_line,
    sources_footer,
    title,
    trend_acceptance_notes,
    trend_sources_line,
    unit_label,
    unit_remarks,
    unit_table_rows,
    week_acceptance_note,
)
from flows.warehouse.readers import UnitWeekRow

# The viewer's fonts: whichever CJK face the reader's system has.
FONT_STACK = (
    'system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'
)

# Chart element ids: one chart per chart section.
CHART_IDS = ("chart-unit-trend", "chart-closure-rate", "chart-overdue-share")

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

# A plotly figure as plotly.js takes it: {"data": [trace, ...], "layout": {...}}.
Figure = dict[str, Any]

WORSE, BETTER = "#c0392b", "#1e8449"

STYLE = Template("""
:root { color-scheme: light; }
body { font-family: $font; margin: 0; background: #f4f5f7; color: #1f2328; line-height: 1.55; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.6rem; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.25rem; margin: 1.8em 0 0.5em; padding-bottom: 0.2em; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05rem; margin: 1.2em 0 0.4em; }
p.lead { color: #444; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; margin: 0.4em 0; }
th, td { border-bottom: 1px solid #e1e4e8; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.left-list td { color: #6a737d; }
.worse { color: $worse; }
.better { color: $better; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 0.85em; white-space: nowrap; }
.badge.entered { background: #fdebd0; color: #a04000; }
.badge.stayed { background: #fadbd8; color: #922b21; }
.badge.left { background: #d5f5e3; color: #1e8449; }
.badge.nothing { background: #922b21; color: #fff; }
p.source { color: #57606a; font-size: 0.85rem; margin: 0.3em 0 0; }
p.note { background: #fff8c5; padding: 6px 10px; border-radius: 4px; }
figure { margin: 0.5em 0; }
.chart { width: 100%; min-height: 360px; }
footer { color: #57606a; font-size: 0.85rem; margin-top: 2em; }
@media print {
  body { background: #fff; }
  main { padding: 0; max-width: none; }
  section { break-inside: avoid; }
}
""").substitute(font=FONT_STACK, worse=WORSE, better=BETTER)


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return get_plotlyjs()


def _tone(change: float | None, higher_is_worse: bool) -> str:
    if change is None or round(change, 9) == 0:
        return ""
    return "worse" if (change > 0) == higher_is_worse else "better"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool], **extra: Any) -> str:
    row_classes: list[str] = extra.get("row_classes") or [""] * len(rows)
    cell_classes: Sequence[Sequence[str]] = extra.get("cell_classes") or [("",) * len(header)] * len(rows)
    raw_html: set[int] = extra.get("raw_html") or set()
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>"
        for h, n in zip(header, numeric, strict=True)
    )
    body = []
    for row, row_class, classes in zip(rows, row_classes, cell_classes, strict=True):
        cells = []
        for i, (cell, is_num, tone) in enumerate(zip(row, numeric, classes, strict=True)):
            css = " ".join(c for c in ("num" if is_num else "", tone) if c)
            attr = f' class="{css}"' if css else ""
            cells.append(f"<td{attr}>{cell if i in raw_html else escape(cell)}</td>")
        tr_attr = f' class="{row_class}"' if row_class else ""
        body.append(f"<tr{tr_attr}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _source(text: str) -> str:
    return f'<p class="source">{escape(text)}</p>'


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    """plotly's "plotly_white" template, read once from the JSON plotly ships (what `pio.templates` loads).

    Shared by every figure of the process: nothing may change it.
    """
    data = pkgutil.get_data("plotly", "package_data/templates/plotly_white.json")
    assert data is not None, "plotly ships its templates as package data"
    template: dict[str, Any] = json.loads(data)
    return template


def _layout(**kwargs: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "template": _template(),
        "font": {"family": FONT_STACK, "size": 13},
        "margin": {"l": 60, "r": 30, "t": 30, "b": 60},
        "hoverlabel": {"font": {"family": FONT_STACK}},
    }
    return {**settings, **kwargs}


# As plotly's JSON encoder writes JSON into a page: no "</script>" or "<!--" can end or open
# anything inside the <script>, and no JavaScript line separator breaks a string.
_SCRIPT_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("/", "\\u002f"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _iso(value: object) -> str:
    if isinstance(value, dt.date):  # dt.datetime included
        return value.isoformat()
    raise TypeError(f"not JSON serializable in a chart: {value!r}")


def script_json(value: object) -> str:
    """Compact JSON for inside a <script> element; dates as ISO strings, NaN refused (plotly.js wants null).

    >>> script_json({"text": "</script>", "x": [dt.date(2021, 1, 18), None], "y": 1.5})
    '{"text":"\\\\u003c\\\\u002fscript\\\\u003e","x":["2021-01-18",null],"y":1.5}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_iso)
    for char, escaped in _SCRIPT_SAFE:
        text = text.replace(char, escaped)
    return text


def _chart(fig: Figure, div_id: str, height: int) -> str:
    """The figure's <div> and the script that draws it: plotly's `to_html(full_html=False)` without its PLOTLYENV line."""
    arguments = ", ".join(script_json(v) for v in (div_id, fig["data"], fig["layout"], PLOTLY_CONFIG))
    plot = f"Plotly.newPlot({arguments});"
    return (
        f'<div style="height:{height}px; width:100%;">'
        f'<div id="{div_id}" class="plotly-graph-div" style="height:100%; width:100%;"></div>'
        f"<script>{plot}</script></div>"
    )


def percent_points(rate: float | None) -> float | None:
    """A 0..1 rate as a percentage for a chart, to 4 places; None (a gap, plotly's null) when missing or NaN.

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


def _gap_shapes(report: WeeklyReport) -> dict[str, list[dict[str, Any]]]:
    """Shade each run of unpublished weeks and say so: a gap, not a zero (layout "shapes" and "annotations").

    One shape per run, not per week: the 12 published weeks of a trend can lie years apart
    (hundreds of weeks between them). The shape and its label are what plotly's
    `add_vrect(..., annotation_position="top")` made: a rect over the whole y domain from
    half a week before the first week to half a week after the last, its label centred on
    top, at the midpoint written as add_vrect wrote it (with a UTC offset; plotly.js drops it).
    """
    shapes, annotations = [], []
    for first, last, weeks in gap_runs(report):
        x0 = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=3.5)
        x1 = dt.datetime.combine(last, dt.time()) + dt.timedelta(days=3.5)
        shapes.append(
            {
                "type": "rect",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "xref": "x",
                "yref": "y domain",
                "fillcolor": "#d0d7de",
                "opacity": 0.35,
                "line": {"width": 0},
            }
        )
        annotations.append(
            {
                "text": _gap_label(report, first, weeks),
                "x": (x0 + (x1 - x0) / 2).isoformat() + "+00:00",
                "xanchor": "center",
                "xref": "x",
                "y": 1,
                "yanchor": "top",
                "yref": "y domain",
                "showarrow": False,
            }
        )
    return {"shapes": shapes, "annotations": annotations} if shapes else {}


def _week_axis(report: WeeklyReport) -> dict[str, Any]:
    """A tick on each published week and on the first week of each gap (not on every week of a long one)."""
    firsts = {first for first, _, _ in gap_runs(report)}
    weeks = [t.week_start for t in report.trend if t.city is not None or t.week_start in firsts]
    return {
        "type": "date",
        "tickvals": weeks,
        "ticktext": [f"{w.month}/{w.day}" for w in weeks],
        "title": {"text": "周起始日"},
    }


def unit_trend_chart(report: WeeklyReport) -> Figure:
    """Unresolved cases per unit over the trend weeks; unpublished weeks are gaps."""
    weeks = [t.week_start for t in report.trend]
    traces = []
    for unit in report.units:
        history = report.unit_trend.get((unit.unit_list, unit.unit_name), {})
        name = unit_label(report, unit)
        traces.append(
            {
                "type": "scatter",
                "x": weeks,
                "y": [history.get(t.week_start) if t.city is not None else None for t in report.trend],
                "name": name,
                "mode": "lines+markers",
                "connectgaps": False,
                "hovertemplate": "%{x|%Y-%m-%d} 起一周<br>" + escape(name) + "：%{y} 件<extra></extra>",
            }
        )
    layout = _layout(
        xaxis=_week_axis(report),
        yaxis={"title": {"text": "未办结件"}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 60, "r": 30, "t": 30, "b": 120},
        **_gap_shapes(report),
    )
    return {"data": traces, "layout": layout}


def closure_rate_chart(report: WeeklyReport) -> Figure:
    """The city's closure rate, computed and as published, over the trend weeks."""
    weeks = [t.week_start for t in report.trend]
    computed = [percent_points(t.city.closure_rate) if t.city else None for t in report.trend]
    published = [percent_points(t.city.closure_rate_published) if t.city else None for t in report.trend]
    traces = [
        {
            "type": "scatter",
            "x": weeks,
            "y": computed,
            "name": "结案率（计算）",
            "mode": "lines+markers+text",
            "connectgaps": False,
            "text": [L.percent(t.city.closure_rate) if t.city else "" for t in report.trend],
            "textposition": "top center",
            "hovertemplate": "%{x|%Y-%m-%d} 起一周<br>结案率（计算）：%{y:.2f}%<extra></extra>",
        },
        {
            "type": "scatter",
            "x": weeks,
            "y": published,
            "name": "结案率（通报公布）",
            "mode": "markers",
            "marker": {"symbol": "x", "size": 9},
            "hovertemplate": "%{x|%Y-%m-%d} 起一周<br>结案率（通报公布）：%{y:.2f}%<extra></extra>",
        },
    ]
    values = [v for v in computed + published if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 100.0)
    pad = max((high - low) * 0.3, 0.5)
    layout = _layout(
        xaxis=_week_axis(report),
        yaxis={"title": {"text": "结案率"}, "ticksuffix": "%", "range": [low - pad, min(high + pad, 100.5)]},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 60, "r": 30, "t": 30, "b": 100},
        **_gap_shapes(report),
    )
    return {"data": traces, "layout": layout}


def overdue_share_chart(report: WeeklyReport) -> Figure:
    """Each listed unit's share of the city's overdue cases; the top three stand out."""
    units = share_rows(report)
    shares = [percent_points(u.overdue_share) for u in units]
    colors = [WORSE if n < 3 else "#95a5a6" for n in range(len(units))]
    bars = {
        "type": "bar",
        "x": list(reversed(shares)),
        "y": [unit_label(report, u) for u in reversed(units)],
        "orientation": "h",
        "marker": {"color": list(reversed(colors))},
        "text": [f"{L.percent(u.overdue_share)}（{u.unresolved} 件）" for u in reversed(units)],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}<br>占全市超时未办结：%{x:.2f}%<extra></extra>",
    }
    top = max((s for s in shares if s is not None), default=100.0)
    layout = _layout(
        xaxis={"title": {"text": "占全市超时未办结"}, "ticksuffix": "%", "range": [0, top * 1.35]},
        yaxis={"automargin": True},
        showlegend=False,
        margin={"l": 20, "r": 30, "t": 20, "b": 60},
    )
    return {"data": [bars], "layout": layout}


def _badge(unit: UnitWeekRow) -> str:
    if unit.list_change is None:
        return escape(L.MISSING)
    return f'<span class="badge {escape(unit.list_change)}">{escape(L.list_change(unit.list_change))}</span>'


def _unit_table(report: WeeklyReport, group: str) -> str:
    units = [u for u in report.units if u.unit_group == group]
    rows = []
    for unit, cells in zip(units, unit_table_rows(report, group), strict=True):
        cells_html = [escape(c) for c in cells]
        cells_html[7] = _badge(unit)
        cells_html[9] = "；".join(
            '<span class="badge nothing">零办结</span>' if remark == RESOLVES_NOTHING else escape(remark)
            for remark in unit_remarks(unit)
        )
        rows.append(tuple(cells_html))
    numeric = (True, False, True, True, True, True, True, False, True, False)
    tones = [
        ("", "", "", "", _tone(u.unresolved_change, True), "", _tone(u.unresolved_rate_change_pp, True), "", "", "")
        for u in units
    ]
    return _table(
        UNIT_TABLE_HEADER,
        rows,
        numeric,
        row_classes=["" if u.on_list else "left-list" for u in units],
        cell_classes=tones,
        raw_html=set(range(len(UNIT_TABLE_HEADER))),
    )


def render_html(report: WeeklyReport) -> str:
    """The report as one HTML page with plotly.js inline."""
    city = report.city
    single_source = "来源：" + source_line(report, city) + "。"
    figure_rows = city_figure_rows(report)
    city_tones = {
        "超时未办结": _tone(city.overdue_change, True),
        "确权争议未处置": _tone(city.disputed_change, True),
        "结案率（已结案÷应结案）": _tone(city.closure_rate_change_pp, False),
    }
    parts = [
        f"<header><h1>{escape(title(report))}</h1>",
        f'<p class="lead">本周：{escape(L.day(city.week_start))} ~ {escape(L.day(city.week_end))}，'
        f"{escape(L.day(city.issue_date))} 刊发。{escape(comparison_note(report))}</p></header>",
        '<section id="city"><h2>一、全市概况</h2>',
        _table(
            ("指标", "本周", "较上周"),
            figure_rows,
            (False, True, True),
            cell_classes=[("", "", city_tones.get(r[0], "")) for r in figure_rows],
        ),
        _source(single_source),
    ]
    if note := week_acceptance_note(report):
        parts.append(f'<p class="note">{escape(note)}</p>')
    if note := printings_note(report):
        parts.append(f'<p class="note">{escape(note)}</p>')
    parts.append("</section>")

    parts += ['<section id="list"><h2>二、上榜单位</h2>', f"<p>{escape(list_summary(report))}</p>"]
    for group in report.groups:
        parts += [f"<h3>{escape(group)}</h3>", _unit_table(report, group)]
    parts += [_source(single_source), "</section>"]

    parts += [
        f'<section id="unit-trend"><h2>三、各单位未办结件走势（近 {TREND_WEEKS} 个发布周）</h2>',
        f"<figure>{_chart(unit_trend_chart(report), CHART_IDS[0], 460)}</figure>",
        _source(trend_sources_line(report)),
        "</section>",
        '<section id="closure-rate"><h2>四、全市结案率走势</h2>',
        f"<figure>{_chart(closure_rate_chart(report), CHART_IDS[1], 380)}</figure>",
        _source(trend_sources_line(report)),
        "</section>",
        '<section id="overdue-share"><h2>五、超时未办结集中在哪些单位</h2>',
        f"<p>全市超时未办结 {escape(L.count(city.overdue))} 件，前三名单位合计占 "
        f"{escape(L.percent(city.top3_overdue_share))}。</p>",
        f"<figure>{_chart(overdue_share_chart(report), CHART_IDS[2], 80 + 44 * max(len(report.on_list), 3))}</figure>",
        _source(single_source),
        "</section>",
    ]

    rows = []
    for t in reversed(report.trend):
        if t.city is None:
            rows.append(gap_source_row(t))
            continue
        source = report.source(t.city)
        path = (source.path if source else None) or "文件未记录"
        rows.append((L.day(t.week_start), L.day(t.city.issue_date), path, t.city.bulletin_id))
    parts += [
        '<section id="sources"><h2>数据来源</h2>',
        _table(("周起始日", "刊发日期", "文件", "通报编号"), rows, (False, False, False, False)),
        *(f'<p class="note">{escape(note)}</p>' for note in trend_acceptance_notes(report)),
        f"<p>{escape(sources_footer(report))}</p>",
        "</section>",
    ]
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title(report))}</title>\n"
        f"<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{_plotly_js()}</script>\n'
        f"</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
