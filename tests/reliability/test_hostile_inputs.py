"""Issue 17, item 1: hostile web pages, Word, Excel, PDF and image files.

The promise: whatever a file is (malformed, truncated, huge, encrypted, a zip bomb in
Office clothing, a scan), it ends in a recorded status with a reason that says what to
do, in English and Chinese where it cannot be read, and never stops a run: a run over all
of them together still loads the good page beside them.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect, query

from flows.devtools.input_files import sample_text, to_docx, to_html, to_xlsx
from flows.warehouse.ingest import file_status, safe_parse


def _pdf_with_password() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="2020-12-14 1013 8")
    pdf.set_encryption(owner_password="owner", user_password="secret")
    return bytes(pdf.output())


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(buffer, "PNG")
    return buffer.getvalue()


def _scanned_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(_png()), x=10, y=10, w=180)
    return bytes(pdf.output())


def _office_bomb(member: str, like: bytes) -> bytes:
    """A real .docx/.xlsx with its main XML part replaced by 200 MB of zeros (about 200 KB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(like)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            if info.filename == member:
                with bomb.open(member, "w", force_zip64=True) as stream:
                    for _ in range(200):
                        stream.write(b"\0" * 1024 * 1024)
            else:
                bomb.writestr(info, source.read(info))
    return out.getvalue()


def _sheet_at_the_far_corner() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "单位"
    sheet["XFD1048576"] = "末格"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _huge_spans() -> bytes:
    cells = '<td colspan="1000">x</td>' * 1001
    return f"<html><body><table><tr>{cells}</tr><tr>{cells}</tr></table></body></html>".encode()


def _deep_html() -> bytes:
    return ("<html><body>" + "<div>" * 100_000 + "驻马店 通报" + "</div>" * 100_000 + "</body></html>").encode()


def _old_word() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088)


DOCX, XLSX = to_docx(), to_xlsx()
HTML = to_html("utf-8").encode("utf-8")

# name, bytes, the status, what the reason must say
CASES: dict[str, tuple[str, Callable[[], bytes], str, tuple[str, ...]]] = {
    # Tags left open and the end cut off: lxml reads what a browser shows, the checks judge the figures.
    "malformed html": (
        "a.html",
        lambda: HTML.replace(b"</td>", b"").replace(b"</table>", b"<tr><td>")[:-400],
        "partial",
        ("unit_count_matches",),
    ),
    "deeply nested html": ("deep.html", _deep_html, "quarantined", ("unreadable", "nested more than 256 deep")),
    # At the inbox's size limit (2 MiB): 60,000 paragraphs, read in bounded time.
    "huge html": ("big.html", lambda: b"<html><body>" + "<p>驻马店市城市管理。</p>".encode() * 60_000, "loaded", ()),
    "table spans past the bound": ("spans.html", _huge_spans, "quarantined", ("unreadable", "文件过大")),
    "html of scripts only": (
        "s.html",
        lambda: b"<html><head><script>var a=1;</script></head><body></body></html>",
        "quarantined",
        ("empty",),
    ),
    "truncated docx": ("t.docx", lambda: DOCX[: len(DOCX) // 2], "quarantined", ("unreadable", "重新保存")),
    "docx bomb": (
        "bomb.docx",
        lambda: _office_bomb("word/document.xml", DOCX),
        "quarantined",
        ("unpacks to", "文件过大"),
    ),
    "truncated xlsx": ("t.xlsx", lambda: XLSX[:-300], "quarantined", ("unreadable",)),
    "xlsx bomb": ("bomb.xlsx", lambda: _office_bomb("xl/worksheets/sheet1.xml", XLSX), "quarantined", ("unpacks to",)),
    "xlsx cell at XFD1048576": ("far.xlsx", _sheet_at_the_far_corner, "quarantined", ("unreadable", "1,048,576 rows")),
    "encrypted pdf": ("e.pdf", _pdf_with_password, "quarantined", ("encrypted", "PDF 已加密")),
    "truncated pdf": ("t.pdf", lambda: _pdf_with_password()[:300], "quarantined", ()),
    "scanned pdf": ("scan.pdf", _scanned_pdf, "quarantined", ("no text layer: needs OCR", "没有文字层：需要 OCR")),
    "image": ("page.png", _png, "quarantined", ("no text layer: needs OCR", "没有文字层：需要 OCR")),
    "old .doc": ("old.doc", _old_word, "quarantined", ("unsupported format", ".docx", "另存为")),
    "utf-16 cut mid-character": (
        "u.txt",
        lambda: sample_text().encode("utf-16")[:-1],
        "partial",
        ("undecodable as utf-16-le: 1 byte(s)",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_input_ends_in_a_status_with_a_reason(case: str, reliability) -> None:
    name, make, want_status, want_words = CASES[case]
    data = make()
    started = time.perf_counter()
    result = safe_parse(name, data)
    seconds = time.perf_counter() - started
    status, reasons = file_status(result)
    text = "; ".join(reasons)
    ok = (
        "parser error" not in text and (not want_status or status == want_status) and all(w in text for w in want_words)
    )
    reliability.record(f"17 {case}", f"{name}, {len(data):,} bytes", f"{status} in {seconds:.2f} s: {text[:160]}", ok)
    assert "parser error" not in text, text
    if want_status:
        assert status == want_status, (status, text)
    for word in want_words:
        assert word in text, (word, text)
    assert seconds < 30


def test_a_run_over_every_hostile_input_still_loads_the_good_page(tmp_path: Path, reliability) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "2020-12-23_p2.html").write_bytes(HTML)
    for case, (name, make, _, _) in CASES.items():
        (inbox / f"{case.replace(' ', '_')}_{name}").write_bytes(make())
    db = load_without_prefect(inbox, tmp_path / "wh", max_file_bytes=8 * 1024 * 1024)
    statuses = dict(query(db, "select path, status from core.files"))
    units = query(
        db,
        "select count(*) from core.bulletin_units u join core.files f using (file_sha256) where f.path = ?",
        ["2020-12-23_p2.html"],
    )[0][0]
    ok = statuses.get("2020-12-23_p2.html") == "loaded" and len(statuses) == len(CASES) + 1 and units == 9
    reliability.record(
        "17 a run over every hostile input",
        f"{len(CASES)} hostile files and a web page",
        f"{statuses.get('2020-12-23_p2.html')}, {units} unit rows, {len(statuses)} files recorded",
        ok,
    )
    assert statuses.get("2020-12-23_p2.html") == "loaded"
    assert units == 9
    assert len(statuses) == len(CASES) + 1
