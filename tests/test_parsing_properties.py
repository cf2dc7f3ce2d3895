"""Whatever the bytes, parse_file returns records or a rejection, never an exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.parsing import ParsedPage, Rejection, parse_file
from flows.parsing.formats import ALL_CHECK_NAMES

SAMPLE = Path(__file__).parent / "fixtures" / "pages" / "000_3e19ef32d54e8472.txt"
SAMPLE_LINES = SAMPLE.read_text(encoding="utf-8").split("\n")
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


def _assert_well_formed(result: ParsedPage | Rejection, text: str) -> None:
    assert isinstance(result, ParsedPage | Rejection)
    n_lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    if isinstance(result, Rejection):
        return
    assert [a.seq for a in result.articles] == list(range(1, len(result.articles) + 1))
    for article in result.articles:
        assert 1 <= article.line_start <= article.line_end <= n_lines
    for k, bulletin in enumerate(result.bulletins, start=1):
        assert bulletin.seq == k
        assert result.articles[bulletin.article_seq - 1].kind == "bulletin"
        assert [u.row_no for u in bulletin.units] == list(range(1, len(bulletin.units) + 1))
        assert set(bulletin.failed_checks) <= CHECK_NAMES
        rate = bulletin.closure_rate_published
        assert rate is None or -rate.as_tuple().exponent <= 6  # fits decimal128(9, 6)
        for value in (bulletin.received, bulletin.due, *(u.dispatched for u in bulletin.units)):
            assert value is None or 0 <= value < 2**31  # fits int32


@settings(PROFILE)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes(data: bytes) -> None:
    result = parse_file("page.txt", data)
    assert isinstance(result, ParsedPage | Rejection)


@settings(PROFILE)
@given(st.text(max_size=2000), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_arbitrary_text(text: str, encoding: str) -> None:
    _assert_well_formed(parse_file("2021-01-05.txt", text.encode(encoding, errors="replace")), text)


@settings(PROFILE)
@given(st.lists(_edit, max_size=12), st.sampled_from(["utf-8", "gb18030"]), st.sampled_from(["\n", "\r\n"]))
def test_edited_sample(edits: list[tuple[str, int, str]], encoding: str, newline: str) -> None:
    lines = _apply(SAMPLE_LINES, edits)
    text = newline.join(lines)
    _assert_well_formed(parse_file("2020-12-23.txt", text.encode(encoding, errors="replace")), text)


@settings(PROFILE)
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE.read_bytes()) - 1), st.integers(0, 255)), max_size=20))
def test_sample_with_corrupted_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLE.read_bytes())
    for at, value in flips:
        data[at] = value
    result = parse_file(SAMPLE.name, bytes(data))
    assert isinstance(result, ParsedPage | Rejection)
