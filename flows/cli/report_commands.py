"""`bulletins report`, `export` and `explain`: the weekly report in its formats, the marts
for Excel/WPS, and how one file was read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import WarehouseOpt, app, parse_day, reading
from flows.cli.errors import fail, shown
from flows.cli.query_command import json_default
from flows.settings import (
    Settings,
)


def _out_folder(path: Path | None) -> Path | None:
    """--out: a folder, or a path where one can be made (no file on the way); else exit 2 naming --out."""
    if path is None:
        return None
    for place in (path, *path.parents):
        if place.is_dir():
            return path
        if place.exists() or place.is_symlink():
            what = "is a file, not a folder" if place == path else f"cannot be made: {place} is a file, not a folder"
            raise typer.BadParameter(f"{path} {what}", param_hint="--out")
    return path


def _report_formats(values: list[str] | None) -> list[str] | None:
    """--format: html, md, pdf, png, repeated or comma-separated; else exit 2 naming --format."""
    from flows.reporting.report_files import FORMATS

    if not values:
        return None
    chosen = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"must be {', '.join(FORMATS)}, not {', '.join(unknown) or 'nothing'}", param_hint="--format"
        )
    return [f for f in FORMATS if f in chosen]


@app.command()
def report(
    week: Annotated[
        str | None, typer.Option(help="A day of the published week to report, YYYY-MM-DD [default: the latest]")
    ] = None,
    city: Annotated[
        str | None, typer.Option(help="The city to report on [default: every city in the warehouse]")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write into [default: <warehouse>/reports]", callback=_out_folder),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="html, md, pdf or png; repeat it or separate with commas (default: html and md). "
            "pdf (A4) and png (a phone-width long image) need Chromium: apt-get install chromium",
            callback=_report_formats,
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the weekly report (report-<week_start>.html and .md; .pdf, .png on request) of a published week.

    With several cities in the warehouse, one report per city, named report-<city>-<week_start>.
    """
    from flows.reporting.browser import BROWSER_ERRORS, find_chromium
    from flows.reporting.report_files import BROWSER_FORMATS, DEFAULT_FORMATS, write_week_reports
    from flows.reporting.weekly_report import NoPublishedWeek
    from flows.warehouse.readers.report import CityNotChosen, WeekNotPublished, resolve_cities

    formats = format or list(DEFAULT_FORMATS)
    day = parse_day(week, "--week")
    settings = Settings.resolve(None, warehouse)
    if BROWSER_FORMATS & set(formats):
        try:
            find_chromium()  # before anything is written: one clear line when it is missing
        except BROWSER_ERRORS as exc:
            fail(str(exc))
    with reading(settings) as con:
        try:
            cities = resolve_cities(con, city)
            if not cities:
                raise NoPublishedWeek("no published week in the warehouse yet: nothing to report")
            written = write_week_reports(con, out if out is not None else settings.reports_dir, cities, day, formats)
        except (NoPublishedWeek, WeekNotPublished, CityNotChosen) as exc:
            fail(str(exc))
        except BROWSER_ERRORS as exc:
            fail(f"report not drawn by Chromium: {exc}", exc)
    for w in written:
        typer.echo(f"周报（{shown(w.city)}，{w.week_start} 起的一周）：")
        for path in w.files:
            typer.echo(f"  {shown(path)}")


@app.command()
def export(
    format: Annotated[str, typer.Option("--format", "-f", help="xlsx, csv or parquet")] = "xlsx",
    week: Annotated[
        str | None, typer.Option(help="Only the published week containing this day, YYYY-MM-DD [default: every week]")
    ] = None,
    city: Annotated[str | None, typer.Option(help="Only this city [default: every city]")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write into", callback=_out_folder)] = Path("."),
    headers: Annotated[
        str, typer.Option(help="zh: Chinese headers (未办结件); en: the columns' own names (unresolved), for SQL")
    ] = "zh",
    all_columns: Annotated[
        bool, typer.Option("--all-columns", help="Also the marts' internal columns (prev_*, unit_list, ids)")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Export the marts as files people open: xlsx (one sheet each), csv (with a BOM) or parquet.

    Chinese headers, the analyst's columns, 是/否 and 新上榜/连续上榜/退出 in xlsx and csv;
    numbers are the marts' own, unrounded. README: Take the marts away.
    """
    from flows.reporting.exports import FORMATS, HEADERS, NothingToExport, export_marts

    if format not in FORMATS:
        fail(f"--format must be {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")
    if headers not in HEADERS:
        raise typer.BadParameter(f"must be {' or '.join(HEADERS)}, not {headers!r}", param_hint="--headers")
    day = parse_day(week, "--week")
    settings = Settings.resolve(None, warehouse)
    with reading(settings) as con:
        try:
            paths = export_marts(con, format, out, city=city, week=day, headers=headers, all_columns=all_columns)
        except NothingToExport as exc:
            fail(str(exc))
    for path in paths:
        typer.echo(shown(path))


@app.command("explain")
def explain_command(
    file: Annotated[Path, typer.Argument(help="The file to explain (any file the inbox takes)")],
    format: Annotated[str, typer.Option("--format", help="text (for people) or json")] = "text",
) -> None:
    """Show how one file is read, writing nothing: decoded text, blocks, tables, formats, checks.

    The tool for adding a city (docs/reference.md: Adding a city): which format claimed each bulletin or
    why none did, the figures and every check with the numbers it compared, the issue date
    and its source, and the status the inbox would record.
    """
    from flows.reporting.explain import explain as explain_file
    from flows.reporting.explain import render_text

    if format not in ("text", "json"):
        raise typer.BadParameter(f"must be text or json, not {format!r}", param_hint="--format")
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    out = explain_file(file.name, data)
    if format == "json":
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1, default=json_default))
    else:
        for line in render_text(out).split("\n"):  # each line made safe for the terminal
            typer.echo(shown(line))
