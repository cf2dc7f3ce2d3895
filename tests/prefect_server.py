"""One Prefect API server for a whole pytest session, shared by its xdist workers.

Prefect's own `prefect_test_harness` starts a server per process on a new database:
about 15 s each (most of it migrating the new database), once per xdist worker. Here the
session's first process (the xdist controller, or plain pytest) starts one server in the
background at configure time, on a copy of a database migrated once and cached in
pytest's cache (keyed by Prefect's version); workers wait for it only when a test asks
for `prefect_harness`. Tests read back their own runs by id, so sharing is safe.

The thread that starts the server keeps it: the server ends with that thread
(`processes.dies_with_parent`), and the thread ends when the session does.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

SESSION_DIR_VAR = "BULLETINS_TEST_PREFECT_SERVER_DIR"  # inherited by the xdist workers
URL_FILE, FAILED_FILE = "api_url", "failed"
WAIT_S = 180.0


class SessionServer:
    """The session's server, run by a thread of the process that configures pytest."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bulletins-test-prefect-server-"))
        self.template = cache_dir / f"prefect-{version('prefect')}.db" if cache_dir else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefect-session-server", daemon=True)

    def start(self) -> None:
        os.environ[SESSION_DIR_VAR] = str(self.dir)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        os.environ.pop(SESSION_DIR_VAR, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self) -> None:
        from flows.orchestration.prefect_local import TemporaryServer

        database = self.dir / "prefect.db"
        try:
            if self.template is not None:
                if not self.template.exists():
                    self._make_template(self.template)
                _copy_sqlite(self.template, database)
            server = TemporaryServer(database)
            server.start()
            try:
                server.wait_until_healthy(WAIT_S)
                _write_atomically(self.dir / URL_FILE, server.api_url)
                self._stop.wait()
            finally:
                server.stop()
        except Exception as exc:  # the waiting tests fail with this, not a timeout
            _write_atomically(self.dir / FAILED_FILE, f"{type(exc).__name__}: {exc}")

    def _make_template(self, template: Path) -> None:
        """Migrate a new database once (the slow part of a start) and keep a copy."""
        from flows.orchestration.prefect_local import TemporaryServer

        fresh = self.dir / "template.db"
        server = TemporaryServer(fresh)
        server.start()
        try:
            server.wait_until_healthy(WAIT_S)
        finally:
            server.stop()
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
        _copy_sqlite(fresh, partial)
        os.replace(partial, template)  # another session may be making the same one


def api_url(timeout_s: float = WAIT_S) -> str:
    """The session server's API URL, waiting until it answers."""
    folder = os.environ.get(SESSION_DIR_VAR)
    assert folder, "the session's Prefect server was not started (see tests/conftest.py)"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name in (URL_FILE, FAILED_FILE):
            path = Path(folder, name)
            if path.exists():
                text = path.read_text()
                if name == FAILED_FILE:
                    raise RuntimeError(f"the session's Prefect server did not start: {text}")
                return text
        time.sleep(0.05)
    raise RuntimeError(f"the session's Prefect server did not answer within {timeout_s:.0f} s")


@contextmanager
def pointed_at_session_server() -> Iterator[str]:
    """This process's Prefect settings point at the session server for the block (not
    os.environ: a `bulletins` a test starts keeps its own temporary server)."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.orchestration.prefect_local import drain_workers

    url = api_url()
    # No flow-run heartbeats, as under `bulletins run` (prefect_local.pointing_at): each
    # flow run would otherwise end by waiting up to a second for the heartbeat thread.
    # Threads made before (Prefect's workers) read the process-global settings: set them too.
    with (
        temporary_settings(updates={PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        _temporary_global_settings_context(get_settings_context()),
    ):
        try:
            yield url
        finally:
            drain_workers()


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent one-file copy (SQLite's backup API), whatever journal the source kept."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
