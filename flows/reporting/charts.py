"""Static line charts as inline SVG: a few kilobytes each, drawn by this module, no script.

The weekly report's trend charts are small (a dozen weeks, a few dozen lines at most),
so a plotting library buys little: plotly.js inlined made every page 4.9 MB, and an SVG
backend (matplotlib's) writes each glyph's outline or needs a font on the machine that
builds the page. Here the text stays text (`<text>`, drawn with the reader's fonts), the
chart scales to its box (`viewBox`, `width: 100%`), and each point carries a `<title>`
that desktop browsers show on hover.

A chart is drawn twice, for a wide box and a narrow one (a phone): the same figures, with
fewer tick labels and point labels on the narrow one, so its text stays legible when the
picture shrinks to 360 px. The page shows one of them by CSS media query.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape as _html_escape

from flows.text.escape import visible

# The series colours (D3's category10, plotly's default): distinct, and legible in print.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# From the 11th series on, the colours repeat with a dash pattern.
DASHES = ("", "6 3", "2 3", "8 3 2 3")

GAP_FILL = "#d0d7de"


def escape(text: str) -> str:
    """Text for inside the SVG: markup escaped, a control character from a page shown as its escape."""
    return _html_escape(visible(text))


@dataclass(frozen=True)
class Series:
    """One line: a value per slot (None: no point, the line breaks)."""

    name: str
    values: Sequence[float | None]
    color: str
    dash: str = ""
    labels: Sequence[str] | None = None  # a text over each point (None: no labels)
    line: bool = True  # False: markers only
    marker: str = "circle"  # circle or cross
    tips: Sequence[str] | None = None  # the hover text of each point


@dataclass(frozen=True)
class Slot:
    """A place on the x axis: a published week, or a run of weeks with no figures (a gap)."""

    tick: str  # its label under the axis (12/7)
    gap: str | None = None  # the gap's words (未发布, 3 周未发布, 通报未通过校验); None: published


@dataclass(frozen=True)
class LineChart:
    """Weeks along x, counts or rates up y."""

    slots: Sequence[Slot]
    series: Sequence[Series]
    y_title: str
    y_suffix: str = ""  # "%" for rates
    y_range: tuple[float, float] | None = None  # None: from 0 to a round number over the largest value
    y_decimals: int = 0

    @property
    def gaps(self) -> list[Slot]:
        return [s for s in self.slots if s.gap is not None]


def series_style(index: int) -> tuple[str, str]:
    """The colour and dash of the index-th series.

    >>> series_style(0), series_style(11)
    (('#1f77b4', ''), ('#ff7f0e', '6 3'))
    """
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering low..high, about `count` of them.

    >>> nice_ticks(0, 68)
    [0.0, 20.0, 40.0, 60.0, 80.0]
    >>> nice_ticks(90.0, 92.5)
    [90.0, 91.0, 92.0, 93.0]
    """
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value < high + step - 1e-9:
        ticks.append(round(float(value), 10))
        value += step
    return ticks


@dataclass(frozen=True)
class Frame:
    """The drawing box: the viewBox and the plot area inside it, and the text size, in SVG units."""

    width: int
    height: int
    font: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom


WIDE = Frame(width=960, height=390, font=13, left=64, right=24, top=44, bottom=40)
NARROW = Frame(width=360, height=310, font=12, left=44, right=10, top=42, bottom=34)


def _fmt(value: float) -> str:
    """A coordinate, short: 12.5, 300."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tick_text(value: float, chart: LineChart) -> str:
    return f"{value:.{chart.y_decimals}f}{chart.y_suffix}"


def render_svg(chart: LineChart, frame: Frame, *, label: str) -> str:
    """The chart as an <svg> element sized to its box; `label` names it for screen readers."""
    slots = len(chart.slots)
    step = frame.plot_width / max(slots, 1)

    def x(i: int) -> float:
        return frame.left + step * (i + 0.5)

    values = [v for s in chart.series for v in s.values if v is not None]
    if chart.y_range is not None:
        low, high = chart.y_range
        ticks = [t for t in nice_ticks(low, high) if low - 1e-9 <= t <= high + 1e-9] or [low, high]
    else:
        ticks = nice_ticks(0, max(values, default=0) or 1)
        low, high = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return frame.top + frame.plot_height * (1 - (v - low) / ((high - low) or 1))

    font = frame.font
    out = [
        f'<svg class="chart-svg" viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{escape(label)}"'
        f' font-size="{font}" preserveAspectRatio="xMidYMid meet">'
    ]
    # Gaps: shaded, with their words on top: a week with no figures is never a zero.
    for i, slot in enumerate(chart.slots):
        if slot.gap is not None:
            out.append(
                f'<rect class="gap" x="{_fmt(x(i) - step / 2)}" y="{frame.top}" width="{_fmt(step)}"'
                f' height="{_fmt(frame.plot_height)}" fill="{GAP_FILL}" fill-opacity="0.45"/>'
            )
            out.append(
                f'<text class="gap-label" x="{_fmt(x(i))}" y="{frame.top - 8}" text-anchor="middle"'
                f' fill="#57606a">{escape(slot.gap)}</text>'
            )
    # Grid and y axis.
    for t in ticks:
        out.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{_fmt(y(t))}" y2="{_fmt(y(t))}"'
            ' stroke="#e1e4e8"/>'
        )
        out.append(
            f'<text x="{frame.left - 6}" y="{_fmt(y(t) + font * 0.35)}" text-anchor="end" fill="#57606a">'
            f"{escape(_tick_text(t, chart))}</text>"
        )
    out.append(f'<text x="4" y="{font + 2}" fill="#57606a">{escape(chart.y_title)}</text>')
    # x ticks: every slot when they fit, else every k-th (always the last).
    room = max(frame.font * 3.2, 1)
    every = max(1, math.ceil(room / step))
    for i, slot in enumerate(chart.slots):
        if (slots - 1 - i) % every == 0:
            out.append(
                f'<text x="{_fmt(x(i))}" y="{frame.height - frame.bottom + font + 8}" text-anchor="middle"'
                f' fill="#57606a">{escape(slot.tick)}</text>'
            )
    out.append(
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{_fmt(frame.top + frame.plot_height)}"'
        f' y2="{_fmt(frame.top + frame.plot_height)}" stroke="#8c959f"/>'
    )
    # Lines, broken at every missing value, then the points over them.
    for s in chart.series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        if s.line:
            run: list[str] = []
            for i, v in enumerate([*s.values, None]):
                if v is not None:
                    run.append(f"{_fmt(x(i))},{_fmt(y(v))}")
                    continue
                if len(run) > 1:
                    out.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
                    )
                run = []
        for i, v in enumerate(s.values):
            if v is None:
                continue
            tip = f"<title>{escape(s.tips[i])}</title>" if s.tips else ""
            cx, cy = _fmt(x(i)), _fmt(y(v))
            if s.marker == "cross":
                r = 4.5
                out.append(
                    f'<path d="M{_fmt(x(i) - r)},{_fmt(y(v) - r)}L{_fmt(x(i) + r)},{_fmt(y(v) + r)}'
                    f'M{_fmt(x(i) - r)},{_fmt(y(v) + r)}L{_fmt(x(i) + r)},{_fmt(y(v) - r)}"'
                    f' stroke="{s.color}" stroke-width="2">{tip}</path>'
                )
            else:
                out.append(f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="{s.color}">{tip}</circle>')
    # Point labels: all on a wide chart, the latest only on a narrow one.
    for s in chart.series:
        if not s.labels:
            continue
        shown = [i for i, v in enumerate(s.values) if v is not None]
        if frame is NARROW or step < font * 4.5:
            shown = shown[-1:]
        for i in shown:
            v = s.values[i]
            assert v is not None
            # The last point's label ends at the point when half of it would leave the box.
            at_edge = i == slots - 1 and step < font * 7
            anchor, dx = ("end", step / 2) if at_edge else ("middle", 0.0)
            out.append(
                f'<text x="{_fmt(x(i) + dx)}" y="{_fmt(y(v) - 9)}" text-anchor="{anchor}" fill="{s.color}">'
                f"{escape(s.labels[i])}</text>"
            )
    out.append("</svg>")
    return "".join(out)
