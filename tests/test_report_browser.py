"""The weekly report in a real browser: Debian's headless Chromium, offline, over the DevTools pipe.

Chromium runs with every host name unresolvable (flows.reporting.browser), so a page that
reached for the network would fail; the tests also record every request the page makes
and every console message or exception. The page is measured at a phone's width (390 px)
and a desktop's (1,300 px): no element wider than the viewport, no text wrapped one
character per line. `bulletins report --format pdf,png` is run for the PDF (A4) and the
long image. The screenshots stay in the test's temp dir; with BULLETINS_DOCS_SCREENSHOTS=1
they are written to docs/ (report-phone.png, report-desktop.png), as the README shows them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import load_without_prefect, make_inbox
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.browser import Browser, chromium, find_chromium
from flows.reporting.report_files import WrittenReport, write_week_reports
from flows.reporting.report_html import CHART_IDS
from flows.settings import PROJECT_DIR
from flows.warehouse.db import connection

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: `make browser` installs it")

FIXTURES = Path(__file__).parent / "fixtures"
PHONE, DESKTOP = 390, 1300
runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled inbox and a Sanmenxia week: a list of laggards, and a table of every department."""
    root = tmp_path_factory.mktemp("browser")
    inbox = make_inbox(root / "inbox")
    sanmenxia = FIXTURES / "pages" / "cities" / "sanmenxia-2021w07-complete.txt"
    shutil.copyfile(sanmenxia, inbox / sanmenxia.name)
    load_without_prefect(inbox, root / "wh")
    return root / "wh"


@pytest.fixture(scope="module")
def pages(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, WrittenReport]:
    with connection(warehouse / "bulletins.duckdb", read_only=True) as con:
        written = write_week_reports(con, tmp_path_factory.mktemp("pages"), ["驻马店", "三门峡"], None)
    return {w.city: w for w in written}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def evaluate(browser: Browser, session: str, expression: str) -> Any:
    result = browser.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
    assert "exceptionDetails" not in result, result
    return result["result"]["value"]


# Every visible element's box against the viewport; an element inside a box that scrolls
# sideways counts by that box (a table may scroll inside its own box, never the page).
OVERFLOW_JS = """
(() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = el => { for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return a; }
    return null; };
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const box = scrolls(el);
    const b = box ? box.getBoundingClientRect() : r;
    if (r.right > vw + 0.5 || r.left < -0.5 || b.right > vw + 0.5) {
      wide.push(`${el.tagName}.${el.getAttribute('class') || ''} ${(el.textContent || '').trim().slice(0, 20)} ${r.left}..${r.right}`);
    }
  }
  const cut = [...document.querySelectorAll('.table-box')].filter(b => b.scrollWidth > b.clientWidth + 1)
    .map(b => (b.textContent || '').trim().slice(0, 20));
  return {vw, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 20), cut};
})()
"""

# A text wrapped one character per line: one character on each of its lines, 3 lines or
# more of under 2 characters each, or a box narrower than 2 em and taller than 3 line heights.
PER_CHARACTER_JS = """
(() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (text.length < 2 || !el || el.closest('svg')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const range = document.createRange(); range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0);
    if (!rects.length) continue;
    const lines = new Set(rects.map(r => Math.round(r.top))).size;
    const font = parseFloat(style.fontSize);
    const lineHeight = parseFloat(style.lineHeight) || font * 1.5;
    const box = el.getBoundingClientRect();
    const oneEach = lines >= 2 && lines >= text.length;  // "备注" as 备 / 注
    if (oneEach || (lines >= 3 && text.length / lines < 2) || (box.width < 2 * font && box.height > 3 * lineHeight)) {
      found.push(`${el.tagName} ${text.slice(0, 20)}: ${lines} lines, ${box.width}x${box.height}`);
    }
  }
  return found;
})()
"""

CHARTS_JS = """
(%s).map(id => {
  const fig = document.getElementById(id);
  if (!fig) return {id, found: false};
  const shown = [...fig.querySelectorAll('svg.chart-svg, ol.bars')].filter(e => e.getBoundingClientRect().width > 0);
  const box = (shown[0] || fig).getBoundingClientRect();
  return {id, found: true, shown: shown.length, width: box.width, height: box.height};
})
"""


def _errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["params"]
        for e in events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in {"error", "warning", "assert"})
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in {"error", "warning"})
    ]


@pytest.mark.parametrize("city", ["驻马店", "三门峡"])
@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_report_fits_the_screen_and_renders_offline(
    browser: Browser, pages: dict[str, WrittenReport], tmp_path: Path, city: str, width: int
) -> None:
    html = pages[city].html
    assert html is not None
    url = html.resolve().as_uri()
    browser.events.clear()
    session = browser.open(url, width, 900, mobile=width == PHONE)
    try:
        overflow = evaluate(browser, session, OVERFLOW_JS)
        per_character = evaluate(browser, session, PER_CHARACTER_JS)
        charts = evaluate(browser, session, CHARTS_JS % json.dumps(CHART_IDS))
        title = evaluate(browser, session, "document.title")
        shot = tmp_path / f"report-{width}.png"
        browser.png(html, shot, width=width, scale=1)
    finally:
        browser.close_tab(session)
    events = list(browser.events)

    assert overflow["vw"] == width
    assert overflow["scrollWidth"] <= width, overflow
    assert overflow["wide"] == [], overflow
    assert overflow["cut"] == [], overflow  # no table cut, not even inside its own box
    assert per_character == []
    assert title.startswith(city)
    for chart in charts:
        assert chart["found"] and chart["shown"] == 1, chart  # the wide or the narrow drawing, never both
        assert chart["width"] > 0.8 * min(width - 24, 1024), chart  # scaled to the width
        assert chart["height"] > 60, chart
    assert _errors(events) == []
    requested = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert requested and all(u == url or u.startswith(("data:", "blob:")) for u in requested), requested
    assert [e for e in events if e.get("method") == "Network.loadingFailed"] == []
    assert shot.stat().st_size > 30_000

    if city == "驻马店" and os.environ.get("BULLETINS_DOCS_SCREENSHOTS"):
        name = "report-phone.png" if width == PHONE else "report-desktop.png"
        browser.png(html, PROJECT_DIR / "docs" / name, width=width, scale=1)


def test_print_layout_fits_a4(browser: Browser, pages: dict[str, WrittenReport]) -> None:
    """Printed (A4, 12 mm margins: about 700 CSS px), every table and chart fits the page's width."""
    html = pages["驻马店"].html
    assert html is not None
    session = browser.open(html.resolve().as_uri(), 700, 1000)
    try:
        browser.call("Emulation.setEmulatedMedia", session, media="print")
        overflow = evaluate(browser, session, OVERFLOW_JS)
        per_character = evaluate(browser, session, PER_CHARACTER_JS)
        charts = evaluate(browser, session, CHARTS_JS % json.dumps(CHART_IDS))
    finally:
        browser.close_tab(session)
    assert overflow["wide"] == [] and overflow["cut"] == [], overflow
    assert per_character == []
    assert all(c["shown"] == 1 and c["width"] > 600 for c in charts), charts


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page's MediaBox."""
    boxes = re.findall(
        rb"/Type\s*/Page\b(?!s).*?/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf, re.S
    )
    if not boxes:  # the box written before the type
        boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def test_cli_writes_an_a4_pdf_and_a_long_png(warehouse: Path, tmp_path: Path) -> None:
    find_chromium()
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["report", "--warehouse", str(warehouse), "--city", "驻马店", "--out", str(out), "--format", "pdf,png"]
    )
    assert result.exit_code == 0, result.output
    pdf_path, png_path = out / "report-驻马店-2021-01-18.pdf", out / "report-驻马店-2021-01-18.png"
    assert sorted(p.name for p in out.iterdir()) == [pdf_path.name, png_path.name]  # no .html left behind
    assert result.output.splitlines() == ["周报（驻马店，2021-01-18 起的一周）：", f"  {pdf_path}", f"  {png_path}"]

    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = _pdf_pages(pdf)
    assert len(pages) >= 1
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == len(pages)
    for width, height in pages:  # A4: 595.3 x 841.9 pt
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2, (width, height)
    assert len(pdf) < 2_000_000

    png = png_path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert width == 390 * 2  # a phone's width, twice the pixels
    assert height > 4 * width  # a long image: the whole report
