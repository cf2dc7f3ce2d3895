"""The `bulletins` command: run, query, status, rebuild, help."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import make_inbox
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    inbox = make_inbox(root / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    result = runner.invoke(app, ["run", "--inbox", str(inbox), "--warehouse", str(root / "wh"), "--timings"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "新文件 3 个（已入库 1，部分入库 1，已隔离 1），重复 0，未变化 0；入库的周：1 周（2020-12-14）"
    )
    report = root / "wh" / "reports" / "report-2020-12-14.html"
    assert result.stdout.splitlines()[1:4] == [
        f"周报：{report}",
        # this run's entries that did not fully load, with their reasons
        # each failed check with the numbers and the lines it compared
        # in Chinese: check names keep their identifier (with a gloss), numbers and lines as recorded
        "  部分入库 2020-12-30_cut.txt：第 1 则通报（2020-12-14）：units_sum_to_overdue（各单位合计等于超时未办结）："
        "各行合计 118（第 101-111 行），通报印为 131（第 95 行）；"
        "第 1 则通报（2020-12-14）：unit_count_matches（单位数与通报所列一致）：单位表 6 行（第 101-111 行），"
        "通报印有 9 个单位（第 95 行）；第 1 则通报（2020-12-14）：table_complete（表格完整）："
        "第 111 行之后的表格没有落款（页面可能不全）",
        "  已隔离 empty.txt：空文件：0 字节，没有文字",
    ]
    assert result.stderr.startswith("warning: 通报可能已停止更新，驻马店：最新一周截至 2020-12-20，之后 ")
    assert report.exists() and report.with_suffix(".md").exists()
    timings = re.search(r"^timings: (.*)$", result.output, re.MULTILINE)
    assert timings is not None, result.output
    stages = dict(re.findall(r"(\w+)=([\d.]+)s?", timings[1]))
    for stage in ("prefect_start_and_import", "flow", "prefect_stop", "discover", "parse", "load", "models", "reports"):
        assert float(stages[stage]) >= 0, stage
    assert stages["parse_tasks"] == "1"
    return root / "wh"


def test_query_formats(warehouse_dir: Path) -> None:
    sql = "select unit_name, unresolved from marts.unit_week_performance where rank_in_group = 1 order by unit_name"
    csv_out = runner.invoke(app, ["query", sql, "--format", "csv", "--warehouse", str(warehouse_dir)])
    assert csv_out.exit_code == 0
    assert csv_out.output.splitlines() == ["unit_name,unresolved", "中国电信驻马店分公司,68", "驿城区政府,8"]
    json_out = runner.invoke(app, ["query", sql, "-f", "json", "--warehouse", str(warehouse_dir)])
    assert json.loads(json_out.output) == [
        {"unit_name": "中国电信驻马店分公司", "unresolved": 68},
        {"unit_name": "驿城区政府", "unresolved": 8},
    ]
    table_out = runner.invoke(app, ["query", sql, "--warehouse", str(warehouse_dir)])
    assert "中国电信驻马店分公司" in table_out.output and "68" in table_out.output


def test_query_is_read_only_and_errors_are_one_line(warehouse_dir: Path) -> None:
    result = runner.invoke(app, ["query", "delete from ingest.files", "--warehouse", str(warehouse_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "read-only" in result.output.lower()
    assert len(result.output.strip().splitlines()) == 1


def test_status_lists_problems_and_latest_week(warehouse_dir: Path) -> None:
    result = runner.invoke(app, ["status", "--warehouse", str(warehouse_dir)])
    assert result.exit_code == 0  # the sample week is years old: stale, a warning (below), not a failure
    out = result.stdout
    assert "各状态文件数：已入库 1，部分入库 1，已隔离 1\n" in out
    assert "部分入库、已隔离和未读取的文件：\n" in out
    assert "  已隔离　 empty.txt：空文件：0 字节，没有文字\n" in out
    # Reasons in Chinese; a check keeps its identifier (for `bulletins accept`, SQL), with a gloss.
    assert (
        "  部分入库 2020-12-30_cut.txt：第 1 则通报（2020-12-14）：units_sum_to_overdue（各单位合计等于超时未办结）"
    ) in out
    assert "第 1 则通报（2020-12-14）：table_complete（表格完整）" in out
    assert (
        "  驻马店 2020-12-14 起的一周（2020-12-30 刊），文件 2020-12-30_cut.txt："
        "校验未通过：units_sum_to_overdue（各单位合计等于超时未办结）：各行合计 118（第 101-111 行），通报印为 131"
        "（第 95 行）；校验未通过：unit_count_matches（单位数与通报所列一致）：单位表 6 行（第 101-111 行），"
        "通报印有 9 个单位（第 95 行）；校验未通过：table_complete（表格完整）：第 111 行之后的表格没有落款"
        "（页面可能不全）\n"
    ) in out
    # the sample page's issue date is inferred (no date in its name, no date line): marked so
    assert "最新已发布周，驻马店：2020-12-14 ~ 2020-12-20（2020-12-22 刊，刊发日期（推断）），周末后已过 " in out


def test_status_says_how_old_the_latest_week_is_and_exits_3_when_stale_only_if_asked(warehouse_dir: Path) -> None:
    status = ["status", "--warehouse", str(warehouse_dir)]
    fresh = runner.invoke(app, [*status, "--as-of", "2021-01-03", "--fail-if-stale"])
    assert fresh.exit_code == 0
    assert fresh.stdout.endswith(
        "最新已发布周，驻马店：2020-12-14 ~ 2020-12-20（2020-12-22 刊，刊发日期（推断）），周末后已过 14 天\n"
    )
    assert fresh.stderr == ""
    stale_warning = (
        "warning: 通报可能已停止更新，驻马店：最新一周截至 2020-12-20，之后 15 天没有新的一周（超过 14 天即提醒）\n"
    )
    stale = runner.invoke(app, [*status, "--as-of", "2021-01-04"])
    assert stale.exit_code == 0  # a warning: the bundled data is always stale, day one is no failure
    assert stale.stdout.endswith("（2020-12-22 刊，刊发日期（推断）），周末后已过 15 天\n")
    assert stale.stderr == stale_warning
    failing = runner.invoke(app, [*status, "--as-of", "2021-01-04", "--fail-if-stale"])
    assert (failing.exit_code, failing.stderr) == (3, stale_warning)  # its own code: 2 is a mistyped command
    assert (
        runner.invoke(app, [*status, "--as-of", "2021-01-04", "--stale-after", "15", "--fail-if-stale"]).exit_code == 0
    )
    # Today the sample week is years old.
    assert runner.invoke(app, status).exit_code == 0
    assert runner.invoke(app, [*status, "--fail-if-stale"]).exit_code == 3
    assert runner.invoke(app, [*status, "--stale-after", "x"]).exit_code == 2


def test_status_lists_bulletins_of_unknown_format(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cities = Path(__file__).parent / "fixtures" / "pages" / "cities"
    for name in ("tianmen-2016-12.txt", "sanmenxia-2021w07-complete.txt"):
        (inbox / name).write_bytes((cities / name).read_bytes())
    run = runner.invoke(app, ["run", "--inbox", str(inbox), "--warehouse", str(tmp_path / "wh")])
    assert run.exit_code == 0, run.output
    assert "新文件 2 个（已入库 2，部分入库 0，已隔离 0），重复 0，未变化 0" in run.output
    out = runner.invoke(app, ["status", "--warehouse", str(tmp_path / "wh"), "--as-of", "2021-03-08"]).output
    assert "各状态文件数：已入库 2\n" in out
    assert (
        "未知格式的通报（正文已作为文章入库；docs/reference.md：Adding a city）：\n"
        "  tianmen-2016-12.txt：天门:数字化城市管理12月绩效情况通报（第 2 行）"
    ) in out
    assert "部分入库、已隔离和未读取的文件" not in out
    assert "最新已发布周，三门峡：2021-02-27 ~ 2021-03-05（2021-09-03 刊），周末后已过 3 天\n" in out


def test_run_fails_with_one_line_when_the_inbox_is_missing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--inbox", str(tmp_path / "nope"), "--warehouse", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: inbox {tmp_path / 'nope'} is not a folder"


def test_query_without_a_warehouse_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "select 1", "--warehouse", str(tmp_path)])
    assert result.exit_code == 1 and "run `bulletins run` first" in result.output


@pytest.mark.parametrize("command", ["run", "query", "status", "rebuild", "shell", "serve"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def _processes_with(environment_entry: bytes) -> list[int]:
    """Pids of the processes whose environment holds this NAME=value entry."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and environment_entry in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("inline_max_bytes", ["0", "1000000"], ids=["process-pool", "in-the-flow"])
def test_run_from_the_shell_starts_and_stops_its_own_temporary_server(tmp_path: Path, inline_max_bytes: str) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    home = tmp_path / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(home), "BULLETINS_INLINE_PARSE_MAX_BYTES": inline_max_bytes}
    # A new Prefect home migrates its database first: slower than Prefect's 20 s on a busy machine.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "flows", "run", "--inbox", str(inbox), "--warehouse", str(tmp_path / "wh")]
    # --verbose: Prefect's log lines too, where a temporary server of its own would show.
    result = subprocess.run([*command, "--timings", "--verbose"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "新文件 1 个（已入库 1，部分入库 0，已隔离 0）" in result.stdout
    assert re.search(r"^timings: prefect_start_and_import=[\d.]+s flow=", result.stdout, re.MULTILINE)
    # Ours only: neither the flow nor the pool's message forwarder started one of its own.
    assert "Starting temporary server" not in result.stderr + result.stdout
    assert "message forwarding" not in result.stderr + result.stdout
    assert _processes_with(f"PREFECT_HOME={home}".encode()) == []  # the server was stopped and reaped


# Issue 16: options checked once, as one exit-2 line naming the option.


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--timezone", "Mars/Olympus"], "--timezone: 'Mars/Olympus' is not a time zone"),
        (["--timezone", "asia/shanghai"], "--timezone: 'asia/shanghai' is not a time zone"),
        (["--cron", "every day"], "--cron: 'every day' is not a cron schedule"),
        (["--interval", "nan"], "--interval: must be a number of seconds above 0"),
        (["--interval", "0"], "--interval: must be a number of seconds above 0"),
    ],
)
def test_serve_names_a_bad_schedule_option(tmp_path: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["serve", *args, "--warehouse", str(tmp_path / "wh"), "--inbox", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: Invalid value for ") and named in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "ValidationError" not in result.output
    assert not (tmp_path / "wh" / "prefect" / "serve.lock").exists()  # no server was started


@pytest.mark.parametrize("command", [["report"], ["export", "--format", "csv"]])
def test_out_pointing_at_a_file_names_the_option(warehouse_dir: Path, tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine", encoding="utf-8")
    for out, what in [(a_file, "is a file, not a folder"), (a_file / "sub", f"cannot be made: {a_file} is a file")]:
        result = runner.invoke(app, [*command, "--out", str(out), "--warehouse", str(warehouse_dir)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: Invalid value for --out: {out} {what}"), result.stderr
        assert "Errno" not in result.output
    assert a_file.read_text(encoding="utf-8") == "mine"


def test_query_stops_after_its_timeout_with_one_line(warehouse_dir: Path) -> None:
    """DuckDB has no statement timeout: the query is interrupted from a timer (issue 16, finding 3)."""
    import time

    started = time.monotonic()
    result = runner.invoke(
        app,
        [
            "query",
            "select sum(i * i % 7) from range(100000000000) t(i)",
            "--timeout",
            "0.5",
            "--warehouse",
            str(warehouse_dir),
        ],
    )
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert result.stderr.startswith("error: query took longer than 0.5 s and was stopped"), result.stderr
    assert "--timeout" in result.stderr and len(result.stderr.splitlines()) == 1


def test_query_stays_within_its_memory_limit(warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = "select list(i) as l from range(50000000) t(i)"
    result = runner.invoke(app, ["query", big, "--memory-limit", "32MB", "--warehouse", str(warehouse_dir)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: query needs more memory than its limit of 32MB"), result.stderr
    monkeypatch.setenv("BULLETINS_QUERY_MEMORY_LIMIT", "40MB")
    shown = runner.invoke(
        app, ["query", "select current_setting('memory_limit') as m", "-f", "csv", "--warehouse", str(warehouse_dir)]
    )
    assert shown.exit_code == 0 and shown.stdout.splitlines()[1].startswith("38.1 MiB"), shown.output
    bad = runner.invoke(app, ["query", "select 1", "--memory-limit", "plenty", "--warehouse", str(warehouse_dir)])
    assert bad.exit_code == 2 and "Invalid value for --memory-limit" in bad.stderr
    bad = runner.invoke(app, ["query", "select 1", "--timeout", "inf", "--warehouse", str(warehouse_dir)])
    assert bad.exit_code == 2 and "Invalid value for --timeout" in bad.stderr


@pytest.mark.parametrize(
    "flags",
    [
        ["-f", "/etc/passwd"],
        ["-init", "/etc/passwd"],
        ["-cmd", ".read /etc/passwd"],
        ["-csv", "--unsigned"],
        ["-storage-version", "v1.0.0"],
        ["-ui"],
        ["-unredacted"],
        ["-c", "select 1", "-f", "/etc/passwd"],
    ],
)
def test_shell_refuses_flags_that_read_files_before_starting_duckdb(tmp_path: Path, flags: list[str]) -> None:
    # No warehouse at all: the flag is refused before anything opens.
    result = runner.invoke(app, ["shell", "--warehouse", str(tmp_path), *flags])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: Invalid value: bulletins shell does not pass on "), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "root:" not in result.output


def test_shell_flag_values_are_not_mistaken_for_flags() -> None:
    from flows.warehouse.sandbox import check_shell_args

    check_shell_args(["-csv", "-c", "-- a comment\nselect 1", "-separator", "-f", "-nullvalue", "-cmd", "select 2"])


def test_deploy_refuses_an_s3_inbox_without_a_bucket_in_one_line() -> None:
    # An S3 inbox is kept as its URL (`deploy.deployment_parameters`, tests/test_cluster.py);
    # one without a bucket is a usage error before any server is asked.
    from pipeline_helpers import bulletins

    done = bulletins("deploy", "--pool", "hosts", "--inbox", "s3:///feed", drop=("PREFECT_API_URL",))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: Invalid value for --inbox: an S3 location must be written s3://bucket or s3://bucket/prefix, "
        "not 's3:///feed' (see `python -m flows deploy --help`)"
    ]
