"""The weekly report's files: report-<week>.html and .md (.pdf and .png drawn by Chromium),
for the weeks asked (`bulletins report`) or owed by a run (`write_run_reports`).

Each file is written under a temporary name, then renamed (`flows.warehouse.atomic`).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flows.reporting.browser import Browser
from flows.reporting.report_context import render_markdown
from flows.reporting.weekly_report import WeeklyReport, read_weekly_report
from flows.warehouse.atomic import write_atomic
from flows.warehouse.db import connection
from flows.warehouse.readers.report import published_weeks, report_cities

# A run writes the reports of at most this many of the weeks it loaded, the latest ones
# (a backfill of years would otherwise write hundreds of pages); `bulletins report
# --week` writes any other.
REPORTS_PER_RUN = 8


# --------------------------------------------------------------------------- files


# The formats `bulletins report --format` writes; a run writes the default two.
FORMATS = ("html", "md", "pdf", "png")
DEFAULT_FORMATS = ("html", "md")
# pdf and png are drawn from the page by Chromium (flows.reporting.browser).
BROWSER_FORMATS = frozenset({"pdf", "png"})


@dataclass(frozen=True)
class WrittenReport:
    city: str
    week_start: dt.date
    html: Path | None  # None: not asked for (a run always writes it)
    markdown: Path | None
    pdf: Path | None = None
    png: Path | None = None

    @property
    def files(self) -> list[Path]:
        """The files written, in FORMATS order."""
        return [p for p in (self.html, self.markdown, self.pdf, self.png) if p is not None]


def report_paths(out_dir: Path, week_start: dt.date, city: str | None = None) -> tuple[Path, Path]:
    """report-<week_start>.html and .md; report-<city>-<week_start>.* when the warehouse holds several cities."""
    stem = f"report-{week_start.isoformat()}" if city is None else f"report-{city}-{week_start.isoformat()}"
    return out_dir / f"{stem}.html", out_dir / f"{stem}.md"


def write_report(
    report: WeeklyReport,
    out_dir: Path,
    *,
    name_city: bool = False,
    formats: Sequence[str] = DEFAULT_FORMATS,
    browser: Browser | None = None,
) -> WrittenReport:
    """Write the report in `formats` into `out_dir` (each under a temporary name, then renamed).

    pdf and png need `browser` (a running Chromium); they are drawn from the page, which is
    written to a temporary folder when html itself was not asked for.
    """
    from flows.reporting.report_html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = report_paths(out_dir, report.week_start, report.city_name if name_city else None)
    written: dict[str, Path] = {}
    if "md" in formats:
        write_atomic(md_path, render_markdown(report))
        written["md"] = md_path
    if "html" in formats or BROWSER_FORMATS & set(formats):
        page = render_html(report)
        if "html" in formats:
            write_atomic(html_path, page)
            written["html"] = html_path
        if BROWSER_FORMATS & set(formats):
            if browser is None:
                raise ValueError("pdf and png need a running Chromium (flows.reporting.browser.chromium)")
            with tempfile.TemporaryDirectory(prefix="bulletins-report-") as tmp:
                source = html_path if "html" in formats else Path(tmp) / html_path.name
                if source != html_path:
                    source.write_text(page, encoding="utf-8")
                for kind in ("pdf", "png"):
                    if kind in formats:
                        target = html_path.with_suffix(f".{kind}")
                        written[kind] = browser.pdf(source, target) if kind == "pdf" else browser.png(source, target)
    return WrittenReport(
        report.city_name,
        report.week_start,
        written.get("html"),
        written.get("md"),
        written.get("pdf"),
        written.get("png"),
    )


def write_week_reports(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    cities: Sequence[str],
    week: dt.date | None,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> list[WrittenReport]:
    """Write each city's report of `week` (None: its latest); names carry the city when the warehouse has several.

    pdf and png start the system's Chromium once for all of them (`ChromiumMissing` when it is not installed).
    """
    name_city = len(report_cities(con)) > 1
    reports = [read_weekly_report(con, city, week) for city in cities]
    if not BROWSER_FORMATS & set(formats):
        return [write_report(r, out_dir, name_city=name_city, formats=formats) for r in reports]
    from flows.reporting.browser import chromium

    with chromium() as browser:
        return [write_report(r, out_dir, name_city=name_city, formats=formats, browser=browser) for r in reports]


def weeks_to_report(
    con: duckdb.DuckDBPyConnection,
    city: str,
    loaded: Sequence[dt.date],
    out_dir: Path,
    rebuilt: bool,
    limit: int = REPORTS_PER_RUN,
) -> list[dt.date]:
    """Which of the city's weeks a run writes reports for, oldest first.

    The published weeks among those it loaded (the latest `limit`), and the latest
    published week when the models were rebuilt or its report is missing.
    """
    published = published_weeks(con, city)
    if not published:
        return []
    chosen = sorted(set(loaded) & set(published))[-limit:]
    latest = published[-1]
    name_city = city if len(report_cities(con)) > 1 else None
    if latest not in chosen and (rebuilt or not report_paths(out_dir, latest, name_city)[0].exists()):
        chosen.append(latest)
    return sorted(chosen)


@dataclass(frozen=True)
class RunReports:
    written: list[WrittenReport]  # by city, oldest week first
    latest: list[Path]  # each city's latest published week's HTML report, written now or before


def write_run_reports(db_path: Path, out_dir: Path, loaded: Sequence[dt.date], rebuilt: bool) -> RunReports:
    """Write the reports a run owes (see `weeks_to_report`), from the warehouse at `db_path`, read-only.

    `loaded` holds the first days of the weeks the run loaded, of any city.
    """
    if not Path(db_path).exists():
        return RunReports([], [])
    written: list[WrittenReport] = []
    latest: list[Path] = []
    with connection(db_path, read_only=True) as con:
        cities = report_cities(con)
        name_city = len(cities) > 1
        for city in cities:
            for week in weeks_to_report(con, city, loaded, out_dir, rebuilt):
                written.append(write_report(read_weekly_report(con, city, week), out_dir, name_city=name_city))
            html = report_paths(out_dir, published_weeks(con, city)[-1], city if name_city else None)[0]
            if html.exists():
                latest.append(html)
    return RunReports(written, latest)
