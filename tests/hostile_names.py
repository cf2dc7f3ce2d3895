"""A warehouse whose unit names and file name are built to be turned against their readers.

One published Zhumadian week (2021-01-04) whose units are named like spreadsheet formulas,
Markdown links, HTML and terminal control sequences, read from a file whose name is one
too. Rows go in by hand (as the golden marts tests do): the parser is not what is tried
here, what the warehouse shows is.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from testdata import build_models, bulletin_row, file_row, load_rows, unit_row

from flows.warehouse.db import connection

# Units as a hostile page would print them (spaces go: unit names are folded without them).
FORMULA_NAMES = ("=市城管局+驿城区政府", "@SUM(1)", "+1", "-1+2")
LINK_NAME = "[click](http://evil)"
HTML_NAME = "<img/src=x/onerror=alert(1)>"
ESC = "\x1b"
OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # "write 'evil' to the clipboard"
ESCAPE_NAME = f"单位{OSC52}"
UNIT_NAMES = (*FORMULA_NAMES, LINK_NAME, HTML_NAME, ESCAPE_NAME)
# A file name cannot hold "/": the link goes elsewhere.
FILE_NAME = f"通报{OSC52}[click](javascript:alert(1)) <img src=x onerror=alert(1)>.txt"
# A second file, quarantined, so that `status` lists a name and a reason.
QUARANTINED_NAME = f"坏文件{OSC52}[x](javascript:alert(2)).txt"
WEEK = "2021-01-04"


def build_hostile_warehouse(db_path: Path) -> Path:
    """The week's rows, models built; every unit on the list with 1 of 10 unresolved."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    n = len(UNIT_NAMES)
    file = {**file_row(1, "2021-01-13"), "path": FILE_NAME}
    bad = {**file_row(2, None, status="quarantined"), "path": QUARANTINED_NAME, "reasons": [f"empty: {OSC52}"]}
    bulletin = bulletin_row(1, 1, WEEK, "2021-01-13", overdue=n, overdue_units=n, closed=95 - n)
    units = [unit_row(1, 1, name, 10, 1, row_no=i) for i, name in enumerate(UNIT_NAMES, start=1)]
    with connection(db_path) as con:
        load_rows(con, {"ingest.files": [file, bad], "raw.bulletins": [bulletin], "raw.bulletin_units": units})
        build_models(con)
    return db_path


def rendered(text: str) -> str:
    """The Markdown as a CommonMark renderer with raw HTML allowed (as a UI may) turns it into HTML."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


def assert_inert(text: str) -> None:
    """No link, image or HTML of a page's making in the Markdown's HTML; no control character in it."""
    html = rendered(text)
    assert "<a " not in html and "<img" not in html and "<script" not in html
    assert "http://evil" not in text  # (a GFM renderer would link a bare URL)
    assert ESC not in text and "\x07" not in text
