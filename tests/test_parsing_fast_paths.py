"""The parser's fast paths give what the slow way they stand in for gives (written out here)."""

from __future__ import annotations

import codecs
import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.parsing import bylines, decode, page
from flows.parsing.dates import nearest_date, safe_date

settings.register_profile("fast_paths", max_examples=300, deadline=None)
PROFILE = settings.get_profile("fast_paths")


# --- decode: UTF-8 read strictly, else with surrogateescape; suspects found in the bytes


def _mark_each_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "\udcff" * (error.end - error.start), error.end


codecs.register_error("tests.mark_each_byte", _mark_each_byte)


def _read_slowly(data: bytes, encoding: str) -> tuple[str, int, int]:
    """One mark per bad byte from a Python error handler, suspects searched for in the text."""
    text = data.decode(encoding, errors="tests.mark_each_byte")
    suspects = "".join(decode.SUSPECT.findall(text)).encode("utf-8")
    return text.replace("\udcff", "\ufffd"), text.count("\udcff"), len(suspects)


# Characters near the edges of what counts as suspect (U+FFFD, U+E000..U+F8FF) and others
# that share their first UTF-8 byte (EE, EF), mixed with any character.
_EDGES = st.sampled_from(
    ["\ufffd", "\ue000", "\uefff", "\uf000", "\uf8ff", "\uf900", "\ufeff", "\uff0c", "\uffff", "时"]
)
_TEXT = st.lists(st.one_of(_EDGES, st.characters(exclude_categories=["Cs"])), max_size=60).map("".join)
_DAMAGE = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0x80, 0xFF)), max_size=6)


def _damaged(text: str, damage: list[tuple[int, int]]) -> bytes:
    data = bytearray(text.encode("utf-8"))
    for at, byte in damage:
        data.insert(at % (len(data) + 1), byte)
    return bytes(data)


@settings(PROFILE)
@given(_TEXT, _DAMAGE, st.booleans())
def test_utf8_reads_count_bad_bytes_and_suspects_as_the_slow_way(
    text: str, damage: list[tuple[int, int]], bom: bool
) -> None:
    data = (decode.BOM if bom else b"") + _damaged(text, damage)
    encoding = "utf-8-sig" if bom else "utf-8"
    assert decode._read(data, encoding) == _read_slowly(data, encoding)


@settings(PROFILE)
@given(st.binary(max_size=300))
def test_utf8_reads_of_any_bytes_are_the_slow_way(data: bytes) -> None:
    assert decode._read(data, "utf-8") == _read_slowly(data, "utf-8")


# --- bylines: is_lead asks the first character first


def _is_lead_slowly(text: str) -> bool:
    return (
        bylines._NEWS_BYLINE.match(text) is not None
        or bylines._OTHER_LEADS.match(text) is not None
        or bylines.read_box_line(text) is not None
        or bylines.read_byline_line(text) is not None
    )


_LEAD_LIKE = st.one_of(
    st.from_regex(bylines._NEWS_BYLINE),
    st.from_regex(bylines._OTHER_LEADS),
    st.from_regex(bylines._BOX_LINE),
    st.from_regex(bylines._ROLE_PREFIX),
    st.text(max_size=20),
)


@settings(PROFILE)
@given(_LEAD_LIKE)
def test_is_lead_is_the_slow_way(text: str) -> None:
    assert bylines.is_lead(text) is _is_lead_slowly(text)


def test_every_lead_starts_with_a_known_first_character() -> None:
    leads = [
        "本报讯(记者 黄育南)",
        "本报记者 王某",
        "据新华社",
        "新华社",
        "人民网",
        "中新社",
        "央视",
        "□ 张大成",
        "■ 张大成",
    ]
    leads += [f"{role} 王某" for role in bylines._ROLES]
    assert all(_is_lead_slowly(text) and bylines.is_lead(text) for text in leads)


# --- page: a heading's open end


_OPEN_END = re.compile(r"[,、:;(“‘《\-—]$")


@settings(PROFILE)
@given(st.text(max_size=6), st.sampled_from(["", *",、:;(“‘《-—–。a"]), st.sampled_from(["", "\n", "\n\n"]))
def test_open_end_is_the_pattern(text: str, last: str, newline: str) -> None:
    text = text + last + newline
    assert text.endswith(page._OPEN_ENDS) is (_OPEN_END.search(text) is not None)


# --- dates: a month-day near ref takes ref's year


def _nearest_date_slowly(month: int, day: int, ref: date) -> date | None:
    candidates = [d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := safe_date(y, month, day)) is not None]
    return min(candidates, key=lambda d: abs((d - ref).days)) if candidates else None


@settings(PROFILE)
@given(st.integers(0, 13), st.integers(0, 32), st.dates(date(1895, 1, 1), date(2105, 12, 31)))
def test_nearest_date_is_the_slow_way(month: int, day: int, ref: date) -> None:
    assert nearest_date(month, day, ref) == _nearest_date_slowly(month, day, ref)


def test_nearest_date_around_the_half_year() -> None:
    """Every day of a leap year and the next as ref, with month-days around New Year, the
    end of February and mid-year (where the nearest year changes)."""
    month_days = [(1, 1), (1, 2), (2, 28), (2, 29), (3, 1), (6, 30), (7, 1), (7, 2), (7, 3), (7, 4), (12, 30), (12, 31)]
    refs = [date.fromordinal(n) for n in range(date(2020, 1, 1).toordinal(), date(2022, 1, 1).toordinal())]
    assert all(
        nearest_date(month, day, ref) == _nearest_date_slowly(month, day, ref)
        for ref in refs
        for month, day in month_days
    )
