"""Web pages: the visible text in reading order, `<table>`s as tables, boilerplate dropped.

Parsed with lxml's HTML parser (libxml2: forgiving with the broken markup of real
sites). The charset: a BOM, else the page's `<meta charset>` / `http-equiv` declaration,
else detected as for a text page (`decode.decode_declared`). What is dropped: the
`<head>` (its `<title>` would become an item of its own), scripts, styles, forms,
navigation, headers, footers and asides outside the article, hidden elements, and
elements whose class or id names boilerplate (nav, menu, breadcrumb, footer, share,
copyright, ...). A `<table>` holding another table is layout: its cells are read as
paragraphs; a table with no table inside and two or more cells in a row is data.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

from flows.inputs.page import Block, InputPage, RawTable, assemble
from flows.inputs.refusals import broken
from flows.parsing.decode import decode_declared
from flows.parsing.reasons import EMPTY
from flows.parsing.records import Rejection
from flows.parsing.tables import RawCell

_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{1,40})""", re.IGNORECASE)
CHARSET_SNIFF_BYTES = 4096
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_DROP_TAGS = frozenset(
    {
        "head", "title", "script", "style", "noscript", "template", "iframe", "frame", "object", "embed",
        "svg", "canvas", "form", "button", "select", "input", "textarea", "option", "datalist", "map",
        "audio", "video", "nav",
    }
)  # fmt: skip
# Page furniture, dropped unless inside the article itself (an article's own <header>).
_FURNITURE_TAGS = frozenset({"header", "footer", "aside"})
_CONTENT_TAGS = frozenset({"article", "main"})
_BOILERPLATE_TOKENS = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "crumb", "crumbs", "footer",
        "foot", "sidebar", "share", "bdshare", "copyright", "banner", "toolbar", "search", "login",
        "topbar", "skip", "ads", "advert", "weixin", "qrcode",
    }
)  # fmt: skip
# Whole class or id values that name the site's header bar (a token "header" alone is
# too common inside articles: "article-header").
_BOILERPLATE_VALUES = frozenset({"header", "head", "top"})
_TOKEN_SPLIT = re.compile(r"[-_\s]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
        "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hgroup", "hr", "html", "li", "main", "menu", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f]+")
_DIGITS = re.compile(r"\s*(\d+)")


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in its first bytes (`<meta charset>` or `http-equiv`), if any.

    >>> declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    'gb2312'
    """
    m = _CHARSET.search(data, 0, CHARSET_SNIFF_BYTES)
    return m[1].decode("ascii").lower() if m else None


def read_html(data: bytes) -> InputPage | Rejection:
    """A web page's visible text and tables; a rejection for undecodable or unparsable bytes."""
    decoded = decode_declared(data, declared_charset(data))
    if isinstance(decoded, Rejection):
        return decoded
    markup = _XML_DECLARATION.sub("", decoded.text, count=1)
    parser = _parser()
    try:
        root = lxml.html.document_fromstring(markup, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        if "empty" in str(exc).lower():
            return Rejection(EMPTY, "a web page with no content (网页没有内容)", f"html:{decoded.encoding}")
        return broken("web page (HTML)", exc)
    # libxml2 stops reading below 256 nested elements (its guard against deep trees): what
    # lies deeper is lost, so the page is not read at all rather than read in part.
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        return broken(
            "web page (HTML)", "elements nested more than 256 deep: no real page is; the file was made to break readers"
        )
    blocks = _blocks(root)
    page = assemble("html", f"html:{decoded.encoding}", blocks, decoded.warnings)
    if isinstance(page, InputPage) and not page.text.strip():
        return Rejection(EMPTY, "a web page with no visible text (网页没有可见文字)", page.encoding)
    return page


def _parser() -> Any:
    # Comments and processing instructions are never shown; nothing is fetched.
    return lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


def _tag(node: Any) -> str | None:
    """The element's lower-case tag; None for comments, entities and processing instructions."""
    return node.tag.lower() if isinstance(node.tag, str) else None


def _dropped(node: Any, tag: str) -> bool:
    """Say whether an element is not part of what a reader sees as the page's content."""
    if tag in _DROP_TAGS:
        return True
    if tag in _FURNITURE_TAGS and not any(_tag(a) in _CONTENT_TAGS for a in node.iterancestors()):
        return True
    get = node.get
    if get("hidden") is not None or get("aria-hidden") == "true":
        return True
    style = get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    for name in ("class", "id"):
        value = get(name)
        if value:
            value = value.strip().lower()
            if value in _BOILERPLATE_VALUES or not _BOILERPLATE_TOKENS.isdisjoint(_TOKEN_SPLIT.split(value)):
                return True
    return False


def _is_data_table(table: Any) -> bool:
    """A table with no table inside and some row of two or more cells (else it is layout)."""
    if next(table.iterdescendants("table"), None) is not None:
        return False
    return any(sum(_tag(c) in ("td", "th") for c in row) >= 2 for row in table.iter("tr"))


def _blocks(root: Any) -> list[Block]:
    """The page's paragraphs and data tables in reading order (an explicit stack: any depth)."""
    blocks: list[Block] = []
    pieces: list[str] = []

    def flush() -> None:
        text = "".join(pieces)
        pieces.clear()
        lines = [_SPACES.sub(" ", part).strip() for part in text.split("\n")]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            blocks.append(paragraph)

    stack: list[tuple[Any, bool]] = [(root, False)]
    tables = 0
    while stack:
        node, closing = stack.pop()
        tag = _tag(node)
        if closing:
            if tag in _BLOCK_TAGS:
                flush()
            if node.tail and node is not root:  # a cell's tail is outside the cell
                pieces.append(node.tail)
            continue
        if tag is None or _dropped(node, tag):
            if node.tail:
                pieces.append(node.tail)
            continue
        if tag == "br":
            pieces.append("\n")
        elif tag == "table" and _is_data_table(node):
            flush()
            tables += 1
            caption = next(node.iterchildren("caption"), None)
            if caption is not None:
                blocks.append(_cell_text(caption))
            blocks.append(RawTable(f"html table {tables}", _rows(node)))
        else:
            if tag in _BLOCK_TAGS:
                flush()
            if node.text:
                pieces.append(node.text)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node))
            continue
        if node.tail:
            pieces.append(node.tail)
    flush()
    return blocks


def _rows(table: Any) -> list[list[RawCell]]:
    """A data table's rows of (text, rowspan, colspan, source line)."""
    rows: list[list[RawCell]] = []
    for tr in table.iter("tr"):
        cells: list[RawCell] = []
        for cell in tr:
            if _tag(cell) not in ("td", "th"):
                continue
            rowspan = _span(cell.get("rowspan"), default=1)
            colspan = max(_span(cell.get("colspan"), default=1), 1)
            line = cell.sourceline
            cells.append((_cell_text(cell), rowspan, colspan, f"line {line}" if line else None))
        rows.append(cells)
    return rows


def _span(value: str | None, default: int) -> int:
    """A rowspan or colspan attribute as browsers read it: its leading digits, else the default."""
    if value is None:
        return default
    m = _DIGITS.match(value)
    return int(m[1][:7]) if m else default


def _cell_text(cell: Any) -> str:
    """The visible text of a cell (or caption), on one line."""
    parts = [part for part in _blocks(cell) if isinstance(part, str)]
    return " ".join(" ".join(parts).split())
