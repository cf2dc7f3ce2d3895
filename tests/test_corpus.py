"""The benchmark corpus: every bulletin it prints reads back exactly; pages are deterministic."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flows.devtools.corpus import (
    BULLETIN_PAGE,
    RENAMED_ON,
    bulletin_on,
    days_in_years,
    page_bytes,
    page_name,
    pages,
    write_corpus,
)
from flows.parsing import ParsedPage, parse_file

SEED = 1
# Three years across the rename (2019-07-01) and the regrouping (2021-01-04).
FIRST, LAST = date(2019, 1, 1), date(2021, 12, 31)


def _bulletin_pages() -> list[date]:
    days = (FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1))
    return [d for d in days if bulletin_on(d, BULLETIN_PAGE, SEED) is not None]


def test_every_printed_bulletin_reads_back_exactly() -> None:
    kinds = {"corrected": 0, "full_width": 0, "gb18030": 0, "renamed": 0, "aliased": 0}
    for issue in _bulletin_pages():
        data, printed = page_bytes(issue, BULLETIN_PAGE, SEED)
        assert printed is not None
        page = parse_file(Path(page_name(issue, BULLETIN_PAGE)).name, data)
        assert isinstance(page, ParsedPage)
        (bulletin,) = page.bulletins
        week = printed.week
        assert bulletin.failed_checks == (), issue
        assert (bulletin.period_start, bulletin.period_end) == (week.start, week.end)
        assert (
            bulletin.received,
            bulletin.due,
            bulletin.closed,
            bulletin.in_progress,
            bulletin.overdue,
            bulletin.disputed,
            bulletin.linked_units,
            bulletin.overdue_units,
        ) == (
            week.received,
            week.due,
            week.closed,
            week.in_progress,
            week.overdue,
            week.disputed,
            week.linked_units,
            len(week.units),
        )
        assert [(u.unit_group, u.unit_name_raw, u.dispatched, u.unresolved) for u in bulletin.units] == [
            (u.group, u.name, u.dispatched, u.unresolved) for u in week.units
        ]
        names = {u.name for u in week.units}
        kinds["corrected"] += printed.corrected
        kinds["full_width"] += "１".encode() in data
        kinds["gb18030"] += b"\r\n" in data
        kinds["renamed"] += "市产业集聚区" in names
        kinds["aliased"] += bool(names & {"驿城区人民政府", "电信驻马店分公司", "中国移动驻马店分公司"})
    # The sample holds every variation the corpus makes, so each was read back above.
    assert all(count > 0 for count in kinds.values()), kinds
    assert RENAMED_ON > FIRST


def test_a_correction_reprints_the_same_week_with_other_figures() -> None:
    corrections = [d for d in _bulletin_pages() if d.weekday() == 4]
    assert corrections
    for friday in corrections:
        reprint = bulletin_on(friday, BULLETIN_PAGE, SEED)
        first = bulletin_on(friday - timedelta(days=2), BULLETIN_PAGE, SEED)
        assert reprint is not None and first is not None and reprint.corrected
        assert reprint.week.start == first.week.start
        assert reprint.week.received == first.week.received
        assert reprint.week.overdue < first.week.overdue


def test_pages_without_a_bulletin_have_none_and_items_parse() -> None:
    for issue, page in pages(date(2020, 3, 1), 14, 8):
        data, printed = page_bytes(issue, page, SEED)
        parsed = parse_file(Path(page_name(issue, page)).name, data)
        assert isinstance(parsed, ParsedPage)
        assert len(parsed.bulletins) == (printed is not None)
        assert parsed.issue_date == issue
        assert parsed.warnings == ()
        assert len(parsed.articles) >= 2


def test_written_in_parts_or_at_once_the_corpus_is_the_same(tmp_path: Path) -> None:
    start = date(2020, 12, 28)
    whole = write_corpus(tmp_path / "whole", start=start, days=4, pages_per_day=3, seed=SEED)
    write_corpus(tmp_path / "parts", start=start, days=3, pages_per_day=3, seed=SEED)
    write_corpus(tmp_path / "parts", start=start + timedelta(days=3), days=1, pages_per_day=3, seed=SEED)
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*.txt"))
    assert len(files) == whole.pages == 12
    assert sum((tmp_path / "whole" / f).stat().st_size for f in files) == whole.bytes
    for f in files:
        assert (tmp_path / "whole" / f).read_bytes() == (tmp_path / "parts" / f).read_bytes()
    assert page_bytes(start, 2, SEED) != page_bytes(start, 2, SEED + 1)


def test_years_count_leap_days() -> None:
    assert days_in_years(date(2019, 1, 1), 2) == 731
    assert days_in_years(date(2015, 1, 1), 10) == 3653
