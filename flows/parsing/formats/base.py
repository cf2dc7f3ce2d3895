"""The interface every bulletin format implements: find its bulletins on a page, read one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from flows.parsing.normalize import Line
from flows.parsing.records import Bulletin


@dataclass(frozen=True, slots=True)
class Span:
    """A bulletin's lines: indexes into the page's line list, both ends included."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class BulletinRead:
    """What a format reads from a span: the bulletin and its article's title and body.

    `bulletin.seq` and `bulletin.article_seq` are 0: the page numbers them.
    """

    title: str | None
    body: str
    bulletin: Bulletin


def spans_from_titles(lines: Sequence[Line], starts: Sequence[int]) -> list[Span]:
    """One span per title line in `starts` (ascending): from it to the next title, or to the
    page's end, without the blank lines before either."""
    spans = []
    for k, start in enumerate(starts):
        last = (starts[k + 1] if k + 1 < len(starts) else len(lines)) - 1
        while last > start and lines[last].blank:
            last -= 1
        spans.append(Span(start, last))
    return spans


class BulletinFormat(Protocol):
    """One city's bulletin layout."""

    name: str  # recorded in Bulletin.format, e.g. "zhumadian_weekly"
    city: str  # recorded in Bulletin.city: the publisher's city, e.g. "驻马店"
    check_names: tuple[str, ...]  # every check it can record in Bulletin.failed_checks, in order
    # Whether each unit group (BulletinUnitRow.unit_group) is a list of its own. True: a
    # unit may be listed in two groups at once, and is followed week to week within each
    # (Sanmenxia: one table per channel). False: the groups are parts of one list, a unit
    # is listed once and is the same unit when printed in another group the next week
    # (Zhumadian: districts and city units). The warehouse reads it from
    # seeds.bulletin_formats (core.bulletin_units.unit_list).
    groups_are_lists: bool

    def recognise(self, lines: Sequence[Line]) -> list[Span]:
        """Return the spans of this format's bulletins on the page, in order (none: []).

        Claim a span only when the format's own title or signature is in it: a page of
        another city's bulletin must not become a failing bulletin of this format. This
        runs on every page (most have no bulletin): keep it to cheap tests per line.
        """
        ...

    def parse(self, lines: Sequence[Line], span: Span, issue_date: date | None) -> BulletinRead:
        """Read the bulletin in `span`; never raise: what cannot be read fails a check."""
        ...
