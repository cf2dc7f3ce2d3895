r"""Pure parser: one page file's bytes to typed records (no Prefect, no DuckDB here).

    >>> from flows.parsing import parse_file
    >>> page = parse_file("2020-12-23_page.txt", "时政要闻\n\n标题\n\n本报讯(记者 黄育南)12月22日,正文。".encode())
    >>> page.issue_date, page.section, page.articles[0].reporters, page.articles[0].event_date
    (datetime.date(2020, 12, 23), '时政要闻', ('黄育南',), datetime.date(2020, 12, 22))
    >>> parse_file("x.txt", b"\x00\x01binary")
    Rejection(reason='not text', detail='NUL bytes near the start: a binary file', encoding=None)

Modules, in the order a file goes through them: `decode` (bytes -> text or rejection),
`normalize` (editor codes off, NFKC, rejoining), `issue_date`, `page` (section and
items), `page_tables` (every table in the page's lines, for `core.page_tables` and for
`formats/unknown`), `formats/` (bulletin layouts behind `BulletinFormat`), `checks` (named
checks on every bulletin, and what each failed one compared), with `bylines` and `dates`
as helpers.

Knowingly not handled (see the tests for what is):
- UTF-16/32 files without a BOM (rejected as "not text": NUL bytes) and 8-bit encodings other than
  GB18030 (read as GB18030 when it decodes them cleanly, else "undecodable").
- Subheadings inside an article are glued to the next paragraph (the rejoin rule); a
  title with a comma is only taken as one when a byline lead follows it; of two heading
  lines, the second is a subtitle only when it starts with a dash (else kicker + title).
- Section names over 8 characters or with digits ("第2版 时政要闻"); bylines other than
  本报讯(...), a "本报记者 X" line, □ authors and "记者 X 摄" credits (no names read).
- Figures with thousands separators (not read: `numbers_well_formed` fails) or in Chinese
  numerals (the figure is missing and `figures_present` fails); unit names containing
  digits (split at the first digit).
"""

from __future__ import annotations

from flows.parsing.parse import parse_file
from flows.parsing.records import Article, Bulletin, BulletinUnitRow, ParsedPage, Rejection

__all__ = ["Article", "Bulletin", "BulletinUnitRow", "ParsedPage", "Rejection", "parse_file"]
