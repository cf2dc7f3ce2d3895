"""Issue 16, corrections on record: forget / accept / their undo against reruns and `rebuild`.

A decision lives in the lake (lake/_corrections) and is applied by the same run
`bulletins run` starts, so nothing a run or a rebuild does may bring forgotten rows back,
drop an accepted week, or leave a trace of a decision once it is undone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from ops_helpers import make_inbox, snapshot
from testdata import SAMPLE_PAGE
from typer.testing import CliRunner

from flows.cli import app
from flows.warehouse.locks import run_lock

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()

FORGOTTEN = "2020-12-30_synthetic_week_2020-12-21.txt"
NOTE = "市数字城管中心电话确认"


def failing_sample() -> str:
    """The real page with one unit misprinted (8 -> 7): it fails units_sum_to_overdue only."""
    return SAMPLE_PAGE.read_text(encoding="utf-8").replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件")


@pytest.fixture(scope="module")
def ran_once(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corrections")
    inbox = make_inbox(root / "inbox")
    (inbox / SAMPLE_PAGE.name).write_text(failing_sample(), encoding="utf-8")
    result = runner.invoke(app, ["run", "--inbox", str(inbox), "--warehouse", str(root / "wh")])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def ran(ran_once: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(ran_once, tmp_path, dirs_exist_ok=True, symlinks=True)
    return tmp_path / "inbox", tmp_path / "wh"


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def rows_of(wh: Path, sha: str) -> int:
    """Rows of the content in the models: articles, bulletins, units."""
    con = duckdb.connect(str(wh / "bulletins.duckdb"), read_only=True)
    try:
        return sum(
            con.execute(f"select count(*) from {t} where file_sha256 = ?", [sha]).fetchall()[0][0]
            for t in ("core.articles", "core.bulletins", "core.bulletin_units")
        )
    finally:
        con.close()


def published(wh: Path) -> list[str]:
    con = duckdb.connect(str(wh / "bulletins.duckdb"), read_only=True)
    try:
        return [
            str(r[0]) for r in con.execute("select week_start from marts.city_week_performance order by 1").fetchall()
        ]
    finally:
        con.close()


def test_forgotten_rows_stay_out_through_reruns_touches_copies_and_rebuilds(
    ran: tuple[Path, Path], reliability
) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    sha = hashlib.sha256((inbox / FORGOTTEN).read_bytes()).hexdigest()
    assert rows_of(wh, sha) > 0
    assert invoke("forget", FORGOTTEN, "--note", NOTE, *where).exit_code == 0
    tries, back = 0, []
    steps: list[tuple[str, list[str]]] = [("rerun", ["run", *where])] * reliability.scale(2, 5)
    steps += [("rebuild", ["rebuild", "--warehouse", str(wh)]), ("touch", ["run", *where])]
    steps += [("copy", ["run", *where]), ("rebuild", ["rebuild", "--warehouse", str(wh)])]
    for what, args in steps:
        if what == "touch":
            os.utime(inbox / FORGOTTEN, ns=(1, 1))  # mtime changed: read and hashed again
        if what == "copy":
            shutil.copyfile(inbox / FORGOTTEN, inbox / "copy-of-forgotten.txt")
        result = invoke(*args)
        assert result.exit_code == 0, (what, result.output)
        tries += 1
        if rows_of(wh, sha) or "2020-12-21" in published(wh):
            back.append(what)
    reliability.record(
        "16 forget against reruns and rebuild",
        f"forget a week's file, then {tries} steps: reruns, rebuilds, its mtime changed, its bytes copied under a new name",
        f"rows back after {len(back)}/{tries} steps ({', '.join(back) or 'none'})",
        not back,
    )
    assert back == []


def test_undo_gives_back_the_warehouse_row_for_row_even_after_a_rebuild(ran: tuple[Path, Path], reliability) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    before = snapshot(wh / "bulletins.duckdb")
    assert invoke("forget", FORGOTTEN, str(inbox / SAMPLE_PAGE.name), "--note", NOTE, *where).exit_code == 0
    forgotten = snapshot(wh / "bulletins.duckdb")
    assert invoke("forget", "--undo", FORGOTTEN, SAMPLE_PAGE.name, *where).exit_code == 0
    after_undo = snapshot(wh / "bulletins.duckdb")
    assert invoke("rebuild", "--warehouse", str(wh)).exit_code == 0
    after_rebuild = snapshot(wh / "bulletins.duckdb")
    differ = [t for t in before if before[t] != after_undo.get(t) or before[t] != after_rebuild.get(t)]
    reliability.record(
        "16 forget --undo against rebuild",
        "forget two files (one partial), undo, rebuild; every core and mart relation compared with before",
        f"{len(before)} relations, {len(differ)} differ ({', '.join(differ) or 'none'}); forgetting changed "
        f"{sum(before[t] != forgotten.get(t) for t in before)}",
        not differ,
    )
    assert differ == []


def test_an_accepted_week_stays_published_through_reruns_and_rebuilds_until_undone(
    ran: tuple[Path, Path], reliability
) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    accept = ["accept", SAMPLE_PAGE.name, "--check", "units_sum_to_overdue"]
    assert "2020-12-14" not in published(wh)
    assert invoke(*accept, "--note", NOTE, *where).exit_code == 0
    seen = [published(wh)]
    for args in (["run", *where], ["rebuild", "--warehouse", str(wh)], ["run", *where]):
        assert invoke(*args).exit_code == 0
        seen.append(published(wh))
    kept = sum("2020-12-14" in weeks for weeks in seen)
    assert invoke(*accept, "--undo", *where).exit_code == 0
    assert invoke("rebuild", "--warehouse", str(wh)).exit_code == 0
    withdrawn = "2020-12-14" not in published(wh)
    again = invoke(*accept, "--note", NOTE, *where)  # accepted again after the undo: published again
    reliability.record(
        "16 accept against reruns and rebuild",
        "accept a failed check, then run, rebuild, run; undo and rebuild; accept again",
        f"published after {kept}/{len(seen)} steps; withdrawn after undo + rebuild: {withdrawn}; "
        f"accepted again: exit {again.exit_code}",
        kept == len(seen) and withdrawn and again.exit_code == 0,
    )
    assert kept == len(seen) and withdrawn and again.exit_code == 0
    assert "2020-12-14" in published(wh)


def test_a_damaged_decision_file_never_stops_a_run_and_the_others_apply(ran: tuple[Path, Path], reliability) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    assert invoke("forget", FORGOTTEN, "--note", NOTE, *where).exit_code == 0
    folder = wh / "lake" / "_corrections"
    (folder / "hand-edited.json").write_text('{"action": "forget", "files": [', encoding="utf-8")
    (folder / "20990101T000000000000Z-deadbeef.json").write_bytes(os.urandom(256))
    (folder / ".20990101T000000000000Z-00000000.json.tmp").write_text("{", encoding="utf-8")  # a write cut short
    results = [invoke("run", *where), invoke("rebuild", "--warehouse", str(wh))]
    codes = [r.exit_code for r in results]
    sha = hashlib.sha256((inbox / FORGOTTEN).read_bytes()).hexdigest()
    still_out = rows_of(wh, sha) == 0
    reliability.record(
        "16 damaged decision files",
        "a hand-edited and a random-bytes file, and a cut-short temporary one, in lake/_corrections",
        f"run and rebuild exit {codes}; the sound decision applied: {still_out}",
        codes == [0, 0] and still_out,
    )
    assert codes == [0, 0] and still_out


def test_a_decision_while_a_run_holds_the_lock_is_refused_whole(
    ran: tuple[Path, Path], reliability, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, wh = ran
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "0.5")
    with run_lock(wh / ".bulletins-run.lock", wait_s=0):
        result = invoke("forget", FORGOTTEN, "--note", NOTE, "--inbox", str(inbox), "--warehouse", str(wh))
    recorded = (wh / "lake" / "_corrections").exists()
    one_line = len(result.output.splitlines()) == 1 and result.output.startswith("error: another bulletin-etl run")
    reliability.record(
        "16 decision while a run holds the lock",
        "bulletins forget while another run holds the run lock past BULLETINS_LOCK_TIMEOUT_S",
        f"exit {result.exit_code}, one error line: {one_line}, decision recorded: {recorded}",
        result.exit_code == 1 and one_line and not recorded,
    )
    assert result.exit_code == 1 and one_line and not recorded, result.output
