"""Values from pages shown safely: in Markdown, and on the operator's terminal.

A unit name or a file name comes from a page or an inbox anyone can write to. Put into
Markdown as is, `[click](http://evil)` or `<img src=x onerror=...>` becomes a link or
HTML in the team's Prefect UI; printed as is, `ESC ] 52 ; c ; ... BEL` writes the
operator's clipboard and `ESC [ 2 J` clears the screen. Every value goes through one of
these two functions on its way out; the wording around it (headings, table pipes) does not.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (0x9b is an 8-bit CSI on some terminals), and the
# format characters that reorder or hide text (bidi overrides, zero-width, line and
# paragraph separators): none is printable, each can make a line show what it is not.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)

# What json.dumps(ensure_ascii=False) leaves raw of those (it escapes C0 itself, and its
# own line breaks and indents are structure).
_UNSAFE_RAW_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)

# What turns text into something else in CommonMark/GFM: a link or image (`[`), raw HTML
# or an autolink (`<`), a table cell (`|`), code, emphasis or strikethrough, a heading's
# closing `#`, an escape (a backslash). Kept for the reader, being harmless alone: `(` `)` (no link
# without `[`), `!` (no image without `[`), `_` inside a word (never emphasis), so the
# group 市辖区(管委会)组 and the file 2021-01-27_synthetic_week.txt read as they are.
_MARKDOWN = re.compile(r"[\\`*\[\]<>|#~@]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# GFM links bare URLs and www. names: break the pattern, not every colon and dot.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=www)(\.)")


def visible(text: str) -> str:
    """`text` with every control or invisible character written as a visible escape.

    >>> visible("a\\x1b]52;c;ZXZpbA==\\x07b")
    'a\\\\x1b]52;c;ZXZpbA==\\\\x07b'
    >>> visible("line\\nbreak \\u202e")
    'line\\\\nbreak \\\\u202e'
    """

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
        if named:
            return named
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(escaped, text)


def terminal(value: object) -> str:
    """A value as a line of the terminal shows it: no control sequence gets through.

    >>> terminal("报表\\x1b[2J.txt")
    '报表\\\\x1b[2J.txt'
    """
    return visible(str(value))


def markdown(value: object) -> str:
    r"""A value as Markdown text that renders as itself: no link, image, HTML, emphasis or new line.

    >>> print(markdown("[click](http://evil) <img src=x onerror=alert(1)> a|b *c* _d_ e_f"))
    \[click\](http\://evil) \<img src=x onerror=alert(1)\> a\|b \*c\* \_d\_ e_f
    >>> print(markdown("www.evil.com a@b.c 单位\x1b]52;c;ZXZpbA==\x07"))
    www\.evil.com a\@b.c 单位\\x1b\]52;c;ZXZpbA==\\x07
    """
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(), visible(str(value)))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), text)


def json_safe(text: str) -> str:
    r"""JSON text with the characters `visible` escapes written as \uXXXX: the same JSON, safe to print.

    Only valid on JSON text (such characters can only stand inside its strings).

    >>> print(json_safe('[\n  "a\x9b2J",\n  "b\u202e"\n]'))
    [
      "a\u009b2J",
      "b\u202e"
    ]
    """
    return _UNSAFE_RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
