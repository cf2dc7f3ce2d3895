"""A page's items in order: the section name, then news, photo, commentary and bulletins.

How an item is told apart (the e-paper text has no markup):
- Bulletins are found first by the formats in `flows.parsing.formats`; the lines between
  them are split into items.
- A heading is a run of 1-3 short lines (kicker, title, subtitle) without sentence-final
  punctuation. It opens an item when a lead follows it (本报讯(...), □ authors), or when
  the item before has ended (editor code, photo caption, start of the page or of the
  text after a bulletin), or after two or more blank lines following a finished
  sentence. Otherwise a short line is a fragment of the paragraph around it.
- An editor code (②6) ends an item; so does a photo caption (a paragraph ending in
  "记者 X 摄") that stands alone.
- Bodies are the item's paragraphs without the byline (本报讯(...) or a line of its
  own: 本报记者 X), box line and photo credit, rejoined across column breaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from flows.parsing.bylines import (
    CREDIT_ENDS,
    People,
    is_lead,
    read_box_line,
    read_byline_line,
    split_credit,
    split_news_byline,
)
from flows.parsing.dates import first_date
from flows.parsing.formats import FORMATS, BulletinFormat, BulletinRead, Span
from flows.parsing.formats.unknown import unknown_bulletins
from flows.parsing.issue_date import read_date_line
from flows.parsing.normalize import Line, is_terminated, rejoin, squeeze
from flows.parsing.page_tables import PageTable
from flows.parsing.records import Article, ArticleKind, Bulletin, UnknownBulletin

MAX_SECTION_CHARS = 8
MAX_HEADING_CHARS = 40
MAX_HEADING_LINES = 3  # kicker, title, subtitle
HEADER_LINES = 3  # the section name and date lines sit among the first few lines

# A heading does not end like a sentence cut short: in one of these, or one of these and a
# final newline (what `[,、:;(“‘《\-—]$` would search for).
_OPEN_END_CHARS = ",、:;(“‘《-—"
_OPEN_ENDS = (*_OPEN_END_CHARS, *(c + "\n" for c in _OPEN_END_CHARS))
_SUBTITLE = re.compile(r"^[—\-–]+\s*")
# A section name is a bare word: no digits, no punctuation.
_SECTION = re.compile(r"[^\W\d_]+")


@dataclass(slots=True)
class Para:
    """A non-blank line (or a line holding only an editor code) and the blank lines before it.

    Not frozen, though nothing changes one once made: built for most lines of every page,
    where a frozen dataclass costs four times a plain one (see `Line`).
    """

    line: Line
    blanks_before: int


@dataclass(slots=True)
class Draft:
    """An item being assembled."""

    heading: list[Line] = field(default_factory=list)
    paras: list[Line] = field(default_factory=list)
    editor_code: str | None = None
    last_no: int = 0

    @property
    def first_no(self) -> int:
        """The item's first line number."""
        return (self.heading or self.paras)[0].no


@dataclass(frozen=True, slots=True)
class PageItems:
    """What a page holds besides its encoding and date."""

    section: str | None
    articles: tuple[Article, ...]
    bulletins: tuple[Bulletin, ...]
    unknown_bulletins: tuple[UnknownBulletin, ...]


def _paras(lines: Sequence[Line], limit: int | None = None) -> list[Para]:
    """List the non-blank lines (and lines holding only an editor code) with the blanks before each.

    With `limit`, only the first `limit` of them.
    """
    paras: list[Para] = []
    blanks = 0
    for line in lines:
        if not line.text and line.editor_code is None:  # Line.blank, without the property call
            blanks += 1
            continue
        paras.append(Para(line, blanks))
        if len(paras) == limit:
            break
        blanks = 0
    return paras


def _heading_like(line: Line) -> bool:
    """Say whether a line could be a kicker, title or subtitle: short, no sentence in it."""
    text = line.text
    return (
        line.editor_code is None
        and 0 < len(text) <= MAX_HEADING_CHARS
        and "\t" not in text
        and "。" not in text
        and not is_terminated(text)
        and not text.endswith(_OPEN_ENDS)
        and not is_lead(text)
        and split_credit(text) is None
    )


def _heading_run(like: Sequence[bool], i: int) -> int:
    """Count heading-like lines from i (`like`: `_heading_like` of each), up to one more than a heading can have."""
    run = 0
    while run <= MAX_HEADING_LINES and i + run < len(like) and like[i + run]:
        run += 1
    return run


def _opens_item(group: Sequence[Para], following: Para | None, ended: bool, prev_terminated: bool) -> bool:
    """Say whether a run of heading-like lines is an item's heading."""
    if following is not None and is_lead(following.line.text):
        return True
    # Without a lead to confirm it, a line with a comma is more likely a cut sentence.
    if any("," in p.line.text for p in group):
        return False
    return ended or (group[0].blanks_before >= 2 and prev_terminated)


def _is_photo(paras: Sequence[Line]) -> bool:
    """Say whether an item's text is only photo captions (each ending in "记者 X 摄")."""
    return bool(paras) and all(split_credit(p.text) is not None for p in paras)


def _segment(paras: Sequence[Para]) -> list[Draft]:
    """Split a run of paragraphs (no bulletin inside) into items."""
    drafts: list[Draft] = []
    current: Draft | None = None
    # Whether every paragraph of `current` so far is a photo caption: `_is_photo(current.paras)`
    # kept up to date as paragraphs come, instead of asked again over all of them.
    all_captions = True
    ended, prev_terminated = True, True
    # Whether each paragraph could be a heading, asked once each rather than again for
    # every run it could be part of; a long line is none (the first tests, inline).
    like = [
        len(p.line.text) <= MAX_HEADING_CHARS and p.line.editor_code is None and _heading_like(p.line) for p in paras
    ]
    i = 0
    while i < len(paras):
        para = paras[i]
        line = para.line
        run = _heading_run(like, i) if like[i] else 0
        following = paras[i + run] if i + run < len(paras) else None
        if 0 < run <= MAX_HEADING_LINES and _opens_item(paras[i : i + run], following, ended, prev_terminated):
            current = Draft(heading=[p.line for p in paras[i : i + run]], last_no=paras[i + run - 1].line.no)
            drafts.append(current)
            all_captions = True
            ended, prev_terminated = False, True
            i += run
            continue
        if not line.text:
            # A line holding only an editor code closes the item before it.
            if current is not None:
                current.editor_code, current.last_no = line.editor_code, line.no
            ended = prev_terminated = True
            i += 1
            continue
        # A credit ends in 摄 (split_credit's own first test, here without the call).
        caption = line.text[-1:] == "摄" and split_credit(line.text) is not None
        # A caption after a gap of blank lines is a photo of its own, not the item's.
        lone_caption = para.blanks_before >= 2 and prev_terminated and caption
        if current is None or ended or lone_caption:
            current = Draft()
            drafts.append(current)
            all_captions = True
        current.last_no = line.no
        current.paras.append(line)
        all_captions = all_captions and caption
        if line.editor_code is not None:
            current.editor_code = line.editor_code
            ended = True
        else:
            # A caption standing alone is a whole photo item (`_is_photo(current.paras)`).
            ended = all_captions
        prev_terminated = ended or is_terminated(line.text)
        i += 1
    return drafts


def _heading_parts(texts: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """Name the heading lines: title; kicker + title (or title + ——subtitle); kicker + title + subtitle."""
    if not texts:
        return None, None, None
    if len(texts) == 1:
        return None, texts[0], None
    if len(texts) == 2:
        if _SUBTITLE.match(texts[1]):
            return None, texts[0], _SUBTITLE.sub("", texts[1])
        return texts[0], texts[1], None
    return texts[0], texts[1], _SUBTITLE.sub("", texts[2])


def _article(draft: Draft, seq: int, section: str | None, issue_date: date | None, raw: Sequence[str]) -> Article:
    """Build an Article from a draft item."""
    people = People()
    photographers: list[str] = []
    paragraphs: list[str] = []
    has_authors = False
    for k, line in enumerate(draft.paras):
        text = line.text
        if k == 0:
            box = read_box_line(text) or read_byline_line(text)
            if box is not None:
                people, has_authors = box, bool(box.authors)
                continue
            text, byline = split_news_byline(text)
            if byline is not None:
                people = byline
        # split_credit's own first test, here without the call: most paragraphs have no credit.
        credit = split_credit(text) if text.endswith(CREDIT_ENDS) else None
        if credit is not None:
            text = credit[0]
            photographers.extend(n for n in credit[1] if n not in photographers)
        if text:
            paragraphs.append(text)
    kind: ArticleKind = "news"
    if has_authors:
        kind = "commentary"
    elif draft.paras and draft.paras[0].text.endswith(CREDIT_ENDS) and _is_photo(draft.paras):
        # (_is_photo asks split_credit of every paragraph, the first included, whose
        # first test is this one: most items end there.)
        kind = "photo"
    kicker, title, subtitle = _heading_parts([squeeze(line.text) for line in draft.heading])
    first, last = draft.first_no, draft.last_no
    return Article(
        seq=seq,
        section=section,
        kind=kind,
        kicker=kicker,
        title=title,
        subtitle=subtitle,
        reporters=tuple(people.reporters),
        correspondents=tuple(people.correspondents),
        photographers=tuple(photographers),
        authors=tuple(people.authors),
        event_date=first_date(paragraphs[0], issue_date) if paragraphs else None,
        body="\n".join(rejoin(paragraphs)),
        editor_code=draft.editor_code,
        original_text="\n".join(raw[first - 1 : last]),
        line_start=first,
        line_end=last,
    )


def _section(lines: Sequence[Line], limit: int) -> tuple[str | None, int]:
    """Find the section name (and date lines) among the first lines before `limit`.

    Return it and the index of the first line after the header.
    """
    paras = _paras(lines, HEADER_LINES + 1)  # the header lines and the one after them
    section: str | None = None
    header_end = 0
    for i, para in enumerate(paras[:HEADER_LINES]):
        text = para.line.text
        if para.line.no > limit:
            break
        if read_date_line(text) is None:
            word = text.replace(" ", "")
            following = paras[i + 1].line.text if i + 1 < len(paras) else ""
            if (
                section is not None
                or len(word) > MAX_SECTION_CHARS
                or _SECTION.fullmatch(word) is None
                or not following
                or is_lead(following)
            ):
                break
            section = word
        header_end = para.line.no  # line numbers are 1-based: the next line's index
    return section, header_end


def _bulletin_spans(lines: Sequence[Line]) -> list[tuple[BulletinFormat, Span]]:
    """Ask every format for its bulletins; where two claim the same lines, the first listed wins."""
    found = sorted(
        ((fmt, span) for fmt in FORMATS for span in fmt.recognise(lines)),
        key=lambda pair: pair[1].start,
    )
    kept: list[tuple[BulletinFormat, Span]] = []
    for fmt, span in found:
        if not kept or span.start > kept[-1][1].end:
            kept.append((fmt, span))
    return kept


def _bulletin_article(read: BulletinRead, lines: Sequence[Line], seq: int, section: str | None) -> Article:
    """Build the Article (kind bulletin) a bulletin was read from."""
    first, last = read.bulletin.line_start, read.bulletin.line_end
    codes = [line.editor_code for line in lines[first - 1 : last] if line.editor_code]
    return Article(
        seq=seq,
        section=section,
        kind="bulletin",
        kicker=None,
        title=read.title,
        subtitle=None,
        reporters=(),
        correspondents=(),
        photographers=(),
        authors=(),
        event_date=None,  # the bulletin's dates are its period
        body=read.body,
        editor_code=codes[-1] if codes else None,
        original_text="\n".join(line.raw for line in lines[first - 1 : last]),
        line_start=first,
        line_end=last,
    )


def read_page(lines: Sequence[Line], issue_date: date | None, tables: Sequence[PageTable] = ()) -> PageItems:
    """Split a page's lines into articles and bulletins, in page order.

    `tables`: the page's tables (`flows.parsing.page_tables.find_tables`), for what no format claims.
    """
    spans = _bulletin_spans(lines)
    section, start = _section(lines, spans[0][1].start if spans else len(lines))
    gaps = []
    for _, span in spans:
        gaps.append(lines[start : span.start])
        start = span.end + 1
    gaps.append(lines[start:])
    # The header lines are outside the gaps but may hold an unknown bulletin's title.
    unclaimed = [lines[: spans[0][1].start] if spans else lines, *gaps[1:]]
    drafts = [draft for gap in gaps for draft in _segment(_paras(gap))]
    reads = [fmt.parse(lines, span, issue_date) for fmt, span in spans]
    # Page order: by first line; a draft and a bulletin never share one.
    order = sorted(
        [(d.first_no, k, False) for k, d in enumerate(drafts)]
        + [(r.bulletin.line_start, k, True) for k, r in enumerate(reads)]
    )
    raw = [line.raw for line in lines]
    articles: list[Article] = []
    bulletins: list[Bulletin] = []
    for seq, (_, k, is_bulletin) in enumerate(order, start=1):
        if is_bulletin:
            bulletins.append(replace(reads[k].bulletin, seq=len(bulletins) + 1, article_seq=seq))
            articles.append(_bulletin_article(reads[k], lines, seq, section))
        else:
            articles.append(_article(drafts[k], seq, section, issue_date, raw))
    return PageItems(section, tuple(articles), tuple(bulletins), unknown_bulletins(unclaimed, tables))
