"""The report as a PDF (A4) and a long PNG (长图) made by the system's headless Chromium.

Chromium is a system package (Debian: `apt-get install chromium`), never downloaded at
run time. It is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
file descriptors 3 and 4, NUL-separated JSON), so no debugging port is opened that another
user of the machine could reach; every host name fails to resolve, so the page (which
needs nothing from the network) cannot reach anything either.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from flows.warehouse.atomic import write_atomic

INSTALL_HINT = "apt-get install chromium"
NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")

FLAGS = (
    "--headless",
    "--no-sandbox",  # as root in a container there is no sandbox to have; the page is our own file
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: every name fails to resolve
    "--remote-debugging-pipe",
)

# The long image: a phone's width, drawn at twice the pixels (sharp on a phone's screen).
PNG_WIDTH = 390
PNG_SCALE = 2
# Headless Chromium draws a 31,000-px picture whole (measured: 40 units over 12 weeks);
# a page taller than this at twice the pixels is drawn at scale 1, and cut at this height
# if it is taller still (hundreds of units: the PDF holds it all).
MAX_PNG_PIXELS = 40_000
TIMEOUT_S = 60.0

# A4 in inches, for Chromium's printToPDF (the page's @page rule says A4 too).
A4_INCHES = (8.27, 11.69)

# Puts the two pipe ends on descriptors 3 and 4, then becomes Chromium: a trampoline, so
# no code runs between fork and exec in this (possibly threaded) process.
_TRAMPOLINE = (
    "import os, sys\n"
    "r, w = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2]))\n"
    "os.dup2(r, 3); os.dup2(w, 4)\n"
    # dup2 onto the same number changes nothing, not even close-on-exec: say it.
    "os.set_inheritable(3, True); os.set_inheritable(4, True)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class ChromiumMissing(RuntimeError):
    """No Chromium on the PATH: the pdf and png formats cannot be made."""


class ChromiumFailed(RuntimeError):
    """Chromium started but did not make the file."""


# What making a pdf or png can fail with: no Chromium, Chromium failing, the pipe or a file.
BROWSER_ERRORS = (ChromiumMissing, ChromiumFailed, OSError)


def find_chromium() -> str:
    """The path of the system's Chromium; `ChromiumMissing` with the install command when there is none."""
    for name in NAMES:
        if path := shutil.which(name):
            return path
    raise ChromiumMissing(f"the pdf and png formats need Chromium, which is not installed: {INSTALL_HINT}")


class Browser:
    """One headless Chromium, driven over the DevTools pipe."""

    def __init__(self, process: subprocess.Popen[bytes], commands: int, answers: int) -> None:
        self.process = process
        self._out = commands
        self._in = answers
        self._buffer = b""
        self._next_id = 0
        self._targets: dict[str, str] = {}  # session -> its tab
        self.events: list[dict[str, Any]] = []  # every event met while waiting (console messages, requests...)

    def call(
        self, method: str, session: str | None = None, timeout_s: float = TIMEOUT_S, **params: Any
    ) -> dict[str, Any]:
        """Send one command and return its result (events met on the way are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._receive(deadline, method)
            if "method" in answer:
                self.events.append(answer)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise ChromiumFailed(f"{method}: {answer['error'].get('message', answer['error'])}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def wait_for(self, event: str, session: str, timeout_s: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._receive(deadline, event)
            self.events.append(message)
            if message.get("method") == event and message.get("sessionId") == session:
                return

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumFailed(f"Chromium did not answer {waiting_for} in {TIMEOUT_S:.0f} s")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise ChromiumFailed(f"Chromium exited while waiting for {waiting_for}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def open(self, url: str, width: int, height: int, scale: float = 1, mobile: bool = False) -> str:
        """Open `url` in a new tab of the given viewport; return the tab's session once it has loaded."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = str(self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])
        for domain in ("Page", "Runtime", "Log", "Network"):  # their events: what the page logged and asked for
            self.call(f"{domain}.enable", session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=mobile,
        )
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        self._targets[session] = target
        return session

    def close_tab(self, session: str) -> None:
        """Close a tab `open` returned."""
        self.call("Target.closeTarget", targetId=self._targets.pop(session))

    def pdf(self, html: Path, out: Path) -> Path:
        """Print the page to an A4 PDF, backgrounds included, no header or footer."""
        session = self.open(html.resolve().as_uri(), 794, 1123)
        width, height = A4_INCHES
        data = self.call(
            "Page.printToPDF",
            session,
            printBackground=True,
            preferCSSPageSize=True,
            paperWidth=width,
            paperHeight=height,
            displayHeaderFooter=False,
        )["data"]
        self.close_tab(session)
        write_atomic(out, base64.b64decode(data))
        return out

    def png(self, html: Path, out: Path, width: int = PNG_WIDTH, scale: int = PNG_SCALE) -> Path:
        """The whole page as one tall picture (长图), by default at a phone's width and twice its pixels."""
        mobile = width < 700
        session = self.open(html.resolve().as_uri(), width, 800, scale, mobile=mobile)
        metrics = self.call("Page.getLayoutMetrics", session)
        height = int(metrics["cssContentSize"]["height"]) + 1
        if height * scale > MAX_PNG_PIXELS:
            scale = 1
            self.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=800,
                deviceScaleFactor=1,
                mobile=mobile,
            )
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, MAX_PNG_PIXELS // scale), "scale": 1}
        data = self.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True, clip=clip)["data"]
        self.close_tab(session)
        write_atomic(out, base64.b64decode(data))
        return out


@contextmanager
def chromium(executable: str | None = None, reach: tuple[str, ...] = ()) -> Iterator[Browser]:
    """Start headless Chromium with a fresh profile in a temporary folder; stop it on the way out.

    `reach`: hosts it may still resolve (a test opening a local server: `127.0.0.1`).
    """
    path = executable or find_chromium()
    flags = [f for f in FLAGS if not f.startswith("--host-resolver-rules")]
    flags.append("--host-resolver-rules=MAP * ~NOTFOUND" + "".join(f", EXCLUDE {host}" for host in reach))
    commands_r, commands_w = os.pipe()
    answers_r, answers_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="bulletins-chromium-") as profile:
        args = [path, *flags, f"--user-data-dir={profile}", "about:blank"]
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _TRAMPOLINE, str(commands_r), str(answers_w), *args],
                pass_fds=(commands_r, answers_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            os.close(commands_r)
            os.close(answers_w)
        browser = Browser(process, commands_w, answers_r)
        try:
            yield browser
        finally:
            with suppress(ChromiumFailed, OSError):
                browser.call("Browser.close", timeout_s=10)
            os.close(commands_w)
            os.close(answers_r)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
