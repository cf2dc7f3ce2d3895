"""Exactly one publisher (flows/orchestration/publishing.py): ingest-only hosts, the publish slot.

The runs on real workers and a server with the limit are in tests/test_workers.py (slow).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pipeline_helpers import all_inbox_names, bulletins, load_without_prefect, make_inbox, query, snapshot

from flows.settings import Settings, SettingsError
from flows.warehouse import lake


@pytest.mark.scenario
def test_an_ingest_only_run_writes_lake_batches_that_the_owner_loads_as_recovered(
    prefect_harness: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.orchestration.flow import bulletin_etl

    names = all_inbox_names()
    inbox, wh = make_inbox(tmp_path / "inbox", names[:3]), tmp_path / "wh"

    monkeypatch.setenv("BULLETINS_PUBLISH", "0")
    ingested = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert not ingested.models_built and ingested.files_loaded == 3 and ingested.weeks_loaded == []
    assert ingested.warnings[0].startswith("仅采集（BULLETINS_PUBLISH=0）：本次向湖写入 1 个批次，未载入数据库")
    # The DuckDB file is the owner's: an ingest-only host never creates nor opens it.
    assert not (wh / "bulletins.duckdb").exists() and not (wh / ".writer").exists()
    assert lake.complete_batches(wh / "lake") == ingested.batch_ids

    make_inbox(inbox, names[3:])
    again = bulletin_etl(inbox=str(inbox), warehouse=str(wh))  # still ingest-only: takes only what is new
    assert again.files_unchanged == 0 and again.files_loaded == len(names) - 3
    assert len(lake.complete_batches(wh / "lake")) == 2

    monkeypatch.setenv("BULLETINS_PUBLISH", "1")
    owner = bulletin_etl(inbox=str(inbox), warehouse=str(wh))
    assert owner.models_built and owner.batches_recovered == 2 and owner.parse_tasks == 0  # nothing parsed again
    assert owner.files_loaded == len(names)  # what the recovered batches' entries became

    reference = load_without_prefect(inbox, tmp_path / "one-run")
    assert snapshot(wh / "bulletins.duckdb") == snapshot(reference)
    count = "select count(*), count(distinct path) from ingest.files"
    assert query(wh / "bulletins.duckdb", count) == query(reference, count) == [(len(names), len(names))]


def test_without_the_limit_the_load_takes_no_slot_and_warns_of_nothing(
    prefect_harness: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`bulletins run`'s temporary server (and serve's) has no `bulletins-publish`: as before.

    Prefect's `concurrency()` would ask the server for a slot all the same and log, in
    English, that the limit does not exist.
    """
    from flows.orchestration.publishing import publish_slot

    caplog.set_level(logging.DEBUG)
    with publish_slot(5, logging.getLogger("test")) as waited:
        assert waited is None
    assert not [r for r in caplog.records if "do not exist" in r.getMessage() or "slot" in r.getMessage()]


def test_bulletins_run_on_its_own_temporary_server_does_not_even_ask(
    prefect_harness: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No other process talks to the server `bulletins run` starts: no request, no slot."""
    from flows.orchestration import prefect_local, publishing

    def no_request() -> bool:
        raise AssertionError("asked the server for the limit")

    monkeypatch.setattr(publishing, "_limit_exists", no_request)
    monkeypatch.setattr(prefect_local, "_private_api_url", prefect_harness)  # as `prefect_api()` sets it
    with publishing.publish_slot(5, logging.getLogger("test")) as waited:
        assert waited is None
    monkeypatch.setattr(prefect_local, "_private_api_url", None)  # another process's server: asked
    with pytest.raises(AssertionError, match="asked the server"), publishing.publish_slot(5, logging.getLogger("t")):
        pass


@pytest.mark.parametrize(("value", "publish"), [("", True), ("1", True), ("0", False), (" off ", False), ("yes", True)])
def test_bulletins_publish_is_a_yes_or_no(monkeypatch: pytest.MonkeyPatch, value: str, publish: bool) -> None:
    monkeypatch.setenv("BULLETINS_PUBLISH", value)
    assert Settings.resolve().publish is publish


def test_a_bulletins_publish_that_is_no_yes_or_no_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLETINS_PUBLISH", "sometimes")
    with pytest.raises(SettingsError, match=r"BULLETINS_PUBLISH must be 1 or 0 .*not 'sometimes'"):
        Settings.resolve()


def test_an_ingest_only_host_does_not_rebuild_the_owners_file(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    (wh / "lake").mkdir(parents=True)
    done = bulletins("rebuild", "--warehouse", str(wh), env={"BULLETINS_PUBLISH": "0"})
    assert (done.returncode, done.stderr) == (
        1,
        "error: this host ingests only (BULLETINS_PUBLISH=0): rebuild on the host that owns the DuckDB file\n",
    )
    assert not (wh / "bulletins.duckdb").exists() and not (wh / ".writer").exists()


def test_deploy_without_a_server_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = bulletins("deploy", "--pool", "hosts", drop=("PREFECT_API_URL",), env={"PREFECT_HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: PREFECT_API_URL is not set: deploy registers the flow on a running Prefect server, e.g. export "
        "PREFECT_API_URL=http://HOST:4200/api (and PREFECT_API_AUTH_STRING if it has one)"
    ]


def test_deploy_takes_a_cron_or_an_interval_not_both() -> None:
    done = bulletins("deploy", "--pool", "hosts", "--cron", "0 7 * * *", "--interval", "60")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: Invalid value for --interval: give --cron or --interval, not both (see `python -m flows deploy --help`)"
    ]


def test_the_workers_page_names_only_options_that_exist() -> None:
    """docs/workers.md's `bulletins deploy` lines use the command's real options, and its settings exist."""
    import re

    import typer

    from flows.cli import app
    from flows.settings import PROJECT_DIR

    text = (PROJECT_DIR / "docs" / "workers.md").read_text(encoding="utf-8")
    command = typer.main.get_command(app).commands["deploy"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts}
    joined = text.replace("\\\n", " ")  # shell lines continued
    used = set(re.findall(r"(--[a-z][a-z-]+)", " ".join(re.findall(r"bulletins deploy[^`\n]*", joined))))
    assert used and used <= options, used - options
    assert "BULLETINS_PUBLISH=0" in text and "prefect worker start --pool" in text


def test_deploy_stores_absolute_paths_and_only_those_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.orchestration.deploy import deployment_parameters

    monkeypatch.chdir(tmp_path)
    assert deployment_parameters(Path("shared/inbox"), None) == {"inbox": str(tmp_path / "shared" / "inbox")}
    assert deployment_parameters(None, None) == {}
