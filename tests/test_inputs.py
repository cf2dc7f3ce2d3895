"""Inputs as published: the sample page as a web page, Word, Excel, PDF and UTF-16/32 text.

Each gives the same bulletin and unit rows as the text page (through `parse_input`, what
the pipeline calls), and the same marts through a warehouse build.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from pdf_pages import to_pdf
from pipeline_helpers import load_without_prefect, query

from flows.devtools.input_files import page_blocks, sample_text, to_docx, to_html, to_pdf_chromium, to_xlsx
from flows.inputs import kind_of, parse_input, read_input
from flows.inputs.page import InputPage
from flows.parsing import ParsedPage, parse_file
from flows.parsing.tables import table_from_rows

NAME = "2020-12-23_p2"


def core_rows(page: ParsedPage) -> dict[str, Any]:
    """What the warehouse keeps of a page's bulletins and units, less line numbers (the layout moves them)."""
    bulletins = [
        (
            b.format,
            b.city,
            b.period_start,
            b.period_end,
            b.received,
            b.due,
            b.closed,
            b.in_progress,
            b.overdue,
            b.disputed,
            b.closure_rate_published,
            b.linked_units,
            b.overdue_units,
            b.as_of,
            b.failed_checks,
        )
        for b in page.bulletins
    ]
    units = [
        (u.unit_group, u.unit_name_raw, u.dispatched, u.unresolved, u.row_no, u.closed)
        for b in page.bulletins
        for u in b.units
    ]
    return {"issue_date": page.issue_date, "bulletins": bulletins, "units": units}


@pytest.fixture(scope="module")
def chromium_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The web page printed to PDF by Chromium (a text layer), once for the module's tests that read it."""
    return to_pdf_chromium(tmp_path_factory.mktemp("chromium"))


def text_page() -> ParsedPage:
    page = parse_file(f"{NAME}.txt", sample_text().encode("utf-8"))
    assert isinstance(page, ParsedPage)
    return page


INPUTS = {
    # Pages that declare GB2312 are GBK in fact (驻马店's 晞 is not in GB2312): read as GB18030.
    "html-gb2312": (".html", lambda: to_html("gb2312").encode("gbk"), "html:gb18030"),
    "html-utf8": (".htm", lambda: to_html("utf-8").encode("utf-8"), "html:utf-8"),
    "docx": (".docx", to_docx, "docx"),
    "xlsx": (".xlsx", to_xlsx, "xlsx"),
    "utf16-le": (".txt", lambda: sample_text().encode("utf-16-le").join([b"\xff\xfe", b""]), "utf-16-le"),
    "utf16-be": (".txt", lambda: b"\xfe\xff" + sample_text().encode("utf-16-be"), "utf-16-be"),
    "utf32": (".txt", lambda: sample_text().encode("utf-32"), "utf-32-le"),
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_each_input_gives_the_text_pages_bulletin_and_units(kind: str) -> None:
    suffix, make, encoding = INPUTS[kind]
    page = parse_input(NAME + suffix, make())
    assert isinstance(page, ParsedPage), page
    assert page.encoding == encoding
    assert core_rows(page) == core_rows(text_page())
    assert page.bulletins[0].failed_checks == ()
    assert len(page.bulletins[0].units) == 9


@pytest.mark.parametrize("kind", ["html-gb2312", "html-utf8"])
def test_a_web_page_loses_its_boilerplate_and_keeps_its_articles(kind: str) -> None:
    suffix, make, _ = INPUTS[kind]
    page = parse_input(NAME + suffix, make())
    assert isinstance(page, ParsedPage)
    bodies = "\n".join(f"{a.title} {a.body}" for a in page.articles)
    for furniture in ("_hmt", "document.write", "广告", "新闻中心", "当前位置", "版权所有", "分享到微信", ".nav"):
        assert furniture not in bodies
    assert "第2版 时政要闻" not in [a.title for a in page.articles]  # the <title> is no item
    assert [(a.kind, a.title) for a in page.articles] == [(a.kind, a.title) for a in text_page().articles]
    assert [a.body for a in page.articles] == [a.body for a in text_page().articles]


def test_the_tables_keep_their_spans_source_lines_and_page_lines() -> None:
    page = read_input("p.html", to_html("utf-8").encode("utf-8"))
    assert isinstance(page, InputPage)
    first = page.tables[0]
    assert first.origin == "html table 1"
    assert (first.n_rows, first.n_cols) == (6, 4)  # 3 columns and the merged margin column
    caption = first.cells[0]
    assert (caption.text, caption.colspan, caption.rowspan) == ("市辖区(管委会)组", 3, 1)
    margin = first.cells[1]
    assert (margin.row, margin.col, margin.rowspan) == (0, 3, 6)
    assert all(cell.source and cell.source.startswith("line ") for cell in first.cells)
    lines = page.text.split("\n")
    assert [lines[n - 1] for n in first.row_lines if n] == [
        "市辖区(管委会)组",
        "单位\t交办件\t未办结件",
        "驿城区政府\t1013件\t8件",
        "经济开发区管委会\t503件\t6件",
        "市城乡一体化示范区管委会\t16件\t5件",
        "驻马店市数字化城市管理领导小组",
    ]
    # The grid resolves spans: the margin cell covers column 4 of every row.
    assert all(row[3] is margin for row in first.grid())


def test_a_grouping_column_spanning_rows_is_printed_once_and_resolved_in_the_grid() -> None:
    table = table_from_rows(
        1, "t", [[("组别", 1, 1), ("单位", 1, 1)], [("市辖区组", 2, 1), ("驿城区", 1, 1)], [("开发区", 1, 1)]]
    )
    assert table.printed_rows() == [["组别", "单位"], ["市辖区组", "驿城区"], ["", "开发区"]]
    assert [[c.text if c else None for c in row] for row in table.grid()] == [
        ["组别", "单位"],
        ["市辖区组", "驿城区"],
        ["市辖区组", "开发区"],
    ]


def test_docx_and_xlsx_keep_merged_cells_as_spans() -> None:
    word = read_input("p.docx", to_docx())
    sheet = read_input("p.xlsx", to_xlsx())
    assert isinstance(word, InputPage) and isinstance(sheet, InputPage)
    assert word.tables[0].cells[0].colspan == 3 and word.tables[0].cells[0].text == "市辖区(管委会)组"
    assert [t.origin for t in sheet.tables] == ["sheet 第2版"]
    merged = [c for c in sheet.tables[0].cells if c.colspan == 3]
    assert {c.text for c in merged} == {"市辖区(管委会)组", "驻马店市数字化城市管理领导小组"}
    assert merged[0].source is not None and merged[0].source.startswith("第2版!A")


def test_a_text_layer_pdf_gives_the_text_pages_bulletin_units_and_articles(chromium_pdf: bytes) -> None:
    """Chromium's print of the web page: wrapped lines joined, a table cut by the page break rejoined."""
    page = parse_input(f"{NAME}.pdf", chromium_pdf)
    assert isinstance(page, ParsedPage), page
    assert page.encoding == "pdf"
    assert core_rows(page) == core_rows(text_page())
    assert [(a.kind, a.title, a.body) for a in page.articles] == [
        (a.kind, a.title, a.body) for a in text_page().articles
    ]


def test_a_text_layer_pdf_gives_the_unit_tables_as_tables(chromium_pdf: bytes) -> None:
    """Chromium's print of the web page: the ruled tables come back cell by cell."""
    page = read_input("p.pdf", chromium_pdf)
    assert isinstance(page, InputPage) and page.kind == "pdf"
    # Chromium maps some glyphs to Kangxi radicals (⼀): NFKC, as the parser's lines have it, folds them.
    rows = [tuple(unicodedata.normalize("NFKC", c) for c in r) for t in page.tables for r in t.printed_rows()]
    expected = [tuple(cells) for block in page_blocks() if isinstance(block, list) for cells in block]
    units = [r for r in expected if len(r) == 3 and r[0] != "单位"]
    assert units and all(r in rows for r in units)
    assert "驻马店市数字化城市管理案件办理后进单位周通报" in page.text  # ⻢ (a radical) put back to 马


def test_a_pdf_pdfminer_cannot_read_is_read_with_pdfium() -> None:
    """fpdf2's CJK subsets: pdfminer finds no character, PDFium reads the text."""
    page = read_input("p.pdf", to_pdf())
    assert isinstance(page, InputPage)
    assert "驿城区政府 1013件 8件" in page.text
    assert any("PDFium" in w for w in page.warnings)


def test_kinds_are_told_by_their_bytes_before_their_names() -> None:
    assert kind_of("a.txt", to_docx()) == "docx"
    assert kind_of("a.docx", to_xlsx()) == "xlsx"
    assert kind_of("a.html", sample_text().encode()) == "text"  # named .html, holds no tag
    assert kind_of("a.txt", "\ufeff<!DOCTYPE html><p>x".encode()) == "html"
    assert kind_of("a.txt", "<html><body>x".encode("utf-16")) == "html"


@pytest.mark.scenario
def test_the_same_marts_from_each_input(tmp_path: Path, chromium_pdf: bytes) -> None:
    """A warehouse built from each input holds the same bulletin, units and mart rows as from the text page."""
    sql = {
        "bulletins": "select city, period_start, received, due, closed, overdue, failed_checks from core.bulletins",
        "units": "select unit_group, unit_name_raw, dispatched, unresolved from core.bulletin_units order by row_no",
        "marts": "select * from marts.unit_week_performance order by all",
    }

    def build(kind: str, name: str, data: bytes) -> dict[str, list[Any]]:
        inbox = tmp_path / kind / "inbox"
        inbox.mkdir(parents=True)
        (inbox / name).write_bytes(data)
        db = load_without_prefect(inbox, tmp_path / kind / "wh")
        return {k: query(db, q) for k, q in sql.items()}

    expected = build("text", f"{NAME}.txt", sample_text().encode("utf-8"))
    assert expected["units"] and expected["marts"]
    for kind in ("html-gb2312", "docx", "xlsx", "utf16-le"):
        suffix, make, _ = INPUTS[kind]
        assert build(kind, NAME + suffix, make()) == expected, kind
    assert build("pdf", f"{NAME}.pdf", chromium_pdf) == expected


def test_garbage_after_a_utf16_bom_is_undecodable_not_text() -> None:
    """Nearly any even run of bytes reads as UTF-16 without an error; garbage after FF FE must
    not load as a page of mixed scripts (the sample page in UTF-16 still reads)."""
    from testdata import SAMPLE_PAGE

    from flows.parsing.decode import decode
    from flows.parsing.records import Rejection

    garbage = decode(bytes([0xFF, 0xFE, 0xFD, 0x81, 0x30]) * 400)
    assert isinstance(garbage, Rejection) and garbage.reason == "undecodable"
    assert "no script a Chinese page uses" in garbage.detail
    page = decode(SAMPLE_PAGE.read_text(encoding="utf-8").encode("utf-16"))
    assert not isinstance(page, Rejection) and page.encoding == "utf-16-le"
