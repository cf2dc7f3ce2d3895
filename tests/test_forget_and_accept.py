"""Corrections on record: forget and accept (and their undoing), failed-check weeks, entries gone.

Golden values are written out: the SQL over the marts timeline (tests/fixtures/marts), the
weekly report of the bundled inbox whose real page fails one check, `bulletins status`,
and the commands themselves (`bulletins forget`, `accept`) through the run they start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pipeline_helpers import load_without_prefect, make_inbox, snapshot
from test_marts_golden import (
    A3,
    A5,
    A6,
    CITY_COLUMNS,
    TIMELINE_CITY_WEEKS,
    TIMELINE_UNIT_WEEKS,
    UNIT_COLUMNS,
    assert_rows,
    fetch,
    zhumadian,
)
from testdata import SAMPLE_PAGE, build_models
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.report_context import render_markdown
from flows.reporting.report_html import gap_runs, render_html, unit_trend_chart
from flows.reporting.weekly_report import read_weekly_report
from flows.warehouse import correction_targets, corrections, datatests
from flows.warehouse.corrections import Correction, DecidedFile, Decisions
from flows.warehouse.db import connection

D = dt.date
UTC = dt.UTC
ZMD = "驻马店"
runner = CliRunner()
SHA = {n: f"a{n}".ljust(64, "0") for n in range(1, 8)}
DECIDED = dt.datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def correction(n: int, action: str, file: int, check: str | None = None, minutes: int = 0) -> Correction:
    at = DECIDED + dt.timedelta(minutes=minutes)
    return Correction(f"d{n}/1", f"d{n}", action, SHA[file], f"f{file}.txt", check, f"note {n}", "张三", at)


def apply(con: duckdb.DuckDBPyConnection, *decided: Correction) -> None:
    """Load the corrections as a build does, and rebuild the models."""
    corrections.load(con, Decisions(list(decided), []))
    build_models(con)


# ------------------------------------------------------------------ the SQL, on the golden timeline


def test_a_week_whose_only_bulletin_failed_is_a_failed_week_not_a_missing_one(
    timeline: duckdb.DuckDBPyConnection,
) -> None:
    rows = timeline.execute("select * from core.failed_weeks order by week_start").fetchall()
    assert rows == [
        (ZMD, D(2020, 12, 21), D(2020, 12, 27), None, A3, SHA[3], D(2020, 12, 29), ["units_sum_to_overdue"], 1)
    ]
    weeks = timeline.execute(
        "select week_start, prev_week_published, prev_week_status, prev_week_failed_checks "
        "from marts.city_week_performance order by week_start"
    ).fetchall()
    assert weeks == [
        (D(2020, 12, 7), False, "not_published", None),
        (D(2020, 12, 14), True, "published", None),
        (D(2020, 12, 28), False, "failed_checks", "units_sum_to_overdue"),
        (D(2021, 1, 4), True, "published", None),
    ]


def test_a_forgotten_file_leaves_every_model_and_undo_restores_them_row_for_row(
    timeline: duckdb.DuckDBPyConnection,
) -> None:
    before = {r: fetch(timeline, r, "all") for r in ("marts.city_week_performance", "marts.unit_week_performance")}
    apply(timeline, correction(1, "forget", 6))
    for relation in ("core.articles", "core.bulletins", "core.bulletin_units"):
        assert timeline.execute(f"select count(*) from {relation} where file_sha256 = ?", [SHA[6]]).fetchall() == [(0,)]
    columns, rows = fetch(timeline, "marts.city_week_performance", "week_start")
    assert_rows(columns, rows, CITY_COLUMNS, zhumadian([w for w in TIMELINE_CITY_WEEKS if w["bulletin_id"] != A6]))
    columns, rows = fetch(timeline, "marts.unit_week_performance", "week_start, unit_name")
    expected = sorted(
        (w for w in TIMELINE_UNIT_WEEKS if w["week_start"] != D(2021, 1, 4)),
        key=lambda r: (r["week_start"], r["unit_name"]),
    )
    assert_rows(columns, rows, UNIT_COLUMNS, zhumadian(expected))
    # the failing reprint a7 is all that is left of 2021-01-04: a failed week now
    assert timeline.execute("select week_start, bulletin_id from core.failed_weeks order by 1").fetchall() == [
        (D(2020, 12, 21), A3),
        (D(2021, 1, 4), "a700000000000000-1"),
    ]
    # both paths of that content are forgotten, who, when and why first
    files = timeline.execute(
        "select path, status, reasons from core.files where file_sha256 = ? order by path", [SHA[6]]
    )
    assert files.fetchall() == [
        ("2021-01-12.txt", "forgotten", ["forgotten on record by 张三 at 2026-12-04 08:00 UTC: note 1"]),
        (
            "copy/2021-01-12.txt",
            "forgotten",
            ["forgotten on record by 张三 at 2026-12-04 08:00 UTC: note 1", "same bytes as 2021-01-12.txt"],
        ),
    ]
    assert datatests.run_data_tests(timeline) == []

    apply(timeline, correction(1, "forget", 6), correction(2, "unforget", 6, minutes=1))
    assert {r: fetch(timeline, r, "all") for r in before} == before
    statuses = timeline.execute("select path, status from core.files where file_sha256 = ? order by path", [SHA[6]])
    assert statuses.fetchall() == [("2021-01-12.txt", "loaded"), ("copy/2021-01-12.txt", "duplicate")]


@pytest.mark.scenario
def test_an_accepted_check_publishes_the_bulletin_and_the_week_after_compares_with_it(
    timeline: duckdb.DuckDBPyConnection,
) -> None:
    apply(timeline, correction(1, "accept", 3, "units_sum_to_overdue"))
    assert timeline.execute(
        "select failed_checks, accepted_checks, passes_checks from core.bulletins where bulletin_id = ?", [A3]
    ).fetchall() == [(["units_sum_to_overdue"], ["units_sum_to_overdue"], True)]
    assert timeline.execute("select * from core.bulletin_acceptances").fetchall() == [
        (A3, SHA[3], ZMD, D(2020, 12, 21), "units_sum_to_overdue", "note 1", "张三", DECIDED, "d1")
    ]
    assert timeline.execute("select status, reasons from core.files where file_sha256 = ?", [SHA[3]]).fetchall() == [
        (
            "loaded",
            [
                "bulletin 1 failed checks: units_sum_to_overdue",
                "accepted on record: bulletin (2020-12-21): units_sum_to_overdue by 张三 at 2026-12-04 08:00 UTC: note 1",
            ],
        )
    ]
    columns, rows = fetch(timeline, "marts.city_week_performance", "week_start")
    w3 = {"week_start": D(2020, 12, 21), "week_end": D(2020, 12, 27), "received": 4200, "due": 5100, "closed": 4600, "in_progress": 250, "overdue": 150, "disputed": 100,
          "closure_rate": 4600 / 5100, "closure_rate_published": 0.902, "prev_week_published": True, "prev_closure_rate": 5184 / 5723,
          "closure_rate_change_pp": (4600 / 5100 - 5184 / 5723) * 100, "overdue_change": 150 - 131, "disputed_change": 100 - 176, "units_on_list": 2,
          "units_entered": 0, "units_left": 3, "top3_overdue_share": (70 + 45) / 150, "linked_units": 18, "overdue_units": 2,
          "bulletin_id": A3, "issue_date": D(2020, 12, 29), "prev_week_status": "published", "prev_week_failed_checks": None}  # fmt: skip
    w4 = {**TIMELINE_CITY_WEEKS[2], "prev_week_published": True, "prev_closure_rate": 4600 / 5100,
          "closure_rate_change_pp": (4400 / 5000 - 4600 / 5100) * 100, "overdue_change": 120 - 150, "disputed_change": 180 - 100,
          "units_entered": 1, "units_left": 0, "prev_week_status": "published", "prev_week_failed_checks": None}  # fmt: skip
    assert w4["bulletin_id"] == A5
    expected = [TIMELINE_CITY_WEEKS[0], TIMELINE_CITY_WEEKS[1], w3, w4, TIMELINE_CITY_WEEKS[3]]
    assert_rows(columns, rows, CITY_COLUMNS, zhumadian(expected))
    assert timeline.execute("select count(*) from core.failed_weeks").fetchall() == [(0,)]
    assert datatests.run_data_tests(timeline) == []

    # withdrawn: the week is a failed week again, as before
    apply(
        timeline,
        correction(1, "accept", 3, "units_sum_to_overdue"),
        correction(2, "unaccept", 3, "units_sum_to_overdue", 5),
    )
    columns, rows = fetch(timeline, "marts.city_week_performance", "week_start")
    assert_rows(columns, rows, CITY_COLUMNS, zhumadian(TIMELINE_CITY_WEEKS))
    assert timeline.execute("select count(*) from core.bulletin_acceptances").fetchall() == [(0,)]


def test_accepting_one_of_two_failed_checks_publishes_nothing(timeline: duckdb.DuckDBPyConnection) -> None:
    timeline.execute(
        "update raw.bulletins set failed_checks = ['units_sum_to_overdue', 'closure_rate_matches'] where bulletin_id = ?",
        [A3],
    )
    apply(timeline, correction(1, "accept", 3, "units_sum_to_overdue"))
    assert timeline.execute(
        "select passes_checks, accepted_checks from core.bulletins where bulletin_id = ?", [A3]
    ).fetchall() == [(False, ["units_sum_to_overdue"])]
    assert timeline.execute("select failed_checks from core.failed_weeks").fetchall() == [(["closure_rate_matches"],)]
    assert timeline.execute("select status from core.files where file_sha256 = ?", [SHA[3]]).fetchall() == [
        ("partial",)
    ]


# ------------------------------------------------------------------ the lake's decisions


def test_decisions_are_files_in_the_lake_and_the_latest_on_a_key_stands(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = corrections.write_decision(lake, "forget", [DecidedFile(SHA[1], "a.txt")], "wrong page", "张三", DECIDED)
    corrections.write_decision(lake, "unforget", [DecidedFile(SHA[1], "a.txt")], "", "李四", DECIDED + dt.timedelta(1))
    corrections.write_decision(
        lake, "accept", [DecidedFile(SHA[2], "b.txt", "units_sum_to_overdue")], "ok", "张三", DECIDED + dt.timedelta(2)
    )
    assert first.parent == lake / "_corrections" and first.name.startswith("20261204T080000000000Z-")
    decisions = corrections.read_decisions(lake)
    assert [(c.action, c.decided_by) for c in decisions.corrections] == [
        ("forget", "张三"),
        ("unforget", "李四"),
        ("accept", "张三"),
    ]
    assert decisions.forgotten(SHA[1]) is None
    assert decisions.accepted(SHA[2], "units_sum_to_overdue") is not None
    assert decisions.accepted(SHA[2], "closure_rate_matches") is None
    fingerprint = decisions.fingerprint()
    assert corrections.state_fingerprint("sql", decisions) not in (
        "sql",
        corrections.state_fingerprint("sql2", decisions),
    )
    # a decision file that is not one we wrote is not applied, and never stops a build
    (lake / "_corrections" / "garbage.json").write_text("{not json", encoding="utf-8")
    (lake / "_corrections" / ".20261206T000000000000Z-00000000.json.tmp").write_text("{", encoding="utf-8")
    again = corrections.read_decisions(lake)
    assert again.fingerprint() == fingerprint
    assert [u.split(":")[0] for u in again.unreadable] == ["_corrections/garbage.json"]


def test_a_decision_rebuilds_the_models_with_no_new_file(tmp_path: Path) -> None:
    """The corrections are part of what the models are built from: a build after a decision
    is not 'nothing new', and one after nothing changed is."""
    inbox = make_inbox(tmp_path / "inbox", [SAMPLE_PAGE.name])
    db = load_without_prefect(inbox, tmp_path / "wh")
    sha = hashlib.sha256((inbox / SAMPLE_PAGE.name).read_bytes()).hexdigest()
    corrections.write_decision(tmp_path / "wh" / "lake", "forget", [DecidedFile(sha, SAMPLE_PAGE.name)], "x", "张三")
    load_without_prefect(inbox, tmp_path / "wh")
    with connection(db, read_only=True) as con:
        assert con.execute("select count(*) from marts.city_week_performance").fetchall() == [(0,)]
        assert con.execute("select status from core.files").fetchall() == [("forgotten",)]


# ------------------------------------------------------------------ the weekly report


def failing_sample() -> str:
    """The real page with one unit's unresolved misprinted (8 -> 7): the units add up to 130,
    not the 131 printed as overdue, so the bulletin fails units_sum_to_overdue and nothing else."""
    text = SAMPLE_PAGE.read_text(encoding="utf-8")
    assert "驿城区政府\t1013件\t8件" in text
    return text.replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t7件")


@pytest.fixture(scope="module")
def failed_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The bundled inbox whose real page (week 2020-12-14) fails units_sum_to_overdue: (inbox, warehouse, its sha)."""
    root = tmp_path_factory.mktemp("failed-week")
    inbox = make_inbox(root / "inbox")
    (inbox / SAMPLE_PAGE.name).write_text(failing_sample(), encoding="utf-8")
    load_without_prefect(inbox, root / "wh")
    return inbox, root / "wh", hashlib.sha256(failing_sample().encode()).hexdigest()


NUMBERS = "units_sum_to_overdue（各单位未办结件合计 130 件，通报的超时未办结 131 件；原文第101–114行、第95行）"


def test_the_week_after_a_failed_week_says_so_never_unpublished(failed_week: tuple[Path, Path, str]) -> None:
    _, wh, sha = failed_week
    with connection(wh / "bulletins.duckdb", read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2020, 12, 21))
    markdown = render_markdown(report)
    assert report.city.prev_week_status == "failed_checks"
    assert (
        f"上一周（2020年12月14日—12月20日）的通报未通过校验：{NUMBERS}，不能比较："
        "变化一栏为「—」，连续上榜周数从本周重新计算。"
    ) in markdown
    assert "| 2020-12-14 | 通报未通过校验 | 通报未通过校验 | — |" in markdown
    assert "| 中国电信驻马店分公司 | 61 | 通报未通过校验 | 52 |" in markdown
    assert "| 2020-12-14 | 《驻马店日报》2020年12月22日「时政要闻」版，刊发日期（推断）（通报未通过校验） |" in markdown
    assert f"| 2020-12-14 | {SAMPLE_PAGE.name} | {sha[:16]}-1 |" in markdown  # the file, in the closing note
    assert f"2020-12-14 起的一周的通报未通过校验：{NUMBERS}，图中留空。" in markdown
    assert "没有发布通报" not in markdown and "未发布" not in markdown
    html = render_html(report)
    assert f"上一周（2020年12月14日—12月20日）的通报未通过校验：{NUMBERS}" in html
    assert "没有发布通报" not in html and "未发布" not in html.replace("未发布通报", "")
    assert [slot.gap for slot in unit_trend_chart(report).gaps] == ["通报未通过校验"]


def test_a_trend_with_both_kinds_of_gap_names_each(failed_week: tuple[Path, Path, str]) -> None:
    _, wh, _ = failed_week
    with connection(wh / "bulletins.duckdb", read_only=True) as con:
        report = read_weekly_report(con, ZMD)  # 2021-01-18: 2020-12-14 failed, 2021-01-04 not printed
    markdown = render_markdown(report)
    assert "| 中国电信驻马店分公司 | 61 | 通报未通过校验 | 52 | 40 | 未发布 | 33 | 35 |" in markdown
    assert "2021-01-04 起的一周没有发布通报，图中留空" in markdown
    assert gap_runs(report) == [(D(2020, 12, 14), D(2020, 12, 14), 1), (D(2021, 1, 4), D(2021, 1, 4), 1)]
    assert [slot.gap for slot in unit_trend_chart(report).gaps] == ["通报未通过校验", "未发布"]


def test_an_accepted_week_is_published_and_the_report_says_who_accepted_it(
    failed_week: tuple[Path, Path, str], tmp_path: Path
) -> None:
    inbox, wh, sha = failed_week
    shutil.copytree(wh, tmp_path / "wh")
    corrections.write_decision(
        tmp_path / "wh" / "lake",
        "accept",
        [DecidedFile(sha, SAMPLE_PAGE.name, "units_sum_to_overdue")],
        "市数字城管中心电话确认：驿城区政府应为8件",
        "张三",
        DECIDED,
    )
    db = load_without_prefect(inbox, tmp_path / "wh")
    accepted = f"通报未通过校验 {NUMBERS}，经人工确认：市数字城管中心电话确认：驿城区政府应为8件（张三，2026-12-04）"
    with connection(db, read_only=True) as con:
        report = read_weekly_report(con, ZMD, D(2020, 12, 14))
        latest = read_weekly_report(con, ZMD)
    markdown = render_markdown(report)
    assert f"本周{accepted}。" in markdown
    assert "| 超时未办结 | 131 | +25 |" in markdown  # compared with 2020-12-07 again (106)
    assert "只采用通过校验（或未通过的校验经人工确认）、且未被更正版取代的通报。" in markdown
    assert f"本周{accepted}。" in render_html(report)
    latest_md = render_markdown(latest)
    assert f"2020-12-14 起的一周：{accepted}。" in latest_md
    assert "通报未通过校验 |" not in latest_md  # the week is a published week of the trend now
    assert f"2020-12-14 起的一周：{accepted}。" in render_html(latest)


# ------------------------------------------------------------------ status: entries gone from the inbox


def test_entries_gone_from_the_inbox_are_shown_as_such_and_leave_the_totals(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", [SAMPLE_PAGE.name])
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "2020-12-23.txt").write_text(SAMPLE_PAGE.read_text(encoding="utf-8")[:50], encoding="utf-8")
    load_without_prefect(inbox, tmp_path / "wh")
    args = ["status", "--warehouse", str(tmp_path / "wh"), "--inbox", str(inbox), "--as-of", "2021-01-01"]
    before = runner.invoke(app, args)
    assert before.output.splitlines()[0] == "各状态文件数：已入库 2，已隔离 1"
    (inbox / "empty.txt").unlink()
    (inbox / "2020-12-23.txt").unlink()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "各状态文件数：已入库 1",
        "已移出收件箱（不计入上面的合计）：2 个；其记录留在仓库里，直到 `bulletins forget`：",
        "  已入库　 2020-12-23.txt",
        "  已隔离　 empty.txt",
    ]
    assert "部分入库、已隔离和未读取的文件：" not in result.output
    # an inbox that is not there says nothing about its entries
    missing = runner.invoke(app, [*args[:-4], "--inbox", str(tmp_path / "nowhere"), "--as-of", "2021-01-01"])
    assert missing.output.splitlines()[0] == "各状态文件数：已入库 2，已隔离 1"
    assert f"注意：收件箱 {tmp_path / 'nowhere'} 不是文件夹" in missing.output


# ------------------------------------------------------------------ the commands, through the run they start


@pytest.fixture(scope="module")
def ran_once(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bulletins run` over the bundled inbox whose real page fails units_sum_to_overdue."""
    root = tmp_path_factory.mktemp("commands")
    inbox = make_inbox(root / "inbox")
    (inbox / SAMPLE_PAGE.name).write_text(failing_sample(), encoding="utf-8")
    result = runner.invoke(app, ["run", "--inbox", str(inbox), "--warehouse", str(root / "wh")])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def ran(ran_once: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A test's own copy of that inbox and warehouse (file times kept: nothing new to the next run)."""
    shutil.copytree(ran_once, tmp_path, dirs_exist_ok=True, symlinks=True)
    return tmp_path / "inbox", tmp_path / "wh"


WEEK_2020_12_21 = "2020-12-30_synthetic_week_2020-12-21.txt"


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def weeks(wh: Path) -> list[dt.date]:
    with connection(wh / "bulletins.duckdb", read_only=True) as con:
        return [r[0] for r in con.execute("select week_start from marts.city_week_performance order by 1").fetchall()]


@pytest.mark.scenario
def test_forget_keeps_rows_out_through_reruns_and_rebuild_and_undo_restores_them(ran: tuple[Path, Path]) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    before = snapshot(wh / "bulletins.duckdb")
    sha = hashlib.sha256((inbox / WEEK_2020_12_21).read_bytes()).hexdigest()
    result = invoke("forget", WEEK_2020_12_21, "--note", "not our city's page", "--by", "张三", *where)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        f"撤回：{WEEK_2020_12_21}（sha256 {sha[:12]}…）",
        f"决定已记录于 {next((wh / 'lake' / '_corrections').glob('*.json'))}；现在运行一次来应用它",
    ]
    assert D(2020, 12, 21) not in weeks(wh)
    for step in (["run", *where], ["rebuild", "--warehouse", str(wh)]):
        assert invoke(*step).exit_code == 0
        assert D(2020, 12, 21) not in weeks(wh), step
        with connection(wh / "bulletins.duckdb", read_only=True) as con:
            assert con.execute("select count(*) from core.articles where file_sha256 = ?", [sha]).fetchall() == [(0,)]
            assert con.execute("select status from core.files where path = ?", [WEEK_2020_12_21]).fetchall() == [
                ("forgotten",)
            ]
    # the same bytes under another name are the same content: out too
    shutil.copyfile(inbox / WEEK_2020_12_21, inbox / "copy.txt")
    assert invoke("run", *where).exit_code == 0
    assert D(2020, 12, 21) not in weeks(wh)
    (inbox / "copy.txt").unlink()
    # forgotten already: one line, nothing recorded
    again = invoke("forget", sha[:10], "--note", "again", *where)
    assert again.exit_code == 1
    assert again.output.startswith(f"error: {WEEK_2020_12_21} is forgotten already (by 张三 at ")

    undo = invoke("forget", "--undo", str(inbox / WEEK_2020_12_21), *where)
    assert undo.exit_code == 0, undo.output
    after = snapshot(wh / "bulletins.duckdb")
    assert after["marts.city_week_performance"] == before["marts.city_week_performance"]
    assert after["marts.unit_week_performance"] == before["marts.unit_week_performance"]
    assert after["core.bulletins"] == before["core.bulletins"]
    assert after["core.articles"] == before["core.articles"]


@pytest.mark.scenario
def test_accept_publishes_the_week_with_its_note_and_undo_withdraws_it(ran: tuple[Path, Path]) -> None:
    inbox, wh = ran
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    assert D(2020, 12, 14) not in weeks(wh)
    note = "市数字城管中心电话确认：驿城区政府应为8件"
    result = invoke("accept", SAMPLE_PAGE.name, "--check", "units_sum_to_overdue", "--note", note, *where)
    assert result.exit_code == 0, result.output
    sha = hashlib.sha256((inbox / SAMPLE_PAGE.name).read_bytes()).hexdigest()
    assert result.output.splitlines()[0] == (
        f"接受：校验 units_sum_to_overdue（各单位合计等于超时未办结），{SAMPLE_PAGE.name}（sha256 {sha[:12]}…）"
    )
    assert D(2020, 12, 14) in weeks(wh)
    with connection(wh / "bulletins.duckdb", read_only=True) as con:
        (by,) = con.execute("select accepted_by from core.bulletin_acceptances").fetchone() or ("",)
    assert by == corrections.operator()
    report = invoke("report", "--week", "2020-12-14", "--warehouse", str(wh), "--out", str(wh / "out"))
    assert report.exit_code == 0, report.output
    markdown = (wh / "out" / "report-2020-12-14.md").read_text(encoding="utf-8")
    assert f"本周通报未通过校验 {NUMBERS}，经人工确认：{note}（{by}，" in markdown
    assert "经人工确认" in (wh / "out" / "report-2020-12-14.html").read_text(encoding="utf-8")
    # a rebuild from the lake keeps it published
    assert invoke("rebuild", "--warehouse", str(wh)).exit_code == 0
    assert D(2020, 12, 14) in weeks(wh)

    undo = invoke("accept", "--undo", SAMPLE_PAGE.name, "--check", "units_sum_to_overdue", *where)
    assert undo.exit_code == 0, undo.output
    assert D(2020, 12, 14) not in weeks(wh)
    with connection(wh / "bulletins.duckdb", read_only=True) as con:
        assert con.execute("select week_start from core.failed_weeks").fetchall() == [(D(2020, 12, 14),)]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["accept", SAMPLE_PAGE.name, "--check", "closure_rate_matches", "--note", "x"],
            1,
            f"error: {SAMPLE_PAGE.name}: no bulletin of it failed check closure_rate_matches "
            "(its failed checks: units_sum_to_overdue)",
        ),
        (
            ["accept", WEEK_2020_12_21, "--check", "units_sum_to_overdue", "--note", "x"],
            1,
            f"error: {WEEK_2020_12_21}: no bulletin of it failed check units_sum_to_overdue (its failed checks: none)",
        ),
        (
            ["accept", SAMPLE_PAGE.name, "--check", "units_sum_to_overdue", "--undo"],
            1,
            f"error: check units_sum_to_overdue of {SAMPLE_PAGE.name} is not accepted: nothing to undo",
        ),
        (["forget", WEEK_2020_12_21], 2, "error: Invalid value for --note: say why"),
        (["forget", "no-such.txt", "--note", "x"], 1, "error: no-such.txt: no such file in the inbox"),
        (["forget", "/etc/passwd", "--note", "x"], 1, "error: /etc/passwd is not inside the inbox"),
    ],
)
def test_decisions_that_cannot_be_taken_are_one_line_and_record_nothing(
    ran: tuple[Path, Path], args: list[str], code: int, message: str
) -> None:
    inbox, wh = ran
    result = invoke(*args, "--inbox", str(inbox), "--warehouse", str(wh))
    assert result.exit_code == code, result.output
    assert result.output.startswith(message), result.output
    assert len(result.output.splitlines()) == 1
    assert not (wh / "lake" / "_corrections").exists()


@pytest.mark.scenario
def test_a_check_the_marts_rely_on_cannot_be_accepted(ran: tuple[Path, Path], tmp_path: Path) -> None:
    inbox, wh = ran
    lines = SAMPLE_PAGE.read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    where = ["--inbox", str(inbox), "--warehouse", str(wh)]
    assert invoke("run", *where).exit_code == 0
    result = invoke("accept", "2020-12-30_cut.txt", "--check", "unit_count_matches", "--note", "x", *where)
    assert result.exit_code == 1
    assert result.output.startswith(
        "error: check unit_count_matches cannot be accepted: the marts rely on it (their data tests would fail"
    )
    assert not (wh / "lake" / "_corrections").exists()


def test_asking_for_the_report_of_a_failed_week_says_it_failed_not_that_it_was_never_published(
    failed_week: tuple[Path, Path, str],
) -> None:
    _, wh, _ = failed_week
    result = runner.invoke(app, ["report", "--week", "2020-12-16", "--warehouse", str(wh), "--out", str(wh / "x")])
    assert result.exit_code == 1
    assert result.output == (
        "error: week 2020-12-14 of 驻马店 was printed, but its bulletin failed checks (units_sum_to_overdue): "
        "`bulletins status` says why; `bulletins accept` publishes it on record\n"
    )


def test_a_file_is_named_by_its_inbox_path_or_its_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = make_inbox(tmp_path / "inbox", [SAMPLE_PAGE.name])
    (inbox / "sub").mkdir()
    (inbox / "sub" / "copy.txt").write_bytes(SAMPLE_PAGE.read_bytes())
    db = load_without_prefect(inbox, tmp_path / "wh")
    sha = hashlib.sha256((inbox / SAMPLE_PAGE.name).read_bytes()).hexdigest()
    (inbox / "new.txt").write_text("not recorded yet", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with connection(db, read_only=True) as con:
        named = {
            arg: correction_targets.resolve(con, inbox, arg)
            for arg in (SAMPLE_PAGE.name, str(inbox / "sub" / "copy.txt"), "inbox/sub/copy.txt", sha[:8], "new.txt")
        }
        assert (
            named
            == {
                SAMPLE_PAGE.name: DecidedFile(sha, SAMPLE_PAGE.name),
                str(inbox / "sub" / "copy.txt"): DecidedFile(sha, "sub/copy.txt"),
                "inbox/sub/copy.txt": DecidedFile(sha, "sub/copy.txt"),  # from the working folder
                sha[:8]: DecidedFile(sha, SAMPLE_PAGE.name),  # the path that took the bytes, not its duplicate
                "new.txt": DecidedFile(hashlib.sha256(b"not recorded yet").hexdigest(), "new.txt"),
            }
        )
        for arg, message in (
            (sha[:7], "no such file in the inbox"),  # a prefix needs 8 digits
            ("../wh/bulletins.duckdb", "no such file in the inbox"),
            (str(tmp_path / "wh" / "bulletins.duckdb"), "is not inside the inbox"),
        ):
            with pytest.raises(correction_targets.CorrectionRefused, match=message):
                correction_targets.resolve(con, inbox, arg)


def test_every_decision_has_its_chinese_label() -> None:
    from flows.reporting.labels import DECISION_LABELS
    from flows.warehouse.corrections import ACTIONS

    assert set(DECISION_LABELS) == set(ACTIONS)
