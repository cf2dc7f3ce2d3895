"""Line-level normalisation: editor codes off, then NFKC; paragraph rejoining."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Circled ①..⑳ and the digits after it, at the end of a line or just before a photo
# credit at the end ("...包装。②2 记者 张新义 摄"). Taken off before NFKC, which would
# turn ② into a plain 2 and glue it to the text.
_EDITOR_CODE = re.compile(
    r"([\u2460-\u2473])[ \u3000]?([0-9\uff10-\uff19]{1,3})"
    r"(?=[ \t\u3000]*$|[ \t\u3000]+[^。！？!?\u2460-\u2473]{1,40}摄[ \t\u3000]*$)"
)
# Controls other than tab (tabs separate table cells) and invisible format marks.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
# Whitespace other than tab, after NFKC (which already maps U+3000 to a space).
_OTHER_SPACE = re.compile(r"[^\S\t]")
_SPACES = re.compile(r"\s+")

# Sentence-final punctuation after NFKC (… becomes "...", ！ "!", ？ "?", ． "."),
# optionally followed by closing quotes or brackets.
_SENTENCE_END = frozenset("。!?.")
_CLOSERS = "”’」』)\"'》"
_BLANKS = " \t\u3000"
# The last character (blanks aside) of a line that can hold an editor code: a digit of
# the code, or the 摄 of a photo credit after it.
_CODE_LINE_ENDS = frozenset("0123456789\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19摄")
_CODE_OR_BLANK_ENDS = _CODE_LINE_ENDS | frozenset(_BLANKS)


@dataclass(slots=True)
class Line:
    """One line of the decoded file: as decoded, and normalised.

    Not frozen, though nothing changes one once made: a frozen dataclass sets each field
    through object.__setattr__ (four times the cost of building a plain one), and the
    parser builds a Line for every line of every page.
    """

    no: int  # 1-based line number in the decoded file
    raw: str  # as decoded
    text: str  # editor code off, NFKC, controls removed, trimmed; tabs kept inside
    editor_code: str | None  # "②6": the circled digit as printed, digits folded

    @property
    def blank(self) -> bool:
        return not self.text


def fold(text: str) -> str:
    """Apply NFKC, drop control and invisible characters, make all whitespace but tabs a space."""
    folded = unicodedata.normalize("NFKC", text)
    # Fast path: every character the two substitutions change is non-printable (controls
    # and format marks are categories Cc/Cf; whitespace other than " " is Cc or Z*), so
    # on a printable line they are no-ops. Most lines of a page are printable.
    if folded.isprintable():
        return folded
    return _OTHER_SPACE.sub(" ", _CONTROLS.sub("", folded))


def take_editor_code(raw: str) -> tuple[str, str | None]:
    """Split off a trailing editor code: "...改善。②6" -> ("...改善。", "②6")."""
    # Fast path: a code ends the line (before trailing blanks) or sits before a credit
    # ending in 摄, so a line ending otherwise has none. `raw` holds no newline, so the
    # pattern's `$` can only match at its very end.
    if raw.rstrip(_BLANKS)[-1:] not in _CODE_LINE_ENDS:
        return raw, None
    matches = list(_EDITOR_CODE.finditer(raw))
    if not matches:
        return raw, None
    m = matches[-1]
    code = m[1] + unicodedata.normalize("NFKC", m[2])
    return raw[: m.start()].rstrip(_BLANKS) + raw[m.end() :], code


def to_line(no: int, raw: str) -> Line:
    """Normalise one decoded line."""
    if not raw:  # a third or more of a page's lines: nothing to normalise
        return Line(no, raw, "", None)
    rest, code = take_editor_code(raw)
    return Line(no, raw, fold(rest).strip(), code)


def to_lines(text: str) -> list[Line]:
    r"""Split LF text into normalised lines, numbered from 1: `to_line` on each line.

    The lines' text (editor codes off) is checked for NFKC in one call, joined by
    newlines: a newline is a normalisation boundary (a starter that composes with nothing,
    mapped to itself) and no character normalises to one, so the page is normalised when
    and only when each of its lines is. Most pages are, and need nothing more; on the
    others, each line goes through NFKC (as `fold` has it), which returns most of them
    after its quick check: normalising costs some 100 ns a character, and one fullwidth
    digit would otherwise send the whole page through it.

    >>> text = "标题①\n\n　正文，（一）。②6\n\x07ｆｕｌｌ　ｗｉｄｔｈ"
    >>> to_lines(text) == [to_line(no, raw) for no, raw in enumerate(text.split("\n"), start=1)]
    True
    """
    raws = text.split("\n")
    codes: list[str | None] = [None] * len(raws)
    rests = raws  # copied at the first code taken off
    for i, raw in enumerate(raws):
        # take_editor_code's own fast path, inline: most lines end in no code. The last
        # character alone rules out most of them (no rstrip): one not blank and not a code end.
        if raw[-1:] in _CODE_OR_BLANK_ENDS and raw.rstrip(_BLANKS)[-1:] in _CODE_LINE_ENDS:
            rest, code = take_editor_code(raw)
            if code is not None:  # else rest is raw
                if rests is raws:
                    rests = raws.copy()
                rests[i], codes[i] = rest, code
    joined = text if rests is raws else "\n".join(rests)
    if unicodedata.is_normalized("NFKC", joined):
        folded = rests
    else:
        folded = [unicodedata.normalize("NFKC", rest) for rest in rests]
    # `fold(rest).strip()` as `to_line` has it (fold's slow path only on a line that is not
    # printable: see `fold`); an empty line ("" decoded) folds to "" and has no code.
    return [
        Line(no, raw, (text_ if text_.isprintable() else _OTHER_SPACE.sub(" ", _CONTROLS.sub("", text_))).strip(), code)
        for no, raw, text_, code in zip(range(1, len(raws) + 1), raws, folded, codes, strict=True)
    ]


def squeeze(text: str) -> str:
    """Collapse whitespace runs to one space and trim: for titles and names."""
    return _SPACES.sub(" ", text).strip()


def is_terminated(text: str) -> bool:
    """Say whether a paragraph ends a sentence (。！？… maybe before a closing quote)."""
    return text.rstrip(_CLOSERS)[-1:] in _SENTENCE_END


def rejoin(paragraphs: list[str]) -> list[str]:
    """Glue paragraphs cut by column breaks: an unterminated one continues in the next."""
    joined: list[str] = []
    pending = ""
    for paragraph in paragraphs:
        pending += paragraph
        # The paragraph's end is pending's end: test the short string, not the long one
        # (is_terminated, inline).
        if (paragraph or pending).rstrip(_CLOSERS)[-1:] in _SENTENCE_END:
            joined.append(pending)
            pending = ""
    if pending:
        joined.append(pending)
    return joined
