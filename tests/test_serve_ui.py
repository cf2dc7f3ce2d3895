"""Issue 7, item 11: the Prefect UI `serve` prints reaches its own server, in a real browser.

`serve` starts its server on a free port; the UI must be told that port (it calls
127.0.0.1:4200 otherwise and shows "Unable to connect"). Headless Chromium opens the
dashboard, the deployments and the artifacts pages; the screenshots stay in the test's
temp dir.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.orchestration.artifacts import SUMMARY_KEY, WEEKLY_REPORT_LINK_KEY
from flows.orchestration.serve import DEPLOYMENT_NAME
from flows.reporting.browser import Browser, chromium

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: `make browser` installs it"),
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium (the product's own launcher) that can reach 127.0.0.1 and no other host."""
    with chromium(reach=("127.0.0.1",)) as running:
        yield running


class Tab:
    """One tab of the browser: what the test does in it."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.session = browser.open(url, 1300, 900)

    def call(self, method: str, **params: object) -> dict:
        return self.browser.call(method, self.session, **params)

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.browser.wait_for("Page.loadEventFired", self.session)


def _get_json(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return json.loads(response.read())


def _page_text(devtools: Tab) -> str:
    return devtools.call("Runtime.evaluate", expression="document.body.innerText")["result"].get("value", "")


# The UI is a single-page app: the server answers only `/`, the app's router the rest.
GO_TO_JS = "window.history.pushState({}, '', %s); window.dispatchEvent(new PopStateEvent('popstate', {state: {}}))"


def _show(devtools: Tab, path: str, expect: str, timeout_s: float = 90) -> str:
    """Route the app to `path` and wait until it shows `expect`; fail if it cannot reach its API."""
    deadline = time.monotonic() + timeout_s
    while True:
        devtools.call("Runtime.evaluate", expression=GO_TO_JS % json.dumps(path))
        time.sleep(2)
        text = _page_text(devtools)
        assert "Unable to connect" not in text, f"{path} says it cannot reach its API:\n{text[:500]}"
        if expect in text:
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not show {expect!r} within {timeout_s:g} s:\n{text[:1000]}")
        devtools.call("Runtime.evaluate", expression=GO_TO_JS % json.dumps("/"))  # lists load on arrival


def _run_now(api_url: str) -> None:
    """What *Run* on the deployment's page does: a flow run the serving process picks up."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"bulletin-etl/{DEPLOYMENT_NAME}")
        client.create_flow_run_from_deployment(deployment.id)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report_link(api_url: str) -> str | None:
    """The address the newest `weekly-report-html` artifact links to (Prefect stores `[text](link)`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[WEEKLY_REPORT_LINK_KEY]))
        )
    return re.fullmatch(r"\[.*\]\((.*)\)", found[0].data)[1] if found else None


def _screenshot(devtools: Tab, path: Path) -> None:
    path.write_bytes(base64.b64decode(devtools.call("Page.captureScreenshot", format="png")["data"]))


def test_the_ui_serve_prints_reaches_its_server(browser: Browser, tmp_path: Path) -> None:
    from testdata import SAMPLE_PAGE

    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    inbox.mkdir()
    (inbox / SAMPLE_PAGE.name).write_bytes(SAMPLE_PAGE.read_bytes())  # the run writes its report
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    env.pop("PREFECT_API_URL", None)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows",
                "serve",
                "--interval",
                "3600",
                "--inbox",
                str(inbox),
                "--warehouse",
                str(warehouse),
                # Free ports: the defaults (4200, 4201) may be taken on a machine running tests in parallel.
                "--port",
                str(_free_port()),
                "--reports-port",
                str(_free_port()),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not (match := re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not print the UI address"
            time.sleep(0.5)
        ui = match[1]
        assert _get_json(f"{ui}/ui-settings")["api_url"] == f"{ui}/api"

        devtools = Tab(browser, f"{ui}/")
        try:
            _show(devtools, "/dashboard", "Flow Runs")
            _screenshot(devtools, tmp_path / "dashboard.png")
            _show(devtools, "/deployments", DEPLOYMENT_NAME)
            _screenshot(devtools, tmp_path / "deployments.png")
            _run_now(f"{ui}/api")  # a run publishes the summary artifact
            _show(devtools, "/artifacts", SUMMARY_KEY, timeout_s=180)
            _screenshot(devtools, tmp_path / "artifacts.png")
            # The report's link opens in the browser that shows the UI (an http:// page may not open file://).
            link = _report_link(f"{ui}/api")
            assert link is not None and link.startswith("http://127.0.0.1:"), link
            devtools.navigate(link)
            assert "周报" in _page_text(devtools) or "通报" in _page_text(devtools)
            _screenshot(devtools, tmp_path / "report.png")
        finally:
            browser.close_tab(devtools.session)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
