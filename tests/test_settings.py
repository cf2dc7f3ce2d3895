"""Settings: every BULLETINS_* variable read in one place, and Prefect's local settings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flows.orchestration.prefect_local import CONSOLE_LOGGING, STARTUP_TIMEOUT, TELEMETRY_OFF, configure_prefect
from flows.settings import DEFAULT_INLINE_PARSE_MAX_BYTES, Settings, SettingsError, usable_cores

(STARTUP_TIMEOUT_ENV,) = STARTUP_TIMEOUT


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "BULLETINS_LOCK_TIMEOUT_S",
        "BULLETINS_PARSE_WORKERS",
        "BULLETINS_INLINE_PARSE_MAX_BYTES",
        "BULLETINS_STALE_AFTER_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.resolve()
    assert settings.inbox == tmp_path / "warehouse" / "inbox"
    assert settings.db_path == tmp_path / "warehouse" / "bulletins.duckdb"
    assert (
        settings.lock_timeout_s,
        settings.parse_workers,
        settings.inline_parse_max_bytes,
        settings.stale_after_days,
    ) == (120.0, usable_cores(), DEFAULT_INLINE_PARSE_MAX_BYTES, 14)
    assert settings.dask_address is None


def test_environment_then_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BULLETINS_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("BULLETINS_LOCK_TIMEOUT_S", "2.5")
    monkeypatch.setenv("BULLETINS_PARSE_WORKERS", "3")
    monkeypatch.setenv("BULLETINS_INLINE_PARSE_MAX_BYTES", "0")
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "30")
    settings = Settings.resolve()
    assert settings.stale_after_days == 30
    assert (settings.warehouse, settings.lock_timeout_s, settings.parse_workers, settings.inline_parse_max_bytes) == (
        tmp_path / "wh",
        2.5,
        3,
        0,
    )
    assert Settings.resolve(warehouse=tmp_path / "other", lock_timeout_s=1).lock_timeout_s == 1
    assert Settings.resolve(warehouse=tmp_path / "other").warehouse == tmp_path / "other"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BULLETINS_PARSE_WORKERS", "two", "BULLETINS_PARSE_WORKERS must be a whole number of at least 1, not 'two'"),
        ("BULLETINS_PARSE_WORKERS", "0", "BULLETINS_PARSE_WORKERS must be a whole number of at least 1, not '0'"),
        ("BULLETINS_PARSE_WORKERS", "1.5", "must be a whole number of at least 1, not '1.5'"),
        ("BULLETINS_INLINE_PARSE_MAX_BYTES", "-1", "must be a whole number of at least 0"),
        ("BULLETINS_LOCK_TIMEOUT_S", "soon", "BULLETINS_LOCK_TIMEOUT_S must be a number from 0 to 86400, not 'soon'"),
        # issue 16: nan compares false with every bound and inf waits forever
        ("BULLETINS_LOCK_TIMEOUT_S", "nan", "BULLETINS_LOCK_TIMEOUT_S must be a number from 0 to 86400, not 'nan'"),
        ("BULLETINS_LOCK_TIMEOUT_S", "inf", "BULLETINS_LOCK_TIMEOUT_S must be a number from 0 to 86400, not 'inf'"),
        ("BULLETINS_LOCK_TIMEOUT_S", "1e9", "BULLETINS_LOCK_TIMEOUT_S must be a number from 0 to 86400, not '1e9'"),
        ("BULLETINS_RUN_TIMEOUT_S", "NaN", "BULLETINS_RUN_TIMEOUT_S must be a number from 1 to 604800, not 'NaN'"),
        ("BULLETINS_RUN_TIMEOUT_S", "0", "BULLETINS_RUN_TIMEOUT_S must be a number from 1 to 604800, not '0'"),
        ("BULLETINS_QUERY_TIMEOUT_S", "-inf", "BULLETINS_QUERY_TIMEOUT_S must be a number from 0.001 to 86400"),
        ("BULLETINS_STALE_AFTER_DAYS", "nan", "BULLETINS_STALE_AFTER_DAYS must be a whole number of at least 0"),
        ("BULLETINS_QUERY_MEMORY_LIMIT", "lots", "BULLETINS_QUERY_MEMORY_LIMIT must be an amount of memory"),
        ("BULLETINS_QUERY_MEMORY_LIMIT", "1KB", "of at least 16MB like 1GB or 512MB, not '1KB'"),
        ("BULLETINS_STALE_AFTER_DAYS", "-3", "BULLETINS_STALE_AFTER_DAYS must be a whole number of at least 0"),
        # issue 19: a Dask scheduler's address, tcp://host:port
        ("BULLETINS_DASK_ADDRESS", "127.0.0.1:8786", "must be a Dask scheduler's address like tcp://10.0.0.5:8786"),
        ("BULLETINS_DASK_ADDRESS", "tcp://127.0.0.1", "(tcp://host:port), not 'tcp://127.0.0.1'"),
        ("BULLETINS_DASK_ADDRESS", "tcp://host:0", "not 'tcp://host:0'"),
        ("BULLETINS_DASK_ADDRESS", "tcp://host:65536", "not 'tcp://host:65536'"),
        ("BULLETINS_DASK_ADDRESS", "http://host:8786", "not 'http://host:8786'"),
        ("BULLETINS_DASK_ADDRESS", "tcp://ho st:8786", "not 'tcp://ho st:8786'"),
        ("BULLETINS_DASK_ADDRESS", "tcp://host:8786/x", "not 'tcp://host:8786/x'"),
    ],
)
def test_a_bad_number_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.resolve()


@pytest.mark.parametrize("command", [["run"], ["status"], ["query", "select 1"]])
def test_a_bad_number_in_the_environment_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.delenv(STARTUP_TIMEOUT_ENV, raising=False)  # `run` sets Prefect's defaults: restored after
    monkeypatch.setenv("BULLETINS_MAX_FILE_BYTES", "abc")
    result = CliRunner().invoke(app, [*command, "--warehouse", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: BULLETINS_MAX_FILE_BYTES must be a whole number of at least 1, not 'abc'\n"


def test_prefect_telemetry_is_always_off_and_the_console_format_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "0")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    (formatter,) = CONSOLE_LOGGING
    monkeypatch.setenv(formatter, "mine.Formatter")
    configure_prefect()
    assert {name: os.environ[name] for name in TELEMETRY_OFF} == {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    assert os.environ[formatter] == "mine.Formatter"


def test_the_temporary_server_gets_90_s_to_start_unless_the_user_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import Settings as PrefectSettings  # reads the environment when made

    assert STARTUP_TIMEOUT_ENV == "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    monkeypatch.delenv(STARTUP_TIMEOUT_ENV, raising=False)  # restored after the test
    assert PrefectSettings().server.ephemeral.startup_timeout_seconds == 20  # Prefect's own default
    configure_prefect()
    assert os.environ[STARTUP_TIMEOUT_ENV] == "90"
    assert PrefectSettings().server.ephemeral.startup_timeout_seconds == 90
    monkeypatch.setenv(STARTUP_TIMEOUT_ENV, "240")
    configure_prefect()
    assert os.environ[STARTUP_TIMEOUT_ENV] == "240"
    assert PrefectSettings().server.ephemeral.startup_timeout_seconds == 240


def test_run_and_query_bounds_have_defaults_and_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BULLETINS_RUN_TIMEOUT_S", "BULLETINS_QUERY_MEMORY_LIMIT", "BULLETINS_QUERY_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.resolve()
    assert (settings.run_timeout_s, settings.query_memory_limit, settings.query_timeout_s) == (3600.0, "1GB", 300.0)
    monkeypatch.setenv("BULLETINS_RUN_TIMEOUT_S", "90")
    monkeypatch.setenv("BULLETINS_QUERY_MEMORY_LIMIT", " 512 mib ")
    monkeypatch.setenv("BULLETINS_QUERY_TIMEOUT_S", "2.5")
    settings = Settings.resolve()
    assert (settings.run_timeout_s, settings.query_memory_limit, settings.query_timeout_s) == (90.0, "512MiB", 2.5)


SECRET = "s3cr3t-token"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"oapi.dingtalk.com/robot/send?access_token={SECRET}", "address 1 has no scheme"),
        (f"ftp://example.org/hook?key={SECRET}", "address 1 is a ftp:// address"),
        (f"https://?access_token={SECRET}", "address 1 names no host"),
        (f"http://example.org:99999999/hook?key={SECRET}", "address 1 is not a valid URL"),
        (f"javascript:alert('{SECRET}')", "address 1 has no scheme"),
        (f"https:/example.org/hook?key={SECRET}", "address 1 has no scheme"),
        # Addresses are separated by spaces: the second one here is no address.
        (f"https://example.org/hook?key={SECRET} x", "address 2 has no scheme"),
        (f"https://example.org/hook?key={SECRET}\x07", "address 1 holds spaces or control characters"),
    ],
)
def test_a_notify_url_that_cannot_be_posted_to_is_named_without_its_secret(
    monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    """Issue 16: a URL without a scheme failed every run after its commit (ValueError in the post)."""
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", url)
    with pytest.raises(SettingsError) as raised:
        Settings.resolve()
    message = str(raised.value)
    assert message.startswith("BULLETINS_NOTIFY_URL must hold webhook or e-mail addresses"), message
    assert reason in message
    assert SECRET not in message and "dingtalk.com/robot/send?access_token=..." in message


def test_a_usable_notify_url_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", " https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc ")
    assert Settings.resolve().notify_url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", "")
    assert Settings.resolve().notify_url is None
    # Several addresses, one variable (README, "Notifications").
    several = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc, https://oapi.dingtalk.com/robot/send?access_token=x"
    )
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", several)
    assert [t.channel for t in Settings.resolve().notify_targets] == ["wecom", "dingtalk"]


@pytest.mark.parametrize("command", [["run"], ["status"], ["query", "select 1"]])
def test_a_bad_notify_url_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.delenv(STARTUP_TIMEOUT_ENV, raising=False)
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", f"oapi.dingtalk.com/robot/send?access_token={SECRET}")
    result = CliRunner().invoke(app, [*command, "--warehouse", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: BULLETINS_NOTIFY_URL must hold webhook or e-mail addresses")
    assert len(result.stderr.splitlines()) == 1 and SECRET not in result.stderr


def test_prefect_keeps_its_home_and_results_under_the_warehouse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Issue 16: a failed run's result was pickled into ~/.prefect/storage, outside the warehouse."""
    for name in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "PREFECT_RESULTS_PERSIST_BY_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    configure_prefect(tmp_path / "wh")
    home = tmp_path / "wh" / "prefect" / "runs"
    assert os.environ["PREFECT_HOME"] == str(home) and home.is_dir()
    assert os.environ["PREFECT_LOCAL_STORAGE_PATH"] == str(home / "storage")
    assert os.environ["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "false"
    # The user's own choices win: their home, and its storage.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "mine"))
    monkeypatch.delenv("PREFECT_LOCAL_STORAGE_PATH")
    configure_prefect(tmp_path / "wh")
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "mine")
    assert os.environ["PREFECT_LOCAL_STORAGE_PATH"] == str(tmp_path / "mine" / "storage")


def test_parse_workers_default_to_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: one parse worker per core this process may use (its affinity), not a fixed 2."""
    monkeypatch.delenv("BULLETINS_PARSE_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)  # the machine has more than this process may use
    assert Settings.resolve().parse_workers == 3
    monkeypatch.setenv("BULLETINS_PARSE_WORKERS", "7")  # the variable still wins
    assert Settings.resolve().parse_workers == 7


def test_parse_workers_fall_back_to_the_cpu_count_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULLETINS_PARSE_WORKERS", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as off Linux
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert Settings.resolve().parse_workers == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one
    assert Settings.resolve().parse_workers == 1


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "tcp://dask-scheduler.internal:8786", "tcp://[::1]:8786"])
def test_a_dask_address_is_read(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setenv("BULLETINS_DASK_ADDRESS", f" {address} ")
    assert Settings.resolve().dask_address == address
