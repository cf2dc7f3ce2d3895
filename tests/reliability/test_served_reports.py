"""Issue 18, items 3 and 4: the reports `serve` answers over HTTP, and the exports an analyst opens.

- every path we know of that tries to leave the reports folder (`..` raw, %-encoded,
  double-encoded, backslashes, NUL, a symlinked folder or file leading out, hidden and
  temporary files, other suffixes, absurd lengths) gets a 404 and none of the bytes beside;
- the xlsx and CSV of a warehouse of hostile unit names hold no English enumerated value
  (entered/stayed/left, TRUE/FALSE) and no internal column by default.
"""

from __future__ import annotations

import csv
import http.client
from pathlib import Path

from hostile_names import build_hostile_warehouse
from pipeline_helpers import bulletins

from flows.orchestration.report_server import serving_reports

SECRET = b"DUCKDB-WAREHOUSE-BYTES"

OUTSIDE = [
    "/reports/../bulletins.duckdb",
    "/reports/../../etc/passwd",
    "/reports/%2e%2e/bulletins.duckdb",
    "/reports/%2E%2E%2Fbulletins.duckdb",
    "/reports/%252e%252e/bulletins.duckdb",
    "/reports/..%5cbulletins.duckdb",
    "/reports/..\\bulletins.duckdb",
    "/reports/.%2e/bulletins.duckdb",
    "/reports/out/bulletins.duckdb",  # a symlinked folder leading out
    "/reports/link.html",  # a symlinked file leading out
    "/reports/report.html%00.png",
    "/reports/.served-at",
    "/reports/.report-2021-01-25.html.tmp",
    "/reports/bulletins.duckdb",
    "/reports/report.html/",
    "/reports//bulletins.duckdb",
    "//reports/../bulletins.duckdb",
    "/REPORTS/report.html",
    "/reports/" + "a/" * 2000 + "report.html",
    "/reports/%ff%fe.html",
    "/prefect/prefect.db",
    "/bulletins.duckdb",
]


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_no_path_leaves_the_reports_folder(tmp_path: Path, reliability) -> None:
    warehouse = tmp_path / "wh"
    reports = warehouse / "reports"
    reports.mkdir(parents=True)
    (warehouse / "bulletins.duckdb").write_bytes(SECRET)
    (warehouse / "prefect").mkdir()
    (warehouse / "prefect" / "prefect.db").write_bytes(SECRET)
    (reports / "report.html").write_text("<p>周报</p>", encoding="utf-8")
    (reports / ".report-2021-01-25.html.tmp").write_bytes(SECRET)
    (reports / "out").symlink_to(warehouse)
    (reports / "link.html").symlink_to(warehouse / "bulletins.duckdb")
    with serving_reports(reports, "127.0.0.1", 0) as base:
        port = int(base.rsplit(":", 1)[1].split("/")[0])
        answers = {path: _get(port, path) for path in OUTSIDE}
        served = _get(port, "/reports/report.html")
    leaked = [p for p, (_, body) in answers.items() if SECRET in body]
    refused = [p for p, (status, _) in answers.items() if status in (400, 404, 414)]
    ok = not leaked and len(refused) == len(OUTSIDE) and served == (200, "<p>周报</p>".encode())
    reliability.record(
        "18 paths leaving the served reports folder",
        f"{len(OUTSIDE)} GETs: .. raw, %-encoded, double-encoded, backslash, NUL, symlinks out, hidden files",
        f"refused {len(refused)}/{len(OUTSIDE)}, bytes from outside in {len(leaked)} answers; the report itself served",
        ok,
    )
    assert not leaked and served == (200, "<p>周报</p>".encode())
    assert refused == OUTSIDE, {p: a[0] for p, a in answers.items() if p not in refused}


def test_exports_hold_chinese_values_and_no_internal_column(tmp_path: Path, reliability) -> None:
    from openpyxl import load_workbook

    db = build_hostile_warehouse(tmp_path / "wh" / "bulletins.duckdb")
    out = tmp_path / "out"
    for fmt in ("xlsx", "csv"):
        result = bulletins("export", "--format", fmt, "--warehouse", str(db.parent), "--out", str(out), timeout=120)
        assert result.returncode == 0, result.stderr
    english = {"entered", "stayed", "left", "published", "not_published", "failed_checks", True, False}
    cells: list[object] = []
    headers: list[object] = []
    for sheet in load_workbook(out / "bulletins-marts.xlsx").worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        headers += rows[0]
        cells += [v for row in rows[1:] for v in row]
    for path in out.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        headers += header
        cells += [v for row in rows for v in row if v in ("TRUE", "FALSE", "True", "False")]
    found = [c for c in cells if isinstance(c, str | bool) and c in english]
    internal = [h for h in headers if h in ("榜单", "期号", "通报编号", "上周交办件", "上周未办结件", "上周结案率")]
    ascii_headers = [h for h in headers if isinstance(h, str) and h.isascii()]
    ok = not found and not internal and not ascii_headers
    reliability.record(
        "18 exports for Excel and WPS",
        "xlsx and csv of a warehouse of hostile unit names, default options",
        f"English values {len(found)} of {len(cells)} cells; internal columns {len(internal)}; "
        f"headers not in Chinese {len(ascii_headers)} of {len(headers)}",
        ok,
    )
    assert ok, (found[:5], internal, ascii_headers)
