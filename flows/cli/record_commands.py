"""`bulletins rebuild`, `forget` and `accept`: the warehouse rebuilt from the lake, and
decisions on record, applied by a run at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

# Typer 0.29 vendors click as typer._click: its exceptions are these, not click's.
from flows.cli.common import InboxOpt, LakeOpt, WarehouseOpt, app, check_inbox, check_lake, reading
from flows.cli.errors import describe_error, fail, shown
from flows.cli.run_command import run
from flows.settings import Settings, SettingsError


@app.command()
def rebuild(warehouse: WarehouseOpt = None, lake: LakeOpt = None) -> None:
    """Rebuild the DuckDB file from the lake's Delta tables (the lake is the source of truth)."""
    from flows.warehouse.build import rebuild_warehouse

    settings = Settings.resolve(None, warehouse, lake=lake)
    if not settings.publish:  # the DuckDB file is another host's (docs/workers.md)
        fail("this host ingests only (BULLETINS_PUBLISH=0): rebuild on the host that owns the DuckDB file")
    check_lake(settings)  # it records what it loaded and writes the marts' copy there
    try:
        result = rebuild_warehouse(settings)
    except Exception as exc:
        fail(f"rebuild failed: {describe_error(exc, settings.warehouse)}", exc)
    typer.echo(f"已从湖中 {result.batches} 个批次重建 {settings.db_path}")
    if result.marts_not_exported:
        typer.echo(f"warning: 统计表在湖中的副本（Delta 表）未写入：{result.marts_not_exported}", err=True)
    for problem in result.problems:
        typer.echo(f"warning: {shown(problem.line())}", err=True)
    if result.left_out:
        typer.echo(
            f"warning: {len(result.left_out)} 个湖批次未读入：`bulletins run` 会从收件箱重新解析其文件"
            "（原因见 lake/_quarantine/quarantine.log）",
            err=True,
        )


@app.command("maintain")
def maintain_command(
    warehouse: WarehouseOpt = None,
    lake: LakeOpt = None,
    retention_hours: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Keep files older versions read for this many hours [default: BULLETINS_LAKE_RETENTION_HOURS or 168]",
        ),
    ] = None,
) -> None:
    """Compact the lake's small files and vacuum what no version within the retention reads (under the run lock)."""
    from flows.warehouse import lake_store
    from flows.warehouse import maintain as lake_maintenance

    settings = Settings.resolve(None, warehouse, lake=lake)
    check_lake(settings)
    if not lake_store.exists(settings.lake_dir):
        fail(f"no lake at {settings.lake_dir}: nothing to maintain (is --warehouse the right folder?)")
    try:
        result = lake_maintenance.maintain(settings, retention_hours)
    except SettingsError:  # BULLETINS_LAKE_RETENTION_HOURS that is no number of hours: one line, exit 2
        raise
    except Exception as exc:
        fail(f"maintain failed: {describe_error(exc, settings.warehouse)}", exc)
    for line in result.lines():
        typer.echo(line)


NoteOpt = Annotated[str | None, typer.Option(help="Why, kept on record with who and when (required, but with --undo)")]
ByOpt = Annotated[str | None, typer.Option(help="Who decides [default: the OS user]")]


def _decide(settings: Settings, undo: bool, note: str | None, by: str | None, choose: Any) -> None:
    """Record a decision (corrections on record), then apply it with a run: `bulletins run`'s own path.

    Under the run lock: the files named are checked against the published warehouse and
    the decisions in the lake, and the decision is written to lake/_corrections. Then
    the same run `bulletins run` starts loads it (and whatever else is new in the inbox).
    """
    from flows.reporting.labels import DECISION_LABELS
    from flows.reporting.reason_labels import check_label
    from flows.warehouse import correction_targets, corrections
    from flows.warehouse.locks import run_lock

    if not undo and not (note and note.strip()):
        raise typer.BadParameter("say why: it is kept on record with who and when", param_hint="--note")
    if not settings.db_path.exists():
        fail(f"no warehouse at {settings.db_path}: run `bulletins run` first")
    # The run that applies the decision reads the inbox.
    check_inbox(settings, ": the run that applies the decision needs it (--inbox)")
    with run_lock(settings.run_lock_path, wait_s=settings.lock_timeout_s):
        decisions = corrections.read_decisions(settings.lake_dir)
        with reading(settings) as con:
            try:
                action, targets = choose(con, decisions)
            except correction_targets.CorrectionRefused as exc:
                fail(str(exc))
        written = corrections.write_decision(
            settings.lake_dir, action, targets, (note or "").strip(), by or corrections.operator()
        )
    for t in targets:
        check = f"校验 {check_label(t.check_name)}，" if t.check_name else ""
        typer.echo(shown(f"{DECISION_LABELS[action]}：{check}{t.path or '?'}（sha256 {t.file_sha256[:12]}…）"))
    typer.echo(f"决定已记录于 {written}；现在运行一次来应用它")
    run(inbox=str(settings.inbox), warehouse=settings.warehouse, lake=str(settings.lake_dir))
    with reading(settings) as con:
        if not corrections.applied(con, written.stem):
            fail(f"决定已记录（{written.name}），但还没有运行应用它：下一次 `bulletins run` 会应用")


@app.command()
def forget(
    files: Annotated[list[str], typer.Argument(help="Inbox paths (relative to the inbox, or absolute) or sha256s")],
    note: NoteOpt = None,
    by: ByOpt = None,
    undo: Annotated[bool, typer.Option("--undo", help="Take forgotten files back")] = False,
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
    lake: LakeOpt = None,
) -> None:
    """Take files' rows out of the warehouse, on record: articles, bulletins, units, marts.

    The decision is kept in the lake (lake/_corrections), so neither `rebuild` nor a later
    run brings the rows back while the file stays in the inbox; the entry stays recorded
    as `forgotten`, with who, when and why. --undo takes the files back.
    """
    from flows.warehouse import correction_targets, corrections

    settings = Settings.resolve(inbox, warehouse, lake=lake)
    check_lake(settings)

    def choose(con: Any, decisions: Any) -> tuple[str, list[Any]]:
        targets = correction_targets.files_to_forget(con, settings.inbox, files, decisions, undo=undo)
        return (corrections.UNFORGET if undo else corrections.FORGET), targets

    _decide(settings, undo, note, by, choose)


@app.command()
def accept(
    file: Annotated[str, typer.Argument(help="An inbox path (relative to the inbox, or absolute) or a sha256")],
    check: Annotated[str, typer.Option(help="The failed check to accept, e.g. units_sum_to_overdue")],
    note: NoteOpt = None,
    by: ByOpt = None,
    undo: Annotated[bool, typer.Option("--undo", help="Withdraw the acceptance")] = False,
    inbox: InboxOpt = None,
    warehouse: WarehouseOpt = None,
    lake: LakeOpt = None,
) -> None:
    """Publish a bulletin despite a failed check, on record (who, when, why).

    Its week enters the marts and the weekly report says "经人工确认：<note>". Accepting
    a check the file's bulletins did not fail is an error. --undo withdraws it.
    """
    from flows.warehouse import correction_targets, corrections

    settings = Settings.resolve(inbox, warehouse, lake=lake)
    check_lake(settings)

    def choose(con: Any, decisions: Any) -> tuple[str, list[Any]]:
        target = correction_targets.file_to_accept(con, settings.inbox, file, check, decisions, undo=undo)
        return (corrections.UNACCEPT if undo else corrections.ACCEPT), [target]

    _decide(settings, undo, note, by, choose)
