"""The weekly reports over HTTP, read-only, for as long as `bulletins serve` runs.

A browser refuses a `file://` link from an http page (the Prefect UI), and no other
machine can open one: `serve` answers `GET /reports/<file>` from the reports folder, on
its own port next to the Prefect UI's, bound to the same address. Only that folder's
report files (.html, .md, .pdf, .png) are served; a path with `..`, a hidden file, a link
leading out of the folder, another suffix or anything else is a 404; `/reports/` lists the
report files; GET and HEAD only (any other method: 501). Nothing is written.

While it runs, `<reports folder>/.served-at` records its address (and serve's pid), so
the run's artifact links to `http://<host>:<port>/reports/<file>` (`report_url`), also for
a run started from the shell meanwhile.
"""

from __future__ import annotations

import errno
import html
import os
import shutil
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/reports/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/plain; charset=utf-8",  # shown, not downloaded
    ".pdf": "application/pdf",
    ".png": "image/png",
}
SERVED_AT_NAME = ".served-at"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class PortTaken(OSError):
    """The port asked for is in use: which one, and the option that chooses another."""

    def __init__(self, host: str, port: int, option: str) -> None:
        super().__init__(
            errno.EADDRINUSE,
            f"port {port} on {host} is in use (another `bulletins serve`, or another server?): "
            f"stop it or choose another port with {option}",
        )

    def __str__(self) -> str:
        return str(self.strerror)


def advertised_host(host: str) -> str:
    """The host name to put in links: the machine's name for a wildcard bind, else the address bound.

    >>> advertised_host("127.0.0.1"), advertised_host("::1")
    ('127.0.0.1', '[::1]')
    """
    if host in WILDCARD_HOSTS:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def check_port_free(host: str, port: int, option: str, wait_s: float = 0.0) -> None:
    """Raise PortTaken when nothing can listen on `host:port` (checked before a server starts).

    `wait_s`: keep trying that long first (a server just stopped, killed with its `serve`,
    may hold its port a moment longer).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no conflict
            try:
                sock.bind((host, port))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        if time.monotonic() >= deadline:
            raise PortTaken(host, port, option)
        time.sleep(0.2)


def report_file(folder: Path, url_path: str) -> Path | None:
    """The report file a URL path names, or None: not under /reports/, `..`, hidden, not a report, outside the folder.

    >>> report_file(Path("/nowhere"), "/reports/../bulletins.duckdb") is None
    True
    """
    path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path, errors="strict")
    if not path.startswith(PREFIX) or "\x00" in path or "\\" in path:
        return None
    parts = path[len(PREFIX) :].split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    root = folder.resolve()
    candidate = (root / Path(*parts)).resolve()  # a link leading out of the folder ends outside root
    if not candidate.is_relative_to(root) or candidate.suffix not in CONTENT_TYPES or not candidate.is_file():
        return None
    return candidate


def report_index(folder: Path) -> bytes:
    """A page listing the folder's report files, newest name first."""
    names = (
        sorted(
            (
                p.name
                for p in folder.iterdir()
                if p.suffix in CONTENT_TYPES and not p.name.startswith(".") and p.is_file()
            ),
            reverse=True,
        )
        if folder.is_dir()
        else []
    )
    items = "".join(
        f'<li><a href="{html.escape(urllib.parse.quote(name))}">{html.escape(name)}</a></li>' for name in names
    )
    body = (items and f"<ul>{items}</ul>") or "<p>还没有周报。</p>"
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>周报</title><h1>周报</h1>{body}</html>"
    )
    return page.encode("utf-8")


class ReportsHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the reports folder's files; nothing else."""

    folder: Path  # set on the subclass `serving_reports` makes
    server_version = "bulletins-reports"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/", "/reports"):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", PREFIX)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == PREFIX:
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", report_index(self.folder), send_body)
            return
        try:
            found = report_file(self.folder, self.path)
        except (UnicodeDecodeError, ValueError, OSError):
            found = None
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", "没有这个周报文件。\n".encode(), send_body)
            return
        try:
            handle = found.open("rb")
        except OSError:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", "没有这个周报文件。\n".encode(), send_body)
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            self._head(HTTPStatus.OK, CONTENT_TYPES[found.suffix], size)
            if send_body:
                shutil.copyfileobj(handle, self.wfile)

    def _head(self, status: HTTPStatus, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, send_body: bool) -> None:
        self._head(status, content_type, len(body))
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: serve's console is for runs (one line per request would drown them)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


@contextmanager
def serving_reports(folder: Path, host: str, port: int) -> Iterator[str]:
    """Serve `folder` at `http://<host>:<port>/reports/` in a thread for the block; yield that base URL.

    Records the URL in `<folder>/.served-at` meanwhile (`report_url` reads it).
    """
    folder = Path(folder).resolve()
    handler = type("FolderReportsHandler", (ReportsHandler,), {"folder": folder})
    try:
        server = (_Server6 if ":" in host else _Server)((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(host, port, "--reports-port") from None
        raise
    bound_port = server.server_address[1]
    base = f"http://{advertised_host(host)}:{bound_port}{PREFIX.rstrip('/')}"
    thread = threading.Thread(target=server.serve_forever, name="reports-http", daemon=True)
    thread.start()
    marker = folder / SERVED_AT_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{base}\n{os.getpid()}\n", encoding="utf-8")
        yield base
    finally:
        server.shutdown()
        server.server_close()
        with suppress(OSError):
            if marker.read_text(encoding="utf-8").split("\n")[1:2] == [str(os.getpid())]:
                marker.unlink()


def served_at(folder: Path) -> str | None:
    """The base URL a live `serve` serves `folder` at, or None."""
    try:
        base, pid, *_ = (Path(folder) / SERVED_AT_NAME).read_text(encoding="utf-8").split("\n")
        os.kill(int(pid), 0)  # still running (a serve killed with -9 leaves its marker)
    except (OSError, ValueError):
        return None
    return base if base.startswith("http://") else None


def report_url(html_path: Path) -> str:
    """The report's http:// address where a `serve` serves its folder; else its file:// URI."""
    base = served_at(html_path.parent)
    if base is None:
        return html_path.resolve().as_uri()
    return f"{base}/{urllib.parse.quote(html_path.name)}"
