"""The weekly report in a real browser: Debian's headless Chromium, offline, over the DevTools protocol.

Chromium runs with every host name unresolvable (`--host-resolver-rules`), so a page that
reached for the network would fail; the test also records every request the page makes
and every console message or exception. The screenshot stays in the test's temp dir.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import load_without_prefect, make_inbox

from flows.reporting.report_html import CHART_IDS
from flows.reporting.weekly_report import write_reports
from flows.warehouse.db import connection

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: `make browser` installs it")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: every name fails to resolve
    "--window-size=1280,2000",
]


class DevTools:
    """A minimal DevTools-protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout_s: float = 60.0, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        call_id = self.next_id
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout_s: float = 60.0) -> dict[str, Any]:
        for seen in self.events:
            if seen.get("method") == event:
                return seen
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self.events.append(message)
            if message.get("method") == event:
                return message

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[int]:
    """Headless Chromium with a fresh profile; yields its DevTools port."""
    with chromium(tmp_path / "chromium-profile", CHROMIUM_FLAGS) as port:
        yield port


@contextmanager
def chromium(profile: Path, flags: list[str]) -> Iterator[int]:
    """Start headless Chromium with `flags` and a fresh `profile`; yield its DevTools port."""
    assert CHROMIUM is not None
    process = subprocess.Popen(
        [CHROMIUM, *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, "chromium exited before it opened the DevTools port"
            assert time.monotonic() < deadline, "chromium did not open the DevTools port in 60 s"
            time.sleep(0.1)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _page_socket(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.loads(response.read())
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


CHART_SIZES_JS = """
JSON.stringify(%s.map(id => {
  const el = document.getElementById(id);
  if (!el) return {id, found: false};
  const box = el.getBoundingClientRect();
  return {id, found: true, width: box.width, height: box.height,
          svg: el.querySelectorAll('svg.main-svg').length,
          traces: (el.data || []).length};
}))
"""


def test_report_renders_offline_without_errors(browser: int, tmp_path: Path) -> None:
    db = load_without_prefect(make_inbox(tmp_path / "inbox"), tmp_path / "wh")
    with connection(db, read_only=True) as con:
        [written] = write_reports(con, tmp_path / "reports", ["驻马店"], None)
    url = written.html.resolve().as_uri()

    devtools = DevTools(_page_socket(browser))
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            devtools.call(f"{domain}.enable")
        devtools.call("Page.navigate", url=url)
        devtools.wait_for("Page.loadEventFired")
        sizes = json.loads(
            devtools.call("Runtime.evaluate", expression=CHART_SIZES_JS % json.dumps(CHART_IDS))["result"]["value"]
        )
        metrics = devtools.call("Page.getLayoutMetrics")
        height = int(metrics["cssContentSize"]["height"])
        shot = devtools.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
        )
        title = devtools.call("Runtime.evaluate", expression="document.title")["result"]["value"]
        events = list(devtools.events)
    finally:
        devtools.close()

    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert screenshot.stat().st_size > 50_000

    assert title == "驻马店数字城管超时未办结单位周报：2021年1月18日—1月24日"
    for chart in sizes:
        assert chart["found"], chart
        assert chart["width"] > 300 and chart["height"] > 200, chart
        assert chart["svg"] >= 1 and chart["traces"] >= 1, chart

    errors = [
        e["params"]
        for e in events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in {"error", "warning", "assert"})
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in {"error", "warning"})
    ]
    assert errors == []
    requested = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert requested and all(u == url or u.startswith(("data:", "blob:")) for u in requested), requested
    failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
    assert failed == []
