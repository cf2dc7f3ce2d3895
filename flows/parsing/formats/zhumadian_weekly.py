"""Zhumadian's weekly bulletin of lagging units (数字化城市管理案件办理后进单位周通报).

Layout: a title line, a summary paragraph (often cut by a column break) with the week's
figures, a caption (数字城管周报(12月14日~12月20日)), then per group of units a group
line, a column header (单位 交办件 未办结件), one row per unit and the issuing body's
signature (驻马店市数字化城市管理领导小组), which is not a unit.

Other cities' bulletins share much of this vocabulary (数字化城市管理...通报, 应结案,
结案率), so a span is claimed only when it also holds what only this bulletin prints:
后进单位 in its title, 超时未办结 (its overdue figure and table header 未办结件) or the
signature. The page's other bulletins are left for other formats, or reported as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from flows.parsing.check_details import Where, run_checks
from flows.parsing.checks import CHECK_NAMES, WEEK_MONDAY_TO_SUNDAY
from flows.parsing.dates import nearest_date, safe_date
from flows.parsing.decode import SUSPECT
from flows.parsing.formats.base import BulletinRead, Span
from flows.parsing.formats.tables import TableLine, classify
from flows.parsing.normalize import Line, is_terminated, rejoin, squeeze
from flows.parsing.records import Bulletin, BulletinUnitRow

NAME = "zhumadian_weekly"
CITY = "驻马店"

_TITLE = re.compile(r"后进单位.{0,6}通报|(?:数字化城市管理|数字城管).{0,24}通报")
MAX_TITLE_CHARS = 60
# Words that only the summary paragraph uses: a paragraph with one belongs to it.
_SUMMARY_WORDS = re.compile(r"受理|应结案|已结案|结案率|正在办理|超时未办结|联动单位|确权争议|截至")

# A count is at most 9 digits (more is a misread). The pattern takes what is printed
# where the count goes, sign, spaces and separators included, so that "4 852件" or
# "-176件" is seen as malformed instead of being read as 852 or 176.
_N = r"([-−+]?\s*\d[\d\s,.]*?)"
_COUNT = re.compile(r"\d{1,9}")
_FIGURES: dict[str, re.Pattern[str]] = {
    # (?<!\d): the lazy prefix must not eat the count's first digits.
    "received": re.compile(r"受理[^,;。]{0,40}?(?<!\d)" + _N + r"\s*件"),
    "due": re.compile(r"应结案(?:案件)?共?\s*" + _N + r"\s*件"),
    "closed": re.compile(r"已结案(?:案件)?共?\s*" + _N + r"\s*件"),
    "in_progress": re.compile(r"正在办理中?(?:案件)?共?\s*" + _N + r"\s*件"),
    "overdue": re.compile(r"超时未办结(?:案件)?共?\s*" + _N + r"\s*件"),
    "disputed": re.compile(r"争议[^,;。]{0,20}?(?<!\d)" + _N + r"\s*件"),
    "linked_units": re.compile(r"交办至\s*" + _N + r"\s*个"),
    "overdue_units": re.compile(r"存在超时未办结案件的单位共?\s*" + _N + r"\s*个"),
}
# The printed rate: at most 4 decimals (the lake stores 0..1 with 6).
_RATE = re.compile(r"结案率\s*(\d{1,3}(?:\.\d{1,4})?)\s*%")
# 2020年12月14日~12月20日; the end's year and month are optional, so is the start's year.
_PERIOD = re.compile(
    r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日?\s*(?:~|-|—+|–|至|到)\s*"
    r"(?:(\d{4})\s*年\s*)?(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日"
)
# 截至12月20日18时 (or 18点, 18时30分).
_AS_OF = re.compile(
    r"截至\s*(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(\d{1,2})\s*[时点](?:\s*(\d{1,2})\s*分)?"
)
_TABLE_KINDS = frozenset({"caption", "group", "header", "row", "signature"})
# What only this bulletin prints (see the module docstring); 未办结 covers 超时未办结 and 未办结件.
_SIGNATURE_WORDS = ("后进单位", "未办结", "数字化城市管理领导小组")


def _is_title(text: str) -> bool:
    """Say whether a line is this bulletin's title."""
    # Both of _TITLE's patterns end in 通报: a line without it is no title (the cheap test first).
    return (
        "通报" in text and len(text) <= MAX_TITLE_CHARS and not is_terminated(text) and _TITLE.search(text) is not None
    )


def _next_text(lines: Sequence[Line], i: int) -> int | None:
    """Return the index of the first non-blank line at or after i."""
    while i < len(lines):
        if not lines[i].blank:
            return i
        i += 1
    return None


def _name_only_run_end(lines: Sequence[Line], i: int) -> int | None:
    """Return the index after a run of name-only lines starting at i, if the run sits in a table.

    It does when more table follows it, or the page ends (a row cut off); else None.
    """
    j: int | None = i
    end = i + 1
    while j is not None:
        table = classify(lines[j].text)
        if table is None:
            return None
        if table.kind != "name_only":
            return j if table.kind in _TABLE_KINDS else None
        end = j + 1
        j = _next_text(lines, end)
    return end


def _summary_end(lines: Sequence[Line], start: int) -> int:
    """Return the index after the summary paragraphs that start at `start`."""
    i, is_open = start, False
    while (j := _next_text(lines, i)) is not None:
        text = lines[j].text
        table = classify(text)
        if table is not None and table.kind in _TABLE_KINDS:
            break
        if not (is_open or _SUMMARY_WORDS.search(text)):
            break
        is_open = not is_terminated(text)
        i = j + 1
    return i


def _table_end(lines: Sequence[Line], start: int) -> int:
    """Return the index after the table lines that start at `start`."""
    i = start
    while (j := _next_text(lines, i)) is not None:
        table = classify(lines[j].text)
        if table is None:
            break
        if table.kind == "name_only":
            run_end = _name_only_run_end(lines, j)
            if run_end is None:
                break
            i = run_end
            continue
        i = j + 1
    return i


def _last_text(lines: Sequence[Line], start: int, stop: int) -> int:
    """Return the last non-blank index in [start, stop), or start."""
    for i in range(stop - 1, start - 1, -1):
        if not lines[i].blank:
            return i
    return start


def _anchor(lines: Sequence[Line], i: int) -> tuple[int, bool] | None:
    """Return (start, has_title) of the next bulletin at or after i."""
    for j in range(i, len(lines)):
        text = lines[j].text
        if "通报" in text and _is_title(text):  # _is_title's first test, inline: most lines fail it
            return j, True
        if "应结案" in text and ("已结案" in text or "结案率" in text):
            return j, False
    return None


def _is_signed(lines: Sequence[Line], start: int, last: int) -> bool:
    """Say whether the lines start..last hold a word only this bulletin prints."""
    return any(word in lines[j].text for j in range(start, last + 1) for word in _SIGNATURE_WORDS)


class ZhumadianWeekly:
    """Reads 驻马店市数字化城市管理案件办理后进单位周通报."""

    name = NAME
    city = CITY
    check_names = CHECK_NAMES
    groups_are_lists = False  # one list, printed in two tables: a unit may move between them

    def recognise(self, lines: Sequence[Line]) -> list[Span]:
        """Return the spans of the weekly bulletins on the page."""
        spans: list[Span] = []
        i = 0
        while (found := _anchor(lines, i)) is not None:
            start, has_title = found
            summary_end = _summary_end(lines, start + 1 if has_title else start)
            end = _table_end(lines, summary_end)
            last = _last_text(lines, start, end)
            if _is_signed(lines, start, last):
                spans.append(Span(start, last))
            i = last + 1
        return spans

    def parse(self, lines: Sequence[Line], span: Span, issue_date: date | None) -> BulletinRead:
        """Read the figures and unit tables of the bulletin in `span`."""
        part = lines[span.start : span.end + 1]
        has_title = _is_title(part[0].text)
        summary_stop = _summary_end(part, 1 if has_title else 0)
        prose = rejoin([line.text for line in part[int(has_title) : summary_stop] if not line.blank])
        tables = [(line.no, line.text, classify(line.text)) for line in part[summary_stop:] if not line.blank]
        summary = "".join(prose)
        read = {name: _int(pattern, summary) for name, pattern in _FIGURES.items()}
        figures = {name: value for name, (value, _) in read.items()}
        start, end = _period(summary, issue_date)
        units, closed, malformed_rows = _units(tables)
        malformed = sum(bad for _, bad in read.values()) + malformed_rows
        draft = Bulletin(
            seq=0,
            article_seq=0,
            format=NAME,
            city=CITY,
            period_label=None,  # the bulletin numbers nothing: the week is its label
            period_start=start,
            period_end=end,
            received=figures["received"],
            due=figures["due"],
            closed=figures["closed"],
            in_progress=figures["in_progress"],
            overdue=figures["overdue"],
            disputed=figures["disputed"],
            closure_rate_published=_rate(summary),
            linked_units=figures["linked_units"],
            overdue_units=figures["overdue_units"],
            as_of=_as_of(summary, end or issue_date),
            units=units,
            failed_checks=(),
            line_start=part[0].no,
            line_end=part[-1].no,
        )
        # the lines figures are read from (a damaged title changes no figure)
        damaged = tuple(line.no for line in part[int(has_title) :] if SUSPECT.search(line.text))
        summary_lines = [line for line in part[int(has_title) : summary_stop] if not line.blank]
        figure_lines = _figure_lines(summary_lines)
        malformed_lines = [figure_lines[name] for name, (_, bad) in read.items() if bad and name in figure_lines]
        malformed_lines += [no for no, _, table in tables if table is not None and table.malformed]
        where = Where(
            figures=figure_lines,
            damaged_lines=damaged,
            malformed_lines=tuple(malformed_lines),
            last_table_line=tables[-1][0] if tables else None,
        )
        checks, details = run_checks(
            draft,
            tables_closed=closed,
            malformed_numbers=malformed,
            period=WEEK_MONDAY_TO_SUNDAY,
            issue_date=issue_date,
            text_intact=not damaged,
            where=where,
        )
        bulletin = replace(draft, failed_checks=checks, check_details=details)
        # Table lines in the body with their cells tab-separated, whatever separated them.
        table_texts = ["\t".join(table.cells) if table else text for _, text, table in tables]
        body = "\n".join([*prose, *table_texts])
        return BulletinRead(squeeze(part[0].text) if has_title else None, body, bulletin)


# Where each figure is printed, when its pattern does not match one line alone (a figure
# cut by a column break): the line with its first words.
_FIGURE_WORDS = {
    "received": "受理",
    "due": "应结案",
    "closed": "已结案",
    "in_progress": "正在办理",
    "overdue": "超时未办结",
    "disputed": "争议",
    "linked_units": "交办至",
    "overdue_units": "存在超时未办结案件的单位",
    "closure_rate_published": "结案率",
}


def _figure_lines(summary: Sequence[Line]) -> dict[str, int]:
    """The line each figure (and the period) is printed on, for the checks' details."""
    patterns = {**_FIGURES, "closure_rate_published": _RATE, "period": _PERIOD}
    found: dict[str, int] = {}
    for name, pattern in patterns.items():
        line = next((line.no for line in summary if pattern.search(line.text)), None)
        if line is None and name in _FIGURE_WORDS:
            line = next((line.no for line in summary if _FIGURE_WORDS[name] in line.text), None)
        if line is not None:
            found[name] = line
    return found


def _int(pattern: re.Pattern[str], text: str) -> tuple[int | None, bool]:
    """Read the count a figure's pattern captures; say whether what is printed there is malformed."""
    m = pattern.search(text)
    if m is None:
        return None, False
    printed = m[1].strip()
    if _COUNT.fullmatch(printed) is None:
        return None, True
    return int(printed), False


def _rate(text: str) -> Decimal | None:
    """Read 结案率90.58% as Decimal("0.9058"), keeping the printed precision."""
    m = _RATE.search(text)
    return Decimal(m[1]).scaleb(-2) if m else None


def _period(text: str, issue_date: date | None) -> tuple[date | None, date | None]:
    """Read the week: a missing start year from the issue date, a missing end year from the start."""
    m = _PERIOD.search(text)
    if m is None:
        return None, None
    sm, sd, em, ed = int(m[2]), int(m[3]), int(m[5] or m[2]), int(m[6])
    crosses_new_year = (em, ed) < (sm, sd)
    start: date | None
    if m[1]:
        start = safe_date(int(m[1]), sm, sd)
    elif m[4]:
        start = safe_date(int(m[4]) - crosses_new_year, sm, sd)
    elif issue_date is not None:
        start = nearest_date(sm, sd, issue_date)
    else:
        start = None
    if m[4]:
        end = safe_date(int(m[4]), em, ed)
    elif start is not None:
        end = safe_date(start.year + crosses_new_year, em, ed)
    else:
        end = None
    return start, end


def _as_of(text: str, ref: date | None) -> datetime | None:
    """Read 截至12月20日18时 as 2020-12-20 18:00; the year is the one nearest `ref`."""
    m = _AS_OF.search(text)
    if m is None:
        return None
    month, day, hour, minute = int(m[2]), int(m[3]), int(m[4]), int(m[5] or 0)
    if hour > 24 or minute > 59:
        return None
    if m[1]:
        day_date = safe_date(int(m[1]), month, day)
    else:
        day_date = nearest_date(month, day, ref) if ref is not None else None
    if day_date is None:
        return None
    # 24时 is the end of the day: the next day's midnight.
    return datetime.combine(day_date, datetime.min.time()) + timedelta(hours=hour, minutes=minute)


def _units(
    tables: Sequence[tuple[int, str, TableLine | None]],
) -> tuple[tuple[BulletinUnitRow, ...], bool, int]:
    """Read the unit rows from (line no, text, table line).

    Returns the rows, whether every table was signed, and how many rows print a number
    that cannot be read as a count (or more numbers than the header has columns).
    """
    rows: list[BulletinUnitRow] = []
    group = ""
    columns = (0, 1)  # where dispatched and unresolved sit among the number cells
    column_count = 2
    malformed = 0
    is_open = False
    for line_no, _, table in tables:
        if table is None or table.kind == "caption":
            continue
        if table.kind == "signature":
            is_open = False
        elif table.kind == "group":
            group, is_open = table.cells[0], True
        elif table.kind == "header":
            columns = _columns(table)
            column_count = max(len(table.cells) - 1, 2)
            is_open = True
        else:
            if table.malformed or len(table.values) > column_count:
                malformed += 1
                # Numbers that do not fit the columns: none of them can be trusted.
                table = replace(table, values=()) if len(table.values) > column_count else table
            rows.append(_unit_row(table, group, columns, len(rows) + 1, line_no))
            is_open = True
    return tuple(rows), not is_open, malformed


def _columns(header: TableLine) -> tuple[int, int]:
    """Find the dispatched (交办) and unresolved (未办结) columns among the number cells."""
    cells = header.cells[1:]
    dispatched = next((i for i, c in enumerate(cells) if "交办" in c), 0)
    unresolved = next((i for i, c in enumerate(cells) if "未办结" in c), 1)
    return dispatched, unresolved


def _unit_row(table: TableLine, group: str, columns: tuple[int, int], row_no: int, line_no: int) -> BulletinUnitRow:
    """Build a unit row; a cell the row does not have is None."""

    def cell(i: int) -> int | None:
        return table.values[i] if i < len(table.values) else None

    return BulletinUnitRow(
        unit_group=group,
        unit_name_raw=table.name or "",
        dispatched=cell(columns[0]),
        unresolved=cell(columns[1]),
        row_no=row_no,
        line_no=line_no,
    )
