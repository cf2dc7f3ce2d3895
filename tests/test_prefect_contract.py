"""What the code assumes of the installed Prefect, checked so that a Prefect release that
breaks an assumption fails here, loudly and by name, not somewhere in a run.

Prefect's settings and private hooks are used in one adapter (flows/orchestration/
prefect_local.py; processes.py reads the one variable the runner sets). Each test names
the assumption and where it is relied on.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.orchestration import prefect_local

FLOWS = Path(__file__).resolve().parents[1] / "flows"


def _prefect_imports() -> set[tuple[str, str, str]]:
    """(file, module, name) of every `from prefect... import name` under flows/."""
    found = set()
    for path in FLOWS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "prefect":
                found |= {(str(path.relative_to(FLOWS.parent)), node.module, alias.name) for alias in node.names}
    return found


def test_every_prefect_name_the_code_imports_exists() -> None:
    imports = _prefect_imports()
    assert len(imports) > 20  # the walk found the code's imports
    missing = []
    for where, module, name in sorted(imports):
        try:
            if not hasattr(importlib.import_module(module), name):
                importlib.import_module(f"{module}.{name}")  # a submodule imported by name
        except ImportError as exc:
            missing.append(f"{where}: from {module} import {name} ({exc})")
    assert missing == []


def test_the_settings_we_set_by_environment_are_read_by_prefect(tmp_path: Path) -> None:
    """prefect_local sets these variables before Prefect is imported; a renamed setting would be
    ignored silently (telemetry back on, results persisted, a 20 s start-up timeout)."""
    env_values = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "77",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        "PREFECT_HOME": str(tmp_path / "home"),
        "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "storage"),
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "31",
        "PREFECT_UI_API_URL": "http://example.invalid:4200/api",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    script = """
import json
from prefect.settings import get_current_settings
s = get_current_settings()
print(json.dumps({
    "analytics": s.server.analytics_enabled,
    "startup": s.server.ephemeral.startup_timeout_seconds,
    "persist": s.results.persist_by_default,
    "home": str(s.home),
    "storage": str(s.results.local_storage_path),
    "heartbeat": s.flows.heartbeat_frequency,
    "ui_api": s.server.ui.api_url,
    "database": s.server.database.connection_url.get_secret_value(),
}))
"""
    env = {"PATH": "/usr/bin:/bin", "DO_NOT_TRACK": "1", **env_values}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen == {
        "analytics": False,
        "startup": 77,
        "persist": False,
        "home": str(tmp_path / "home"),
        "storage": str(tmp_path / "storage"),
        "heartbeat": 31,
        "ui_api": "http://example.invalid:4200/api",
        "database": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    # Every variable the adapter sets is among those checked here.
    assert set(prefect_local.TELEMETRY_OFF) - {"DO_NOT_TRACK"} <= set(env_values)
    assert set(prefect_local.STARTUP_TIMEOUT) | set(prefect_local.RESULTS_NOT_PERSISTED) <= set(env_values)
    assert set(prefect_local.HEARTBEAT_VARIABLES) & set(env_values)


def test_the_logging_overrides_name_what_prefect_configures() -> None:
    """CONSOLE_LOGGING overrides the factory `()` of `formatters.standard` in Prefect's logging.yml,
    and `bulletins run` quiets `handlers.console.level` (PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL)."""
    import prefect.logging

    config = (Path(prefect.logging.__file__).parent / "logging.yml").read_text(encoding="utf-8")
    [variable] = prefect_local.CONSOLE_LOGGING
    assert variable == "PREFECT_LOGGING_FORMATTERS_STANDARD_"
    formatters = config[config.index("\nformatters:\n") : config.index("\nhandlers:\n")]
    standard = formatters[formatters.index("\n  standard:\n") :]
    assert standard.split("\n")[2].strip() == "(): prefect.logging.formatters.PrefectFormatter"
    handlers = config[config.index("\nhandlers:\n") :]
    console = handlers[handlers.index("\n  console:\n") :].split("\n\n")[0]
    assert "\n    level: " in console


def test_private_hooks_the_adapter_relies_on_are_still_there() -> None:
    """The temporary server started by hand (PREFECT__SERVER_EPHEMERAL/FINAL, the app factory),
    the runner's PREFECT__FLOW_RUN_ID (processes.flow_run_dies_with_runner), and the calls that
    flush or refresh Prefect's process-global state."""
    import prefect

    source = "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in Path(prefect.__file__).parent.rglob("*.py")
    )
    for private in ("PREFECT__SERVER_EPHEMERAL", "PREFECT__SERVER_FINAL", "PREFECT__FLOW_RUN_ID"):
        assert private in source, f"Prefect no longer reads or sets {private}"
    from prefect.server.api.server import create_app

    assert callable(create_app)
    from prefect.context import refresh_global_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    assert callable(refresh_global_settings_context)
    assert callable(APILogWorker.drain_all) and callable(EventsWorker.drain_all)


@pytest.mark.slow
def test_prefect_server_start_takes_the_options_serve_passes() -> None:
    """managed_server runs `prefect server start --host H --port P`."""
    out = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "start", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    assert out.returncode == 0, out.stderr
    assert "--host" in out.stdout and "--port" in out.stdout
