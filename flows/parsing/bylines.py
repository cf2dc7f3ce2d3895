"""People on the page: bylines (本报讯(记者 X 通讯员 Y)), □ authors, photo credits (记者 X 摄).

All functions take normalised (NFKC) text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Role words, longest first so that 本报记者 is not read as 本报 + 记者.
_ROLES: dict[str, str] = {
    "本报特约记者": "reporter",
    "本报见习记者": "reporter",
    "本报实习记者": "reporter",
    "本报通讯员": "correspondent",
    "本报记者": "reporter",
    "特约记者": "reporter",
    "见习记者": "reporter",
    "实习记者": "reporter",
    "摄影记者": "reporter",
    "实习生": "reporter",
    "通讯员": "correspondent",
    "记者": "reporter",
}
_ROLE_PREFIX = re.compile("^(?:" + "|".join(_ROLES) + ")")
_SEPARATORS = re.compile(r"[\s、,/]+")
# A person's name: 2-4 CJK characters, or a transliterated name with a middle dot.
_HAN = r"[\u3400-\u9fff\uf900-\ufaff]"
_NAME = re.compile(rf"{_HAN}{{2,4}}|{_HAN}+(?:·{_HAN}+)+")
MAX_BYLINE_CHARS = 40

# 本报讯(记者 黄育南): the bracket holds the byline; the lead text follows it.
_NEWS_BYLINE = re.compile(r"^本报讯\s*(?:[(\[【]([^)\]】]{0,80})[)\]】])?\s*")
# □ 张大成 李丹丹: the box line of a commentary (or □本报记者 X: a news byline).
_BOX_LINE = re.compile(r"^[□■]\s*(.{1,60})$")
# What comes after the last sentence end and before a final 摄: the photo credit.
_CREDIT = re.compile(r"(?:^|(?<=[。!?”’」』)]))\s*([^。!?”’」』)]{1,40}?)(\s*)摄$")
# Leads that open a news item without naming anyone.
_OTHER_LEADS = re.compile(r"^(?:本报记者|本报通讯员|据?新华社|据?人民网|据?中新社|据?央视)")
# The first characters any lead can have: of 本报讯 (_NEWS_BYLINE), of _OTHER_LEADS, of □■
# (_BOX_LINE) and of every role (a byline line starts with one: _ROLE_PREFIX).
_LEAD_STARTS = frozenset("本据新人中央□■" + "".join(role[0] for role in _ROLES))
# A text with a photo credit ends in one of these (`_CREDIT` ends in 摄$).
CREDIT_ENDS = ("摄", "摄\n")


@dataclass(slots=True)
class People:
    """Names by role, in the order printed."""

    reporters: list[str] = field(default_factory=list)
    correspondents: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    def add(self, role: str, name: str) -> None:
        """Add a name under a role (reporter, correspondent, author), once."""
        names = {"reporter": self.reporters, "correspondent": self.correspondents}.get(role, self.authors)
        if name not in names:
            names.append(name)


def read_roles(text: str, default: str) -> People | None:
    """Read "记者 王某 通讯员 李某" into names by role; None if a token is not a name."""
    people = People()
    role = default
    for token in _SEPARATORS.split(text.strip()):
        while (m := _ROLE_PREFIX.match(token)) is not None:
            role = _ROLES[m[0]]
            token = token[m.end() :]
        if not token:
            continue
        if _NAME.fullmatch(token) is None:
            return None
        people.add(role, token)
    return people


def split_news_byline(text: str) -> tuple[str, People | None]:
    """Take 本报讯(记者 X) off a lead: ("12月22日,...", People); (text, None) if there is none."""
    m = _NEWS_BYLINE.match(text)
    if m is None:
        return text, None
    people = read_roles(m[1], "reporter") if m[1] else People()
    return text[m.end() :], people or People()


def read_box_line(text: str) -> People | None:
    """Read a "□ 张大成 李丹丹" line: names as authors, or reporters when a role is printed."""
    m = _BOX_LINE.match(text)
    return read_roles(m[1], "author") if m else None


def read_byline_line(text: str) -> People | None:
    """Read a byline on a line of its own ("本报记者 王某 通讯员 李某"), else None."""
    if _ROLE_PREFIX.match(text) is None or len(text) > MAX_BYLINE_CHARS or text.endswith("摄") or "," in text:
        return None
    return read_roles(text, "reporter")


def split_credit(text: str) -> tuple[str, tuple[str, ...]] | None:
    """Take a photo credit off a caption: ("...包装。", ("张新义",)); None if there is none."""
    # Fast path: the pattern ends in 摄$, so a text not ending in 摄 (or 摄 and a final
    # newline, which `$` also allows) has no credit; the search would scan it all.
    if not text.endswith(CREDIT_ENDS):
        return None
    m = _CREDIT.search(text)
    if m is None:
        return None
    # "张新义摄" alone could be the end of a sentence (拍摄): ask for a role or a space.
    if not m[2] and _ROLE_PREFIX.match(m[1]) is None:
        return None
    people = read_roles(m[1], "reporter")
    if people is None:
        return None
    names = (*people.reporters, *people.correspondents, *people.authors)
    if not names:
        return None
    return text[: m.start()].rstrip(), names


def is_lead(text: str) -> bool:
    """Say whether a paragraph opens an item's text: a byline lead or a □ box line."""
    # Fast path: each test below matches at the start, so a text starting with none of
    # their first characters is no lead (most paragraphs).
    return text[:1] in _LEAD_STARTS and (
        _NEWS_BYLINE.match(text) is not None
        or _OTHER_LEADS.match(text) is not None
        or read_box_line(text) is not None
        or read_byline_line(text) is not None
    )
