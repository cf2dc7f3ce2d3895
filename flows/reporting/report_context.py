"""One context for both formats of the weekly report, and the Markdown laid out from it.

`report_context` says everything the report says, as text; the Jinja2 templates in
`templates/` lay it out as Markdown (here) and as a page (`report_html`), autoescaped
each in its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from flows.reporting import labels as L
from flows.reporting.report_tables import (
    Column,
    FigureRow,
    UnitRow,
    city_figure_rows,
    list_summary,
    share_rows,
    unit_columns,
    unit_label,
    unit_rows,
)
from flows.reporting.report_wording import (
    PROVENANCE_FOOTER,
    chinese_day,
    comparison_note,
    lists_laggards,
    printings_note,
    provenance_rows,
    source_line,
    sources_footer,
    sources_rows,
    title,
    trend_acceptance_notes,
    trend_label,
    trend_sources_line,
    week_acceptance_note,
)
from flows.reporting.weekly_report import TREND_WEEKS, WeeklyReport
from flows.text.escape import markdown, visible

# --------------------------------------------------------------------------- one context for both formats


# The columns of the closure-rate and share tables (their labels: `labels.COLUMNS`).
CLOSURE_COLUMNS = ("week_start", "closure_rate", "closure_rate_published", "closure_rate_change_pp")
SHARE_COLUMNS = ("unit_name", "unresolved", "overdue_share")


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
    def closure_header(self) -> list[str]:
        return [L.label(column) for column in CLOSURE_COLUMNS]

    @property
    def share_header(self) -> list[str]:
        return [L.label(column) for column in SHARE_COLUMNS]

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
            f"本周：{L.week_text(city.week_start, city.week_end)}，{chinese_day(city.issue_date)}刊发。"
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
        trend_header=[L.label("unit_name"), *(trend_label(t.week_start) for t in report.trend)],
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
