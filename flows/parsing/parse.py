"""One file's bytes to a ParsedPage or a Rejection."""

from __future__ import annotations

from flows.parsing.decode import decode
from flows.parsing.issue_date import issue_date
from flows.parsing.normalize import to_lines
from flows.parsing.page import read_page
from flows.parsing.records import ParsedPage, Rejection


def parse_file(file_name: str, data: bytes) -> ParsedPage | Rejection:
    """Parse one page file; never raises.

    >>> parse_file("empty.txt", b"")
    Rejection(reason='empty', detail='0 bytes, no text', encoding=None)
    """
    decoded = decode(data)
    if isinstance(decoded, Rejection):
        return decoded
    lines = to_lines(decoded.text)
    issued, source = issue_date(file_name, lines)
    items = read_page(lines, issued)
    warnings = list(decoded.warnings)
    if not items.articles:
        warnings.append("no items found on the page")
    return ParsedPage(
        encoding=decoded.encoding,
        issue_date=issued,
        issue_date_source=source,
        section=items.section,
        articles=items.articles,
        bulletins=items.bulletins,
        warnings=tuple(warnings),
        unknown_bulletins=items.unknown_bulletins,
    )
