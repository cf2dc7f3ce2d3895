"""Settings: every BULLETINS_* variable read in one place, and Prefect's local settings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flows.orchestration.prefect_local import CONSOLE_LOGGING, STARTUP_TIMEOUT, TELEMETRY_OFF, configure_prefect
from flows.settings import DEFAULT_INLINE_PARSE_MAX_BYTES, DEFAULT_PARSE_WORKERS, Settings, SettingsError

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
    ) == (120.0, DEFAULT_PARSE_WORKERS, DEFAULT_INLINE_PARSE_MAX_BYTES, 14)


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
        ("BULLETINS_LOCK_TIMEOUT_S", "soon", "BULLETINS_LOCK_TIMEOUT_S must be a number of at least 0, not 'soon'"),
        ("BULLETINS_STALE_AFTER_DAYS", "-3", "BULLETINS_STALE_AFTER_DAYS must be a whole number of at least 0"),
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
