"""One file's bytes to a ParsedPage or a Rejection."""

from __future__ import annotations

from datetime import date

from flows.parsing.decode import Decoded, decode
from flows.parsing.issue_date import issue_date
from flows.parsing.normalize import to_lines
from flows.parsing.page import read_page
from flows.parsing.page_tables import find_tables
from flows.parsing.reasons import NO_ITEMS
from flows.parsing.records import ParsedPage, Rejection


def parse_file(file_name: str, data: bytes, *, not_after: date | None = None) -> ParsedPage | Rejection:
    """Parse one page file; never raises.

    `not_after`: the latest issue date to believe (the day after the file was first
    seen); a later date in the name or on the page is not used, with a warning.

    >>> parse_file("empty.txt", b"")
    Rejection(reason='empty', detail='0 bytes, no text', encoding=None)
    """
    decoded = decode(data)
    if isinstance(decoded, Rejection):
        return decoded
    return parse_decoded(file_name, decoded, not_after=not_after)


def parse_decoded(file_name: str, decoded: Decoded, *, not_after: date | None = None) -> ParsedPage:
    """Parse a page's decoded text: `parse_file` after decoding, and what `flows.inputs` calls
    with the text it made of a web page, Word, Excel or PDF file."""
    lines = to_lines(decoded.text)
    issued, source, date_warnings = issue_date(file_name, lines, not_after)
    tables = find_tables(lines)
    items = read_page(lines, issued, tables)
    warnings = [*decoded.warnings, *date_warnings]
    if not items.articles:
        warnings.append(NO_ITEMS)
    return ParsedPage(
        encoding=decoded.encoding,
        issue_date=issued,
        issue_date_source=source,
        section=items.section,
        articles=items.articles,
        bulletins=items.bulletins,
        warnings=tuple(warnings),
        unknown_bulletins=items.unknown_bulletins,
        tables=tables,
    )
