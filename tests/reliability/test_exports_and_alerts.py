"""Issue 16, part 3 and finding 6: exports and alerts that cannot be turned against their readers.

- a real `bulletins run` whose webhook fails (HTTP 500, then a port nobody listens on), its
  URL carrying `key=` and `access_token=`: the secrets appear nowhere, not on the terminal,
  in the run's Prefect logs and artifacts, or in any file of the warehouse;
- the same run takes in a file whose name holds an OSC 52 "write the clipboard"
  sequence and a Markdown link: the terminal gets no control character, the artifacts no link;
- `bulletins export` of units named like formulas: no xlsx formula, CSV escaped.
"""

from __future__ import annotations

import csv
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hostile_names import FORMULA_NAMES, OSC52, assert_inert, build_hostile_warehouse
from pipeline_helpers import bulletins, make_inbox
from prefect_server import SESSION_DIR_VAR
from webhooks import SECRET_URL_QUERY, Answering, free_port

from flows.text.escape import terminal

SECRETS = ("SECRET123", "SECRET456")
HOSTILE_FILE = f"空{OSC52}[x](javascript:alert(1)) <img src=x onerror=alert(1)>.txt"


def files_holding(root: Path, needles: tuple[str, ...]) -> list[str]:
    """Files under `root` whose bytes hold any of `needles` (as UTF-8)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n}" for n in needles if n.encode() in data]
    return found


def prefect_texts(warehouse: Path, since: datetime) -> list[str]:
    """The log messages and artifacts (data and descriptions) of this warehouse's runs in the session's Prefect."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)))
        ids = [r.id for r in runs if (r.parameters or {}).get("warehouse") == str(warehouse)]
        assert ids, "the runs are not in the session's Prefect"
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(), flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
        )
        states = [r.state.message or "" for r in runs if r.id in ids and r.state is not None]
    texts = [log.message for log in logs] + states
    for artifact in artifacts:
        texts += [str(artifact.data), artifact.description or ""]
    return texts


@pytest.mark.slow  # two real `bulletins run` in subprocesses
def test_a_failing_webhook_leaks_no_secret_and_a_hostile_name_no_control_sequence(
    prefect_harness: str, tmp_path: Path, reliability
) -> None:
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    (inbox / HOSTILE_FILE).write_bytes(b"")  # quarantined: listed by the run, notified
    since = datetime.now(UTC)
    receiver = Answering(status=500)
    unreachable = f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?{SECRET_URL_QUERY}"
    outputs = []
    try:
        for url in (receiver.url, unreachable):
            result = bulletins(
                "run",
                "--inbox",
                str(inbox),
                "--warehouse",
                str(wh),
                env={
                    "PREFECT_API_URL": prefect_harness,
                    "BULLETINS_NOTIFY_URL": url,
                    "BULLETINS_STALE_AFTER_DAYS": "14",  # the 2021 weeks are stale: a notice every run
                },
            )
            outputs.append(result)
    finally:
        receiver.close()

    for result in outputs:
        printed = result.stdout + result.stderr
        assert result.returncode == 0, printed
        warnings = [line for line in result.stderr.splitlines() if "通知未发出" in line]
        assert warnings and all("key=***&access_token=***" in w for w in warnings), printed
        assert not [s for s in SECRETS if s in printed], printed
        assert "\x1b" not in printed and "\x07" not in printed
    first = outputs[0].stdout
    assert terminal(HOSTILE_FILE) in first  # the problem line, its name escaped

    leaked_files = files_holding(wh, SECRETS)
    # Everything Prefect stored (task runs' inputs, states, logs, artifacts): its database files.
    leaked_files += files_holding(Path(os.environ[SESSION_DIR_VAR]), SECRETS)
    texts = prefect_texts(wh, since)
    leaked_prefect = [t for t in texts if any(s in t for s in SECRETS)]
    summaries = [t for t in texts if t.startswith("# 本次运行（bulletin-etl）")]
    reliability.record(
        "16 secrets in a failing webhook's URL",
        "bulletins run twice, webhook key=/access_token= answering 500, then unreachable",
        f"secret on the terminal 0/2 runs, in warehouse files {len(leaked_files)}, "
        f"in Prefect logs/artifacts {len(leaked_prefect)} of {len(texts)} texts",
        not leaked_files and not leaked_prefect,
    )
    assert leaked_files == [] and leaked_prefect == []
    assert summaries and all("key=\\*\\*\\*" in s for s in summaries)

    as_text = [s for s in summaries if inert(s)]
    named = [s for s in summaries if "空\\\\x1b" in s]  # the first run's, listing its quarantined file
    ok = len(as_text) == len(summaries) and len(named) == 1
    reliability.record(
        "16 control sequence and Markdown in a file name",
        "an inbox file named with OSC 52 (write the clipboard), a Markdown link and an <img> tag",
        f"ESC on the terminal: 0 of 2 runs; summary artifacts with no link, HTML or ESC: {len(as_text)} of "
        f"{len(summaries)}, the name shown escaped in {len(named)}",
        ok,
    )
    assert ok, summaries


def inert(markdown: str) -> bool:
    """No link or HTML of a page's making, no control character, in the Markdown."""
    try:
        assert_inert(markdown)
    except AssertionError:
        return False
    return True


def test_units_named_like_formulas_stay_text_in_xlsx_and_csv(tmp_path: Path, reliability) -> None:
    from openpyxl import load_workbook

    db = build_hostile_warehouse(tmp_path / "wh" / "bulletins.duckdb")
    out = tmp_path / "out"
    for fmt in ("xlsx", "csv"):
        result = bulletins("export", "--format", fmt, "--warehouse", str(db.parent), "--out", str(out), timeout=120)
        assert result.returncode == 0, result.stderr
    book = out / "bulletins-marts.xlsx"
    with zipfile.ZipFile(book) as archive:
        formulas = sum(
            archive.read(n).decode().count("<f") for n in archive.namelist() if n.startswith("xl/worksheets/sheet")
        )
    sheet = load_workbook(book)["单位周表现"]
    column = [c.value for c in sheet[1]].index("单位")
    names = {row[column].value for row in sheet.iter_rows(min_row=2)}
    text_cells = sum(1 for n in FORMULA_NAMES if n in names)
    with (out / "unit_week_performance.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    escaped = sum(1 for n in FORMULA_NAMES if any(r["单位"] == f"'{n}" for r in rows))
    ok = formulas == 0 and text_cells == escaped == len(FORMULA_NAMES)
    reliability.record(
        "16 unit names that are spreadsheet formulas",
        "units =市城管局+驿城区政府, @SUM(1), +1, -1+2 exported as xlsx and csv",
        f"xlsx: {formulas} formula cells, {text_cells}/{len(FORMULA_NAMES)} names as text; "
        f"csv: {escaped}/{len(FORMULA_NAMES)} behind a quote",
        ok,
    )
    assert ok
