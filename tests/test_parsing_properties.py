"""Whatever the bytes, parse_file returns records or a rejection, never an exception."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testdata import SAMPLE_PAGE

from flows.parsing import ParsedPage, Rejection, parse_file
from flows.parsing.decode import decode
from flows.parsing.formats import ALL_CHECK_NAMES
from flows.parsing.names import normalize_name
from flows.parsing.records import Bulletin

SAMPLE_LINES = SAMPLE_PAGE.read_text(encoding="utf-8").split("\n")
CHECK_NAMES = set(ALL_CHECK_NAMES)

# Lines that look like parts of a page, to insert where they do not belong.
JUNK = [
    "②6",
    "②",
    "本报讯(",
    "本报讯(记者 )",
    "□",
    "□ 张大成",
    "记者 摄",
    "驻马店市数字化城市管理案件办理后进单位周通报",
    "驻马店市数字化城市管理领导小组\t\t",
    "市辖区(管委会)组\t\t",
    "单位\t交办件\t未办结件",
    "驿城区政府\t99999999999件\t8件",
    "驿城区政府\t\t",
    "\t\t",
    "应结案0件,已结案0件,结案率0%",
    "结案率999.9999%,截至2月30日25时",
    "9999年12月31日~0000年1月1日,受理各类城市管理案件1件",
    "12月28日~1月3日",
    "2020年13月40日 星期八",
    "数字城管周报(",
    "\ufffd\ufffd",
    "\x00\x01",
    "（１０１３件）　　～％",
]

settings.register_profile("parsing", max_examples=200, deadline=None)
PROFILE = settings.get_profile("parsing")

_line_text = st.one_of(st.sampled_from(JUNK), st.text(max_size=40))
_edit = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 200), st.just("")),
    st.tuples(st.just("swap"), st.integers(0, 200), st.integers(0, 200).map(str)),
    st.tuples(st.just("duplicate"), st.integers(0, 200), st.just("")),
    st.tuples(st.just("insert"), st.integers(0, 200), _line_text),
)


def _apply(lines: list[str], edits: list[tuple[str, int, str]]) -> list[str]:
    lines = list(lines)
    for op, at, arg in edits:
        if not lines:
            lines.append(arg)
            continue
        i = at % len(lines)
        if op == "delete":
            del lines[i]
        elif op == "swap":
            j = int(arg) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines.insert(i, arg)
    return lines


FIGURES = ("received", "due", "closed", "in_progress", "overdue", "disputed", "linked_units", "overdue_units")


def _lines_in(data: bytes) -> int:
    """Lines of the file as the parser numbers them (its decoding: LF line ends)."""
    decoded = decode(data)
    assert not isinstance(decoded, Rejection)
    return decoded.text.count("\n") + 1


def _assert_identities(bulletin: Bulletin) -> None:
    """A bulletin that passes its checks says what the checks promise."""
    assert bulletin.period_start is not None and bulletin.period_end is not None
    assert bulletin.period_start <= bulletin.period_end
    names = [(u.unit_group, normalize_name(u.unit_name_raw)) for u in bulletin.units]
    assert len(names) == len(set(names))
    unresolved, dispatched = [], []
    for unit in bulletin.units:
        assert unit.dispatched is not None and unit.unresolved is not None
        assert unit.unresolved <= unit.dispatched
        unresolved.append(unit.unresolved)
        dispatched.append(unit.dispatched)
        if bulletin.format == "sanmenxia_weekly":
            assert unit.closed is not None and unit.closed + unit.unresolved == unit.dispatched
    if bulletin.format == "zhumadian_weekly":
        due, closed, in_progress, overdue, disputed = (
            bulletin.due, bulletin.closed, bulletin.in_progress, bulletin.overdue, bulletin.disputed
        )  # fmt: skip
        rate = bulletin.closure_rate_published
        assert due and closed is not None and in_progress is not None and overdue is not None
        assert disputed is not None and rate is not None
        assert closed + in_progress + overdue + disputed == due
        assert (Decimal(closed) / due).quantize(rate, rounding=ROUND_HALF_UP) == rate
        assert sum(unresolved) == overdue
        assert len(bulletin.units) == bulletin.overdue_units


def _assert_well_formed(result: ParsedPage | Rejection, n_lines: int) -> None:
    """The records a page yields are well formed, whatever the page said."""
    assert isinstance(result, ParsedPage | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in {"empty", "not text", "undecodable"}  # never "parser error"
        return
    assert [a.seq for a in result.articles] == list(range(1, len(result.articles) + 1))
    previous_end = 0
    for article in result.articles:
        assert previous_end < article.line_start <= article.line_end <= n_lines  # in the file, in order
        previous_end = article.line_end
    assert [b.seq for b in result.bulletins] == list(range(1, len(result.bulletins) + 1))
    for bulletin in result.bulletins:
        article = result.articles[bulletin.article_seq - 1]
        assert article.kind == "bulletin"
        assert article.line_start <= bulletin.line_start <= bulletin.line_end <= article.line_end
        assert [u.row_no for u in bulletin.units] == list(range(1, len(bulletin.units) + 1))
        for unit in bulletin.units:
            assert bulletin.line_start <= unit.line_no <= bulletin.line_end
            assert unit.unit_name_raw.strip() == unit.unit_name_raw != ""
        assert set(bulletin.failed_checks) <= CHECK_NAMES
        assert len(set(bulletin.failed_checks)) == len(bulletin.failed_checks)
        counts = [getattr(bulletin, name) for name in FIGURES]
        counts += [v for u in bulletin.units for v in (u.dispatched, u.unresolved, u.closed)]
        for value in counts:
            assert value is None or 0 <= value < 2**31  # non-negative, fits int32
        for rate in (bulletin.closure_rate_published, *(u.closure_rate_published for u in bulletin.units)):
            assert rate is None or (rate >= 0 and -rate.as_tuple().exponent <= 6)  # fits decimal128(9, 6)
        if not bulletin.failed_checks:
            _assert_identities(bulletin)


@settings(PROFILE)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes(data: bytes) -> None:
    result = parse_file("page.txt", data)
    _assert_well_formed(result, 0 if isinstance(result, Rejection) else _lines_in(data))


@settings(PROFILE)
@given(st.text(max_size=2000), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_arbitrary_text(text: str, encoding: str) -> None:
    data = text.encode(encoding, errors="replace")
    result = parse_file("2021-01-05.txt", data)
    _assert_well_formed(result, 0 if isinstance(result, Rejection) else _lines_in(data))


@settings(PROFILE)
@given(st.lists(_edit, max_size=12), st.sampled_from(["utf-8", "gb18030"]), st.sampled_from(["\n", "\r\n"]))
def test_edited_sample(edits: list[tuple[str, int, str]], encoding: str, newline: str) -> None:
    lines = _apply(SAMPLE_LINES, edits)
    text = newline.join(lines)
    data = text.encode(encoding, errors="replace")
    result = parse_file("2020-12-23.txt", data)
    _assert_well_formed(result, 0 if isinstance(result, Rejection) else _lines_in(data))


@settings(PROFILE)
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE_PAGE.read_bytes()) - 1), st.integers(0, 255)), max_size=20))
def test_sample_with_corrupted_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLE_PAGE.read_bytes())
    for at, value in flips:
        data[at] = value
    result = parse_file(SAMPLE_PAGE.name, bytes(data))
    _assert_well_formed(result, 0 if isinstance(result, Rejection) else _lines_in(bytes(data)))


def test_the_checks_accept_the_sample_and_its_identities_hold() -> None:
    """The oracle itself: the clean sample passes through `_assert_well_formed` with its identities."""
    data = SAMPLE_PAGE.read_bytes()
    result = parse_file(SAMPLE_PAGE.name, data)
    assert isinstance(result, ParsedPage) and len(result.bulletins) == 1
    assert result.bulletins[0].failed_checks == ()
    _assert_well_formed(result, _lines_in(data))


def test_the_oracle_fails_on_malformed_records() -> None:
    """Each kind of damage `_assert_well_formed` looks for makes it fail."""
    data = SAMPLE_PAGE.read_bytes()
    page = parse_file(SAMPLE_PAGE.name, data)
    assert isinstance(page, ParsedPage)
    bulletin = page.bulletins[0]
    lines = _lines_in(data)
    damaged = [
        replace(page, articles=page.articles[1:]),  # seqs not 1..n
        replace(page, articles=(replace(page.articles[0], line_end=lines + 1), *page.articles[1:])),
        replace(page, bulletins=(replace(bulletin, units=bulletin.units[::-1]),)),  # row_no not 1..n
        replace(page, bulletins=(replace(bulletin, failed_checks=("no_such_check",)),)),
        replace(page, bulletins=(replace(bulletin, received=-1),)),
        replace(page, bulletins=(replace(bulletin, overdue=bulletin.overdue + 1),)),  # passes, but 131 != sum
    ]
    for broken in damaged:
        with pytest.raises(AssertionError):
            _assert_well_formed(broken, lines)


def test_a_newline_is_an_nfkc_boundary() -> None:
    """What `normalize.to_lines` relies on to normalise a page's lines in one call: no
    character normalises to a newline or composes with one, before or after it."""
    import sys
    import unicodedata

    def nfkc(text: str) -> str:
        return unicodedata.normalize("NFKC", text)

    broken = [
        cp
        for cp in range(sys.maxunicode + 1)
        if cp != 0x0A
        and not 0xD800 <= cp <= 0xDFFF
        and (
            "\n" in nfkc(chr(cp))
            or nfkc(chr(cp) + "\n") != nfkc(chr(cp)) + "\n"
            or nfkc("\n" + chr(cp)) != "\n" + nfkc(chr(cp))
        )
    ]
    assert broken == []


@given(st.lists(st.text(max_size=30), max_size=8))
def test_lines_normalise_as_one_by_one(pieces: list[str]) -> None:
    from flows.parsing.normalize import to_line, to_lines

    text = "\n".join(pieces)
    assert to_lines(text) == [to_line(no, raw) for no, raw in enumerate(text.split("\n"), start=1)]
