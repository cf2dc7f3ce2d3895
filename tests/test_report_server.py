"""`serve`'s reports over HTTP: only the reports folder's report files, read-only; ports in use are one error line."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.orchestration.report_server import (
    SERVED_AT_NAME,
    PortTaken,
    check_port_free,
    report_url,
    served_at,
    serving_reports,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """A warehouse-like folder: the reports, and beside them what must never be served.

    One server for the module's requests (they change nothing, and one test checks so):
    stopping a server takes up to half a second (serve_forever's poll interval)."""
    warehouse = tmp_path_factory.mktemp("site") / "wh"
    reports = warehouse / "reports"
    reports.mkdir(parents=True)
    (reports / "report-2021-01-18.html").write_text("<p>周报</p>", encoding="utf-8")
    (reports / "report-驻马店-2021-01-18.md").write_text("# 周报", encoding="utf-8")
    (reports / "notes.txt").write_text("not a report", encoding="utf-8")
    (reports / ".report-2021-01-25.html.tmp").write_text("half written", encoding="utf-8")
    (warehouse / "bulletins.duckdb").write_bytes(b"DUCK secret rows")
    (reports / "escape.html").symlink_to(warehouse / "bulletins.duckdb")
    (reports / "sub").mkdir()
    with serving_reports(reports, "127.0.0.1", 0) as base:
        yield base, int(base.rsplit(":", 1)[1].split("/")[0]), reports


def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent exactly as given (no client-side normalising of `..`)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_a_report_is_served_with_its_type(site: tuple[str, int, Path]) -> None:
    base, port, _ = site
    assert base == f"http://127.0.0.1:{port}/reports"
    status, headers, body = request(port, "/reports/report-2021-01-18.html")
    assert (status, headers["Content-Type"], body) == (200, "text/html; charset=utf-8", "<p>周报</p>".encode())
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = request(port, "/reports/report-%E9%A9%BB%E9%A9%AC%E5%BA%97-2021-01-18.md")
    assert (status, headers["Content-Type"], body.decode()) == (200, "text/plain; charset=utf-8", "# 周报")
    status, headers, body = request(port, "/reports/report-2021-01-18.html", "HEAD")
    assert (status, headers["Content-Length"], body) == (200, str(len("<p>周报</p>".encode())), b"")


@pytest.mark.parametrize(
    "path",
    [
        "/reports/../bulletins.duckdb",
        "/reports/%2e%2e/bulletins.duckdb",
        "/reports/..%2fbulletins.duckdb",
        "/reports/sub/../../bulletins.duckdb",
        "/bulletins.duckdb",
        "/reports/escape.html",  # a link leading out of the folder
        "/reports/notes.txt",  # not a report file
        "/reports/.report-2021-01-25.html.tmp",  # hidden: a report being written
        "/reports/" + SERVED_AT_NAME,
        "/reports/sub",
        "/reports/sub/",
        "/reports/missing.html",
        "/reports/%ff.html",
        "/reports/a%00.html",
        "/reports//etc/passwd",
        "/reports/..\\bulletins.duckdb",
    ],
)
def test_nothing_outside_the_report_files_is_served(site: tuple[str, int, Path], path: str) -> None:
    _, port, _ = site
    status, _, body = request(port, path)
    assert status == 404
    assert b"DUCK" not in body and b"not a report" not in body and b"half written" not in body


def test_the_index_lists_the_reports_only_and_nothing_is_written(site: tuple[str, int, Path]) -> None:
    _, port, reports = site
    status, _, body = request(port, "/reports/")
    page = body.decode()
    assert status == 200 and "report-2021-01-18.html" in page and "report-驻马店-2021-01-18.md" in page
    assert "notes.txt" not in page and ".tmp" not in page and "bulletins.duckdb" not in page
    assert request(port, "/")[0] == 301 and request(port, "/")[1]["Location"] == "/reports/"
    before = sorted(p.name for p in reports.iterdir())
    for method in ("PUT", "POST", "DELETE"):
        assert request(port, "/reports/report-2021-01-18.html", method)[0] == 501
    assert sorted(p.name for p in reports.iterdir()) == before


def test_the_artifact_links_to_the_served_report_while_serve_runs(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    html = reports / "report-驻马店-2021-01-18.html"
    html.write_text("x", encoding="utf-8")
    assert report_url(html) == html.resolve().as_uri()  # not served: the file
    with serving_reports(reports, "127.0.0.1", 0) as base:
        assert served_at(reports) == base
        assert report_url(html) == f"{base}/report-%E9%A9%BB%E9%A9%AC%E5%BA%97-2021-01-18.html"
    assert not (reports / SERVED_AT_NAME).exists() and report_url(html) == html.resolve().as_uri()
    # A marker a serve killed with -9 left behind: its pid is gone, the link is the file's.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (reports / SERVED_AT_NAME).write_text(f"http://127.0.0.1:1/reports\n{dead.stdout.strip()}\n", encoding="utf-8")
    assert served_at(reports) is None


def test_a_port_in_use_is_named_with_its_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortTaken) as caught:
            check_port_free("127.0.0.1", port, "--port")
        assert str(caught.value) == (
            f"port {port} on 127.0.0.1 is in use (another `bulletins serve`, or another server?): "
            "stop it or choose another port with --port"
        )
        with pytest.raises(PortTaken, match="--reports-port"), serving_reports(Path("unused"), "127.0.0.1", port):
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# End to end (`bulletins serve` in a subprocess: --port waits 5 s for the port, --reports-port
# starts a Prefect server first); fast: test_a_port_in_use_is_named_with_its_option (both options' words).
@pytest.mark.slow
@pytest.mark.parametrize("option", ["--port", "--reports-port"])
def test_serve_on_a_port_in_use_is_one_error_line_and_exit_1(tmp_path: Path, option: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "BULLETINS_WAREHOUSE", "BULLETINS_INBOX")
    }
    env["PREFECT_HOME"] = str(tmp_path / "home")
    (tmp_path / "inbox").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"--port": _free_port(), "--reports-port": _free_port()} | {option: busy}
        result = subprocess.run(
            [
                *(sys.executable, "-m", "flows", "serve", "--inbox", str(tmp_path / "inbox")),
                *("--warehouse", str(tmp_path / "wh"), "--port", str(ports["--port"])),
                *("--reports-port", str(ports["--reports-port"])),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert (result.returncode, result.stderr) == (
        1,
        f"error: port {busy} on 127.0.0.1 is in use (another `bulletins serve`, or another server?): "
        f"stop it or choose another port with {option}\n",
    )
    assert not (tmp_path / "wh" / "reports" / SERVED_AT_NAME).exists()
