"""Recorded reasons in people's words: every reason the code can record comes out of
`reason_label` in Chinese (issue 20: an English reworded in one place must not silently
stay English in the report, `bulletins status` and the notifications).

The reasons are recorded by the real code: crafted broken pages through the parser and
`ingest.file_status` (one at least for every check in CHECK_GLOSSES), the decoder's
rejections and warnings, and an inbox taken in by the pipeline's steps (duplicates, names,
links, sizes, forgotten and accepted files: `core.files.reasons`, built in SQL).
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from io import BytesIO

import pytest
from pipeline_helpers import load_without_prefect, query
from testdata import PAGES, SAMPLE_PAGE

from flows.inputs import parse_input
from flows.parsing import ParsedPage, parse_file
from flows.parsing.decode import decode, decode_declared
from flows.parsing.records import Rejection
from flows.reporting import reason_labels
from flows.reporting.reason_labels import CHECK_GLOSSES, check_detail_label, reason_label
from flows.warehouse import build, corrections, datatests
from flows.warehouse.ingest import file_status

CITIES = PAGES / "cities"
ZHUMADIAN = SAMPLE_PAGE.read_text(encoding="utf-8")
SANMENXIA = (CITIES / "sanmenxia-2021w07-complete.txt").read_text(encoding="utf-8")
XUCHANG = "许昌市数字化城市管理系统{period}运行情况通报\n\n【信息时间:2021-12-08 09:34\n\n一、得分情况\n\n"

# (file name, page text, text to change, its replacement): each fails one check or more.
BROKEN_PAGES: list[tuple[str, str, str, str]] = [
    ("2020-12-23_p.txt", ZHUMADIAN, "驿城区政府\t1013件\t8件", "驿城区政府\t1013件\t18件"),
    ("2020-12-23_p.txt", ZHUMADIAN, "已结案5184件", "已结案5185件"),
    ("2020-12-23_p.txt", ZHUMADIAN, "中国联通驻马店分公司\t59件\t1件\n", ""),
    ("2020-12-23_p.txt", ZHUMADIAN, "河南移动驻马店分公司\t55件\t9件", "河南移动驻马店分公司\t5件\t9件"),
    ("2020-12-23_p.txt", ZHUMADIAN, "国电驻马店热电有限公司", "中国电信驻马店分公司"),
    ("2020-12-23_p.txt", ZHUMADIAN, "2020年12月14日~12月20日", "2020年12月14日~12月21日"),
    ("2020-12-23_p.txt", ZHUMADIAN, "2020年12月14日~12月20日", "2020年12月~"),
    ("2020-12-19_p.txt", ZHUMADIAN, "2020年12月14日~12月20日", "2020年12月14日~12月20日"),
    ("2020-12-23_p.txt", ZHUMADIAN, "因确权争议未处置案件共176件", "因确权争议未处置案件共若干件"),
    ("2020-12-23_p.txt", ZHUMADIAN, "驿城区政府\t1013件", "驿城区政府\t1,013件"),
    ("2020-12-23_p.txt", ZHUMADIAN, "驿城区政府", "驿城\ufffd政府"),
    ("page.txt", SANMENXIA, "周报(2021第7期)2.27—3.05", "周报2.27—3.05"),
    ("page.txt", SANMENXIA, "共处理案件1282件", "共处理案件若干"),
    ("page.txt", SANMENXIA, "共处理案件1282件", "共处理案件1283件"),
    ("page.txt", SANMENXIA, "一支队\n\n167\n\n150\n\n17", "一支队\n\n167\n\n151\n\n17"),
    ("page.txt", SANMENXIA, "89.8%", "89.9%"),
    ("page.txt", SANMENXIA, "渣土办\n\n2\n\n2\n\n0\n\n100%", "渣土办\n\n2\n\n0\n\n3\n\n0%"),
    *(
        ("card.txt", XUCHANG.format(period=period), "", body)
        for body, period in [
            ("(一)县、市组\n甲县(99分)\n乙县(101分)\n", "2021年11月份"),
            ("(一)县、市组\n甲县(99分)(特优等次)\n", "2021年11月份"),
            ("(一)县、市组\n甲县(90分)\n乙县(95分)\n", "2021年11月份"),
            ("(一)市直组\n1、案件处置好的单位\n甲局(60分)\n2、案件处置差的单位\n乙局(70分)\n", "2021年11月份"),
            ("(一)县、市组\n甲县(99分)\n甲 县(98分)\n", "2021年11月份"),
            ("(一)县、市组\n(二)建成区组\n东城区(90分)\n", "2021年11月份"),
            ("(一)市直组\n1、案件处置好的单位\n2、案件处置差的单位\n乙局(70分)\n", "2021年11月份"),
            ("各单位要高度重视。\n", "2021年11月份"),
            ("(一)县、市组\n甲县(99分)\n", "2021年12月份"),
            ("(一)县、市组\n甲县(99分)\n", "2021年13月份"),
            ("(一)县、市组\n甲县(99分)\n", "2021年第四季度"),
            ("(一)县、市组\n甲县(99分)\n乙县(9", "2021年11月份"),
        ]
    ),
]


def _changed(text: str, old: str, new: str) -> str:
    if not old:
        return text + new
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _page_reasons() -> tuple[list[str], set[str]]:
    """The reasons `file_status` records for the broken pages and the fixture pages, and the checks they fail."""
    reasons: list[str] = []
    failed: set[str] = set()
    pages = [(name, _changed(text, old, new).encode()) for name, text, old, new in BROKEN_PAGES]
    pages += [(p.name, p.read_bytes()) for p in sorted(PAGES.rglob("*.txt"))]
    # dates not believed (after the day the file was first seen), and a page with no item
    pages += [("2027-01-01_p.txt", ZHUMADIAN.encode()), ("p.txt", "2090年1月1日 星期三\n".encode())]
    for name, data in pages:
        result = parse_file(name, data, not_after=datetime(2026, 1, 1).date())
        reasons += file_status(result)[1]
        if isinstance(result, ParsedPage):
            failed.update(check for b in result.bulletins for check in b.failed_checks)
    return reasons, failed


def _decoder_reasons() -> list[str]:
    """The decoder's rejections and warnings, as a file records them."""
    samples = [
        b"",
        b"\n \t\n",
        b"PNG\x00\x00\x00 binary",
        bytes(range(1, 32)) * 20,
        bytes(range(0x80, 0x100)) * 4,
        b"\xef\xbb\xbf",
        b"\xff\xfe" + "\u1200\u0e01\u10d0\u0531".encode("utf-16-le") * 40,
        b"\xff\xfe" + "abc\x01\x02\x03\x04\x05\x06\x07".encode("utf-16-le") * 8,
        b"\xff\xfe" + "\ud800".encode("utf-16-le", "surrogatepass") * 40,
        "通报正文".encode() * 40 + b"\xff\xfe",
        "通报正文".encode() * 40 + "\ue000".encode(),
    ]
    found = [file_status(result)[1] for data in samples if isinstance(result := decode(data), Rejection)]
    found += [list(result.warnings) for data in samples if not isinstance(result := decode(data), Rejection)]
    declared = decode_declared("<p>通报正文</p>".encode() * 20, "shift_jis")
    assert not isinstance(declared, Rejection) and declared.warnings
    found.append(list(declared.warnings))
    return [r for rs in found for r in rs]


def _input_reasons() -> list[str]:
    """The input readers' rejections (their details carry their own Chinese)."""
    samples = {
        "scan.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
        "old.doc": bytes.fromhex("d0cf11e0a1b11ae1") + bytes(512),
        "broken.docx": b"PK\x03\x04 not really a zip",
        "page.html": b"<html><body><script>x</script></body></html>",
    }
    return [r for name, data in samples.items() for r in file_status(parse_input(name, data))[1]]


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a name given twice, on purpose
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def warehouse_reasons(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """`core.files.reasons` of an inbox taken in by the pipeline's steps, then a file forgotten and a check accepted."""
    root = tmp_path_factory.mktemp("reasons")
    inbox, wh = root / "inbox", root / "wh"
    inbox.mkdir()
    # a first run whose one entry the second records again (its batch is then replaced)
    (inbox / "again.txt").write_text("第一版", encoding="utf-8")
    load_without_prefect(inbox, wh)
    (inbox / "again.txt").write_text("第二版", encoding="utf-8")
    (inbox / "2020-12-23_a.txt").write_text(ZHUMADIAN, encoding="utf-8")
    (inbox / "2020-12-23_copy.txt").write_text(ZHUMADIAN, encoding="utf-8")
    (inbox / "2020-12-24_b.txt").write_text(_changed(ZHUMADIAN, "已结案5184件", "已结案5185件"), encoding="utf-8")
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / ".hidden.txt").write_text("x")
    (inbox / ".hidden_folder").mkdir()
    (inbox / "big.txt").write_bytes(b"x" * 3_000_000)
    (inbox / "link.txt").symlink_to("empty.txt")
    os.mkfifo(inbox / "pipe")
    (inbox / os.fsdecode("名字".encode("gb18030") + b".txt")).write_text("x")
    (inbox / r"\xd6\xd0.txt").write_text("y")  # a UTF-8 name that reads as an escape
    future = inbox / "future.txt"
    future.write_text("z")
    os.utime(future, (10**10, 10**10))  # past what int64 nanoseconds hold
    members = [("a.txt", b""), ("inner.zip", _zip([("b.txt", b"b")])), ("c.txt", b"c"), ("c.txt", b"d")]
    (inbox / "pages.zip").write_bytes(_zip(members))
    (inbox / "bad.zip").write_bytes(b"PK\x05\x06" + bytes(10))
    db_path = load_without_prefect(inbox, wh, max_file_bytes=2_000_000)
    lake_dir = wh / "lake"
    shas = dict(query(db_path, "select path, file_sha256 from core.files"))
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    forgotten = corrections.DecidedFile(shas["2020-12-23_a.txt"], "2020-12-23_a.txt")
    corrections.write_decision(lake_dir, corrections.FORGET, [forgotten], "不是本市的页面", "张三", now)
    accepted = corrections.DecidedFile(shas["2020-12-24_b.txt"], "2020-12-24_b.txt", "components_sum_to_due")
    corrections.write_decision(lake_dir, corrections.ACCEPT, [accepted], "印刷错误", "李四", now)
    load_without_prefect(inbox, wh, max_file_bytes=2_000_000)
    files = "select path, unnest(reasons) from core.files"
    return [(path, r) for path, r in query(db_path, f"{files} union all select '', unnest(reasons) from core.batches")]


def _held_reasons() -> list[str]:
    """The reason a file held out by a data test records (`build.held_out_reason`)."""
    failures = [
        datatests.DataTestFailure(
            "unit_week_unique", 3, [{"week_start": "2020-12-14", "unit_name": "X"}] * 3, ["a.txt"]
        )
    ]
    return [build.held_out_reason(failures)]


# What may stay Latin in Chinese: identifiers (checks, tests, settings, encodings, columns),
# abbreviations people read as they are, and the data a reason quotes (names, numbers, dates).
_KEPT = re.compile(
    r"\b(?:" + "|".join(sorted(CHECK_GLOSSES, key=len, reverse=True)) + r")\b"
    r"|\b[A-Z][A-Z0-9_]{2,}\b"  # BULLETINS_MAX_FILE_BYTES, OCR, PDF, NUL, BOM, UTC
    r"|U\+[0-9A-F]{4}|\\xNN"  # characters as written: U+FFFD, an escape
    r"|\b(?:utf|gb|html|shift_jis|big5|latin)[\w:-]*"  # encodings
    r"|[\w.\\-]*\.(?:txt|zip|html|docx?|png)\b|\bsql/"  # file names and the SQL folder
    r"|\b(?:unit_week_unique|week_start|unit_name)\b"  # the data test and its columns
    r"|\b[A-Z]\w*(?:Error|Exception)\b|\bBadZipFile\b"  # exception types
    r"|\bX\b|\bb\b|\bz\b|\by\b"  # the data the test's files hold
)
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def english_left(chinese: str) -> list[str]:
    """The English words left in a reason's Chinese, identifiers and quoted data aside.

    >>> english_left("校验未通过：units_sum_to_overdue（各单位合计）"), english_left("空文件：0 bytes")
    ([], ['bytes'])
    """
    return _ENGLISH_WORD.findall(_KEPT.sub(" ", chinese))


def _untranslated(reasons: Iterable[str]) -> dict[str, str]:
    """Each reason whose Chinese keeps English words, with that Chinese."""
    return {r: reason_label(r) for r in dict.fromkeys(reasons) if english_left(reason_label(r))}


def _bilingual_untranslated(reasons: Iterable[str]) -> dict[str, str]:
    """Each reason written in both languages (the input readers', an archive's) that people
    would not read in Chinese: it must keep its Chinese and not open in English."""
    left = {}
    for reason in dict.fromkeys(reasons):
        label = reason_label(reason)
        opening = re.split(r"[:：(（]", label, maxsplit=1)[0]
        if not _CJK.search(label) or english_left(opening):
            left[reason] = label
    return left


_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_check_the_formats_can_fail_is_exercised() -> None:
    _, failed = _page_reasons()
    assert set(CHECK_GLOSSES) - failed == set()


def test_every_reason_a_page_records_is_chinese() -> None:
    reasons, _ = _page_reasons()
    assert _untranslated([*reasons, *_decoder_reasons(), *_held_reasons()]) == {}
    assert _bilingual_untranslated(_input_reasons()) == {}


def test_every_reason_the_warehouse_records_is_chinese(warehouse_reasons: list[tuple[str, str]]) -> None:
    archived = [r for path, r in warehouse_reasons if ".zip" in path]
    assert len(warehouse_reasons) > 15 and archived
    assert _untranslated(r for path, r in warehouse_reasons if ".zip" not in path) == {}
    assert _bilingual_untranslated(archived) == {}


def test_the_check_detail_of_every_broken_page_is_chinese() -> None:
    reasons, _ = _page_reasons()
    details = [r.split(": ", 2)[2] for r in reasons if r.startswith("bulletin ") and r.count(": ") >= 2]
    assert details
    assert {d: check_detail_label(d) for d in details if english_left(check_detail_label(d))} == {}


def test_a_translation_removed_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard itself: without one phrase's Chinese, its reason shows English again."""
    phrases = [(p, c) for p, c in reason_labels._CHECK_PHRASES if p.pattern != r"rows sum to ([\d/]+)"]
    monkeypatch.setattr(reason_labels, "_CHECK_PHRASES", tuple(phrases))
    reasons, _ = _page_reasons()
    assert "rows sum to" in " ".join(_untranslated(reasons).values())


def test_the_sql_writes_the_openings_the_labels_know() -> None:
    """core.files and core.batches write reasons in SQL: with the openings the labels translate."""
    from flows.settings import SQL_DIR
    from flows.warehouse import reasons as openings

    files_sql = (SQL_DIR / "core" / "files.sql").read_text(encoding="utf-8")
    for opening in (openings.FORGOTTEN_ON_RECORD, openings.ACCEPTED_ON_RECORD, openings.BULLETIN):
        assert f"'{opening}" in files_sql, opening
    assert f"'{openings.PERIOD_UNKNOWN}'" in files_sql
    assert f"'{openings.BATCH_REPLACED}'" in (SQL_DIR / "core" / "batches.sql").read_text(encoding="utf-8")
