"""`bulletins explain FILE` (issue 17, item 7): how one file is read, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

from testdata import PAGES, SAMPLE_PAGE
from typer.testing import CliRunner

from flows.cli import app
from flows.reporting.explain import explain, render_text

runner = CliRunner()
CITIES = PAGES / "cities"


def _explain(path: Path) -> dict:
    return explain(path.name, path.read_bytes())


def test_the_sample_page() -> None:
    out = _explain(SAMPLE_PAGE)
    assert out["file"]["kind"] == "text" and out["file"]["size_bytes"] == SAMPLE_PAGE.stat().st_size
    assert (out["decoded"]["encoding"], out["decoded"]["lines"]) == ("utf-8", 115)
    assert out["decoded"]["first_lines"][0] == [3, "时政要闻"]
    assert (out["issue_date"]["date"].isoformat(), out["issue_date"]["source"]) == ("2020-12-22", "inferred")
    assert [(b["kind"], b["line_start"], b["line_end"]) for b in out["blocks"]] == [
        ("news", 5, 13), ("news", 15, 25), ("news", 27, 37), ("photo", 41, 41),
        ("news", 43, 63), ("commentary", 67, 87), ("bulletin", 91, 115),
    ]  # fmt: skip
    assert [t["describe"] for t in out["tables"]] == [
        "table 单位|交办件|未办结件 of 3 rows at line 100",
        "table 单位|交办件|未办结件 of 6 rows at line 108",
    ]
    claimed = {f["format"]: f["claimed"] for f in out["formats"]}
    assert claimed["zhumadian_weekly"] == [[91, 115]] and claimed["sanmenxia_weekly"] == []
    (bulletin,) = out["bulletins"]
    assert bulletin["format"] == "zhumadian_weekly" and bulletin["unit_rows"] == 9
    assert (bulletin["figures"]["due"], bulletin["figures"]["overdue"], str(bulletin["figures"]["period_start"])) == (
        5723,
        131,
        "2020-12-14",
    )
    assert all(c["passed"] for c in bulletin["checks"]) and len(bulletin["checks"]) == 13
    # a passed arithmetic check shows the numbers it compared too
    by_name = {c["name"]: c["detail"] for c in bulletin["checks"]}
    assert by_name["units_sum_to_overdue"] == "rows sum to 131 (lines 101-114), the bulletin prints 131"
    assert by_name["closure_rate_matches"] == "closed / due = 5184 / 5723 = 90.58%, the bulletin prints 90.58%"
    assert by_name["table_complete"] is None
    assert (out["status"], out["reasons"], out["unknown_bulletins"]) == ("loaded", [], [])
    assert "why_no_format" not in out


def test_a_failed_check_shows_its_numbers(tmp_path: Path) -> None:
    page = tmp_path / "2020-12-23_page.txt"
    page.write_text(
        SAMPLE_PAGE.read_text(encoding="utf-8").replace("驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t18件")
    )
    out = _explain(page)
    failed = [c for c in out["bulletins"][0]["checks"] if not c["passed"]]
    assert failed == [
        {
            "name": "units_sum_to_overdue",
            "passed": False,
            "detail": "rows sum to 141 (lines 101-114), the bulletin prints 131 (line 95)",
        }
    ]
    assert (out["issue_date"]["date"].isoformat(), out["issue_date"]["source"]) == ("2020-12-23", "file_name")
    text = render_text(out)
    assert (
        "未通过 FAIL units_sum_to_overdue: rows sum to 141 (lines 101-114), the bulletin prints 131 (line 95)" in text
    )
    assert "刊发日期 issue_date: 2020-12-23（来源 source: 文件名 file name）" in text
    assert "状态 status: partial" in text


def test_a_sanmenxia_page() -> None:
    out = _explain(CITIES / "sanmenxia-2021w07.txt")
    claimed = {f["format"]: f["claimed"] for f in out["formats"]}
    assert claimed["sanmenxia_weekly"] == [[3, 227]] and claimed["zhumadian_weekly"] == []
    (bulletin,) = out["bulletins"]
    assert (bulletin["figures"]["period_label"], bulletin["figures"]["received"], bulletin["unit_rows"]) == (
        "2021第7期",
        1282,
        8,
    )
    table_complete = next(c for c in bulletin["checks"] if c["name"] == "table_complete")
    assert table_complete["detail"] == (
        "数字城管平台 (line 201): no 合计 row (the page may be cut off); 三支队: a cell missing or unreadable (line 221)"
    )
    assert [t["layout"] for t in out["tables"]] == ["column_list", "cell_per_line", "column_list", "cell_per_line"]
    assert (out["issue_date"]["source"], out["status"]) == ("page", "partial")


def test_an_unknown_format_page_says_why_no_format_read_it() -> None:
    out = _explain(CITIES / "zhengzhou-2019w15.txt")
    assert out["bulletins"] == [] and all(f["claimed"] == [] for f in out["formats"])
    assert out["unknown_bulletins"] == [
        {
            "title": "每周运行分析报告(2019年4月8日至4月14日)",
            "line_no": 2,
            "seen": ["figures (受理, 案件, 立案) at line 5", "table 城区|未派遣数|应结案数… of 4 rows at line 31"],
        }
    ]
    assert out["why_no_format"].startswith("no format found its title or signature on the page")
    text = render_text(out)
    assert "未知格式 unknown bulletin format: 每周运行分析报告(2019年4月8日至4月14日) (line 2)" in text
    assert "没有通报 no bulletin read:" in text


def test_a_binary_file_is_explained_not_read() -> None:
    out = explain("scan.txt", b"\x00\x01\x02binary" * 10)
    assert out["decoded"] == {"rejection": "not text", "detail": "NUL bytes near the start: a binary file"}
    assert (out["status"], out["reasons"]) == ("quarantined", ["not text: NUL bytes near the start: a binary file"])
    assert "解码 decoded: 无法读取 not read — not text" in render_text(out)


def test_the_command_prints_text_and_json_and_writes_nothing(tmp_path: Path) -> None:
    page = tmp_path / SAMPLE_PAGE.name
    page.write_bytes(SAMPLE_PAGE.read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    text = runner.invoke(app, ["explain", str(page)])
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[0].startswith(f"文件 file: {SAMPLE_PAGE.name} (")
    assert "通报 bulletin 1: zhumadian_weekly (驻马店)" in text.output
    as_json = runner.invoke(app, ["explain", str(page), "--format", "json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["bulletins"][0]["figures"]["closure_rate_published"] == "0.9058"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_command_refuses_a_missing_file_and_a_bad_format(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["explain", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2
    assert missing.output.count("\n") == 1 and missing.output.startswith("error: ")
    bad = runner.invoke(app, ["explain", str(SAMPLE_PAGE), "--format", "xml"])
    assert bad.exit_code == 2 and bad.output.startswith("error: ")
