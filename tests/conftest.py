"""Shared test set-up: Prefect isolated in a temp home, one harness per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flows.orchestration.prefect_local import TELEMETRY_OFF  # imports no Prefect

# Before Prefect is imported anywhere: its home in a temp dir, no telemetry (the
# package's one definition; tests import Prefect directly, before any CLI sets it).
_PREFECT_HOME = tempfile.mkdtemp(prefix="bulletins-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.update(TELEMETRY_OFF)
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("BULLETINS_INBOX", None)
os.environ.pop("BULLETINS_WAREHOUSE", None)
for _name in [n for n in os.environ if n.startswith("AWS_")]:  # a developer's own S3 keys stay out of tests
    os.environ.pop(_name)

import pytest  # noqa: E402
from prefect_server import SessionServer  # noqa: E402  (imports no Prefect)

if TYPE_CHECKING:
    import duckdb
    from servers.seaweedfs import SeaweedS3

_SERVER = pytest.StashKey[SessionServer]()


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory DuckDB for one test, always closed."""
    from flows.warehouse import db

    connection = db.connect(None)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def sample_page() -> Path:
    """The real page (testdata.SAMPLE_PAGE): one bulletin, nine units, both table groups."""
    from testdata import SAMPLE_PAGE

    return SAMPLE_PAGE


@pytest.fixture
def timeline(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the golden timeline (testdata.TIMELINE), models built."""
    from testdata import build_models, load_timeline

    from flows.warehouse import db

    load_timeline(con)
    with db.transaction(con):
        build_models(con)
    return con


@pytest.fixture(scope="session")
def bundled_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled inbox (the real sample and the synthetic weeks) in `<root>/inbox`, taken into
    `<root>/wh` without Prefect (pipeline_helpers.load_without_prefect), once per process.

    Never written to: a test or a module takes a copy (pipeline_helpers.copy_bundled).
    """
    from pipeline_helpers import load_without_prefect, make_inbox

    root = tmp_path_factory.mktemp("bundled")
    load_without_prefect(make_inbox(root / "inbox"), root / "wh")
    return root


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """The session's one Prefect API (tests/prefect_server.py), this process pointed at it; yields its URL."""
    from prefect_server import pointed_at_session_server

    with pointed_at_session_server() as url:
        yield url


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedS3]:
    """A real S3 server for the session (tests/servers/seaweedfs.py), stopped by its process group's id."""
    from servers.seaweedfs import SeaweedS3

    server = SeaweedS3()
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"the test S3 server (SeaweedFS) could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    # The first process of the session (plain pytest, or xdist's controller: its workers
    # inherit the environment that names the server) starts the server in the background.
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider: no template kept
    server = SessionServer(cache.mkdir("prefect-server") if cache is not None else None)
    server.start()
    config.stash[_SERVER] = server


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_SERVER, None)
    if server is not None:
        server.stop()
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)  # after the server that writes there stopped


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules in the order xdist's workers take them (`make test` passes `--dist loadscope
    --no-loadscope-reorder`: modules are handed out in collection order). The modules that
    start a server of their own come first (SeaweedFS takes 5-9 s to answer: waited for at
    the start it overlaps the other workers' tests; at the end it kept the whole run
    waiting), then the test modules with the most tests first (xdist's own order), the
    doctests last (small modules that even out the workers' ends). A module's tests keep
    their order."""
    module_of = {id(item): item.nodeid.split("::")[0] for item in items}
    sizes = Counter(module_of.values())
    waits = {module_of[id(item)] for item in items if "seaweedfs" in getattr(item, "fixturenames", ())}

    def rank(item: pytest.Item) -> tuple[int, int]:
        module = module_of[id(item)]
        return (0 if module in waits else 2 if module.startswith("flows/") else 1), -sizes[module]

    items.sort(key=rank)  # stable: a module's tests stay in their order
