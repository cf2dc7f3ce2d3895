"""`bulletins status`: every file's status, what left the inbox, what the marts leave out,
and whether each city's feed is still coming (`--fail-if-stale`: exit 3).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Annotated

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import InboxOpt, WarehouseOpt, app, parse_day, reading
from flows.cli.errors import EXIT_STALE, shown
from flows.settings import (
    STALE_AFTER_DAYS,
    Settings,
)


@app.command()
def status(
    warehouse: WarehouseOpt = None,
    inbox: InboxOpt = None,
    stale_after: Annotated[
        int | None,
        typer.Option(
            help="Warn when no new week was published this many days after the latest week's end "
            f"{STALE_AFTER_DAYS.note()}"
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Judge freshness on this day, YYYY-MM-DD [default: today]")] = None,
    fail_if_stale: Annotated[
        bool,
        typer.Option("--fail-if-stale", help=f"Exit {EXIT_STALE} when a feed is stale (for cron jobs and monitors)"),
    ] = False,
) -> None:
    """Files by status, problem files with reasons, bulletins of unknown format, how old the latest week is.

    Entries whose file is no longer in the inbox are listed apart (已移出收件箱) and left out of
    the totals. A stale feed (no new week for longer than --stale-after) is a warning on
    stderr, exit 0; with --fail-if-stale, exit 3. Exit 2 is a mistyped command line only.
    """
    from flows.settings import local_today
    from flows.warehouse.db import verify_readable
    from flows.warehouse.readers.inbox_presence import gone_from_inbox
    from flows.warehouse.readers.shared import inferred_mark
    from flows.warehouse.readers.status import (
        bulletins_left_out,
        files_by_status,
        files_with_status,
        problem_files,
        read_freshness,
        unknown_format_files,
    )

    today = parse_day(as_of, "--as-of") or local_today()
    settings = Settings.resolve(inbox, warehouse)
    # The inbox given, else the one the default layout keeps in the warehouse folder (not
    # ./warehouse/inbox: `status --warehouse elsewhere` must not judge it by another inbox).
    explicit = inbox is not None or bool(os.environ.get("BULLETINS_INBOX"))
    look_in = settings.inbox if explicit else settings.warehouse / "inbox"
    with reading(settings) as con:
        verify_readable(con, settings.db_path)
        gone = gone_from_inbox(con, look_in)
        gone_paths = {g.path for g in gone or []}
        by_status = files_by_status(con, gone_paths)
        problems = problem_files(con, leaving_out=gone_paths)
        forgotten = [f for f in files_with_status(con, "forgotten") if f.path not in gone_paths]
        unknown = unknown_format_files(con)
        left_out = bulletins_left_out(con) or []
        freshness = read_freshness(con, today, stale_after if stale_after is not None else settings.stale_after_days)
    from flows.reporting.labels import status_label
    from flows.reporting.reason_labels import check_detail_label, reason_label
    from flows.reporting.run_summary import freshness_line, stale_warning
    from flows.warehouse.reasons import UNKNOWN_FORMAT

    def reasons(texts: Sequence[str]) -> str:
        return "；".join(reason_label(r) for r in texts)

    def status_cell(status: str) -> str:  # 4 CJK characters wide at most: the paths line up
        return status_label(status) + "　" * max(0, 4 - len(status_label(status)))

    counts = "，".join(f"{status_label(s)} {n}" for s, n in by_status.items()) or "无"
    typer.echo(f"各状态文件数：{counts}")
    if gone is None and explicit:
        what = "无法列出" if str(look_in).startswith("s3://") else "不是文件夹"
        typer.echo(f"注意：收件箱 {look_in} {what}，未核对哪些文件已移出（--inbox）")
    elif gone:
        typer.echo(f"已移出收件箱（不计入上面的合计）：{len(gone)} 个；其记录留在仓库里，直到 `bulletins forget`：")
        for p in gone:
            typer.echo(shown(f"  {status_cell(p.status)} {p.path}"))
    if forgotten:
        typer.echo("已撤回的文件（`bulletins forget --undo` 可恢复）：")
        for p in forgotten:
            typer.echo(shown(f"  {p.path}：{reason_label(p.reasons[0]) if p.reasons else ''}"))
    if problems:
        typer.echo("部分入库、已隔离和未读取的文件：")
        for p in problems:
            typer.echo(shown(f"  {status_cell(p.status)} {p.path}：{reasons(p.reasons)}"))
    if unknown:
        typer.echo("未知格式的通报（正文已作为文章入库；docs/reference.md：Adding a city）：")
        for p in unknown:
            details = (check_detail_label(r.removeprefix(f"{UNKNOWN_FORMAT}: ")) for r in p.reasons)
            typer.echo(shown(f"  {p.path}：{'；'.join(details)}"))
    if left_out:
        typer.echo("未计入统计表（marts）的通报：")
        for b in left_out:
            typer.echo(
                shown(
                    f"  {b.city or '?'} {b.period_start or '?'} 起的一周"
                    f"（{b.issue_date or '?'} 刊{inferred_mark(b.issue_date_source) if b.issue_date else ''}）"
                    f"，文件 {b.path}：{reasons(b.reasons)}"
                )
            )
    stale = False
    for city in freshness:
        typer.echo(shown(freshness_line(city)))
    for city in freshness:
        if warning := stale_warning(city):
            typer.echo(f"warning: {shown(warning)}", err=True)
            stale = True
    if stale and fail_if_stale:
        raise typer.Exit(code=EXIT_STALE)
