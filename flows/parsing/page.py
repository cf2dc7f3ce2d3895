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
    People,
    is_lead,
    read_box_line,
    read_byline_line,
    split_credit,
    split_news_byline,
)
from flows.parsing.dates import first_date
from flows.parsing.formats import FORMATS, BulletinFormat, Span
from flows.parsing.issue_date import read_date_line
from flows.parsing.normalize import Line, is_terminated, rejoin, squeeze
from flows.parsing.records import Article, ArticleKind, Bulletin

MAX_SECTION_CHARS = 8
MAX_HEADING_CHARS = 40
MAX_HEADING_LINES = 3  # kicker, title, subtitle
HEADER_LINES = 3  # the section name and date lines sit among the first few lines

# A heading does not end like a sentence cut short.
_OPEN_END = re.compile(r"[,、:;(“‘《\-—]$")
_SUBTITLE = re.compile(r"^[—\-–]+\s*")
# A section name is a bare word: no digits, no punctuation.
_SECTION = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Para:
    """A non-blank line (or a line holding only an editor code) and the blank lines before it."""

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
        return (self.heading or self.paras)[0].no


@dataclass(frozen=True, slots=True)
class PageItems:
    """What a page holds besides its encoding and date."""

    section: str | None
    articles: tuple[Article, ...]
    bulletins: tuple[Bulletin, ...]


def _paras(lines: Sequence[Line]) -> list[Para]:
    paras: list[Para] = []
    blanks = 0
    for line in lines:
        if line.blank and line.editor_code is None:
            blanks += 1
            continue
        paras.append(Para(line, blanks))
        blanks = 0
    return paras


def _heading_like(line: Line) -> bool:
    text = line.text
    return (
        line.editor_code is None
        and 0 < len(text) <= MAX_HEADING_CHARS
        and "\t" not in text
        and "。" not in text
        and not is_terminated(text)
        and _OPEN_END.search(text) is None
        and not is_lead(text)
        and split_credit(text) is None
    )


def _heading_run(paras: Sequence[Para], i: int) -> int:
    """Count heading-like lines from i, up to one more than a heading can have."""
    run = 0
    while run <= MAX_HEADING_LINES and i + run < len(paras) and _heading_like(paras[i + run].line):
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


def _segment(paras: Sequence[Para]) -> list[Draft]:
    """Split a run of paragraphs (no bulletin inside) into items."""
    drafts: list[Draft] = []
    current: Draft | None = None
    ended, prev_terminated = True, True
    i = 0
    while i < len(paras):
        para = paras[i]
        line = para.line
        run = _heading_run(paras, i)
        following = paras[i + run] if i + run < len(paras) else None
        if 0 < run <= MAX_HEADING_LINES and _opens_item(paras[i : i + run], following, ended, prev_terminated):
            current = Draft(heading=[p.line for p in paras[i : i + run]], last_no=paras[i + run - 1].line.no)
            drafts.append(current)
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
        # A caption after a gap of blank lines is a photo of its own, not the item's.
        lone_caption = para.blanks_before >= 2 and prev_terminated and split_credit(line.text) is not None
        if current is None or ended or lone_caption:
            current = Draft()
            drafts.append(current)
        current.last_no = line.no
        current.paras.append(line)
        if line.editor_code is not None:
            current.editor_code = line.editor_code
            ended = True
        else:
            # A caption standing alone is a whole photo item.
            ended = bool(current.paras) and all(split_credit(p.text) for p in current.paras)
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
        credit = split_credit(text)
        if credit is not None:
            text = credit[0]
            photographers.extend(n for n in credit[1] if n not in photographers)
        if text:
            paragraphs.append(text)
    kind: ArticleKind = "news"
    if has_authors:
        kind = "commentary"
    elif draft.paras and all(split_credit(p.text) for p in draft.paras):
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


def _section(paras: list[Para]) -> tuple[str | None, int]:
    """Find the section name among the first lines; return it and where the items begin."""
    i = 0
    section: str | None = None
    while i < min(len(paras), HEADER_LINES):
        text = paras[i].line.text
        if read_date_line(text) is not None:
            i += 1
            continue
        following = paras[i + 1].line.text if i + 1 < len(paras) else ""
        is_section = (
            section is None
            and len(text.replace(" ", "")) <= MAX_SECTION_CHARS
            and _SECTION.fullmatch(text.replace(" ", "")) is not None
            and following != ""
            and not is_lead(following)
        )
        if not is_section:
            break
        section = text.replace(" ", "")
        i += 1
    return section, i


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


def read_page(lines: Sequence[Line], issue_date: date | None) -> PageItems:
    """Split a page's lines into articles and bulletins, in page order."""
    raw = [line.raw for line in lines]
    spans = _bulletin_spans(lines)
    gaps, start = [], 0
    for _, span in spans:
        gaps.append(lines[start : span.start])
        start = span.end + 1
    gaps.append(lines[start:])

    first_gap = _paras(gaps[0])
    section, skip = _section(first_gap)
    # (line where it starts, draft or bulletin read) in page order
    drafts = [d for k, gap in enumerate(gaps) for d in _segment(first_gap[skip:] if k == 0 else _paras(gap))]
    reads = [(fmt, span, fmt.parse(lines, span, issue_date)) for fmt, span in spans]
    order = sorted(
        [(d.first_no, 0, k) for k, d in enumerate(drafts)] + [(r[2].bulletin.line_start, 1, k) for k, r in enumerate(reads)]
    )
    articles: list[Article] = []
    bulletins: list[Bulletin] = []
    for seq, (_, is_bulletin, k) in enumerate(order, start=1):
        if not is_bulletin:
            articles.append(_article(drafts[k], seq, section, issue_date, raw))
            continue
        _, span, read = reads[k]
        bulletin = replace(read.bulletin, seq=len(bulletins) + 1, article_seq=seq)
        bulletins.append(bulletin)
        codes = [line.editor_code for line in lines[span.start : span.end + 1] if line.editor_code]
        articles.append(
            Article(
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
                event_date=None,
                body=read.body,
                editor_code=codes[-1] if codes else None,
                original_text="\n".join(raw[bulletin.line_start - 1 : bulletin.line_end]),
                line_start=bulletin.line_start,
                line_end=bulletin.line_end,
            )
        )
    return PageItems(section, tuple(articles), tuple(bulletins))
