"""Sanmenxia's weekly report of the city-management command centre (市城管局监督指挥中心周报),
and its monthly report (月报), which prints the same tables for a calendar month.

A web page (cgj.smx.gov.cn, 运行简报 > 周报), one report to a page:

    市城管局监督指挥中心周报(2021第7期)2.27—3.05      title: the 期 label and the week
    发布日期: 2021-09-03 11:26                          the page's date (read as the issue date)
    上周(2.27—3.05),局监督指挥中心共处理案件1282件,其中市级数字城管平台案件1187件,
    市12345政务热线平台案件48件,领导督办案件0件,12319城管热线群众诉求47件。...
    一、12345政府热线                                   a channel: prose and category lists
    二、12319城管热线                                   a channel with a table of departments:
    派遣的9件案件中,完成情况如下:
    部门 | 派遣数 | 完成数 | 未完成数 | 完成率           the header, in one of two layouts:
    一支队 | 1 | 1 | 0 | 100% |                         pipe rows, or one cell per line
    合  计 | 9 | 9 | 0 | 100% |                         (column count from the header)
    三、数字城管平台 ... (the same table with 结案率)

The 月报's title carries the month instead of a week, after its 期 label:
市城管局监督指挥中心月报(2021第2期)2.01—2.28, or (2021第2期)2月 / (2021第2期)2021年2月.
It is read like a week (period_kind month) and checked to be one calendar month.

Onto the warehouse (nothing is derived that the page does not print):
- city 三门峡; period_label the 期 label (2021第7期); the week from the title, its year
  from the label (see `period`).
- received: 共处理案件, the cases the centre handled that week over all channels (the
  hotline's consultations included). due, closed, in_progress, overdue, disputed,
  closure_rate_published, linked_units, overdue_units and as_of are NULL: the report
  prints no city-wide figure for them, and a channel's figures are not the city's.
- one unit row per department row: unit_group the channel (12319城管热线, 数字城管平台),
  dispatched 派遣数, closed 完成数, unresolved 未完成数, closure_rate_published 完成率 or
  结案率 as printed. A 合计 row is checked against the rows, not stored. Channels without
  a department table (12345政府热线) and the category lists stay in the article's body.

Checks, in the order they are recorded (names stable):
- ``period_parsed``: the title's label and week were read; start <= end, at most 31 days.
- ``period_matches_format``: a 月报's period is one calendar month, from its first day to
  its last (not run on a 周报).
- ``figures_present``: the opening total (共处理案件) and its breakdown by channel were read.
- ``channels_sum_to_total``: the breakdown adds up to the total (1187+48+0+47 = 1282).
- ``rows_add_up``: 完成数 + 未完成数 = 派遣数 in every whole row, 合计 rows included.
- ``row_rates_match``: each printed rate equals 完成数 / 派遣数 rounded half-up to the printed
  decimals (150/167 -> 89.8%; 15/16 -> 94%); a row with 派遣数 0 has no rate to check.
- ``totals_match_rows``: a table's 合计 row equals the sums of its rows' three counts.
- ``totals_match_summary``: a table's 合计 equals the counts its channel's text prints
  (派遣的9件案件中; 共派遣...1187件,实际完成1112件,未完成75件).
- ``unresolved_le_dispatched``: 未完成数 <= 派遣数 in every unit row.
- ``units_unique``: no department listed twice in one channel's table (names folded).
- ``table_complete``: every table's header names 派遣数, 完成数, 未完成数 and a rate, every
  row has all its cells, every table ends with its 合计 row, and a channel that announces
  a table (完成情况如下) has one. A page cut mid-table fails it.

A check whose inputs were not read is not run: ``figures_present`` or ``table_complete``
already fails for them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from flows.parsing import checks
from flows.parsing.dates import safe_date
from flows.parsing.formats.base import BulletinRead, Span, spans_from_titles
from flows.parsing.names import normalize_name
from flows.parsing.normalize import Line, squeeze
from flows.parsing.records import Bulletin, BulletinUnitRow

NAME = "sanmenxia_weekly"
CITY = "三门峡"

CHECK_NAMES: tuple[str, ...] = (
    "period_parsed",
    "period_matches_format",
    "figures_present",
    "channels_sum_to_total",
    "rows_add_up",
    "row_rates_match",
    "totals_match_rows",
    "totals_match_summary",
    "unresolved_le_dispatched",
    "units_unique",
    "table_complete",
)

# The title's fixed words: what claims a page for this format (cheap substring test first).
TITLE_WORDS = "监督指挥中心周报"
MONTHLY_TITLE_WORDS = "监督指挥中心月报"
MAX_TITLE_CHARS = 60
# (2021第7期)2.27—3.05; the dates also as 2月27日.
_TITLE = re.compile(
    r"\(\s*((\d{4})\s*第\s*(\d{1,3})\s*期)\s*\)\s*"
    r"(\d{1,2})\s*[.月]\s*(\d{1,2})\s*日?\s*(?:—+|-+|–|~|至|到)\s*(\d{1,2})\s*[.月]\s*(\d{1,2})"
)
# A 月报's month without days: (2021第2期)2月, (2021第2期)2021年2月.
_MONTH_TITLE = re.compile(r"\(\s*((\d{4})\s*第\s*(\d{1,3})\s*期)\s*\)\s*(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?!\s*\d)")
# 期 numbers up to this one are early in the label's year (see `period`).
EARLY_ISSUE_MAX = 26

_CHANNEL = re.compile(r"[一二三四五六七八九十]+、\s*(\S.{0,29})")
_SUBHEADING = re.compile(r"\(\s*[一二三四五六七八九十]+\s*\)")
_TOTAL = re.compile(r"共处理案件\s*(\d{1,9})\s*件")
_BREAKDOWN_ITEM = re.compile(r"(.*\D)(\d{1,9})\s*件")
# A channel's text: 派遣案件16件, 共派遣数字城管案件1259件, 派遣的9件案件中; 实际完成; 未完成.
_SUMMARY_DISPATCHED = re.compile(r"派遣[^,。;:\d]{0,12}?(\d{1,9})\s*件")
_SUMMARY_CLOSED = re.compile(r"实际完成\s*(\d{1,9})\s*件")
_SUMMARY_UNRESOLVED = re.compile(r"未完成\s*(\d{1,9})\s*件")
_ANNOUNCES_TABLE = "完成情况如下"

_HEADER_FIRST = frozenset({"部门", "单位"})
_COLUMN_NAME = re.compile(r"[^\d\s|]{1,8}[数率]")
_COUNT = re.compile(r"\d{1,9}")
_RATE = re.compile(r"(\d{1,3}(?:\.\d{1,4})?)\s*%")
_PLACEHOLDERS = frozenset({"-", "—", "/", "无", "无数据", "空"})
_TOTAL_NAMES = frozenset({"合计", "总计"})
_NAME_PUNCT = re.compile(r"[,。;:!?|]")
MAX_NAME_CHARS = 30

Role = str  # "name", "dispatched", "closed", "unresolved", "rate", or "other"
REQUIRED_ROLES = frozenset({"dispatched", "closed", "unresolved", "rate"})


def is_title(text: str) -> bool:
    """Say whether a line is this report's title, 周报 or 月报 (with or without a readable period)."""
    return (TITLE_WORDS in text or MONTHLY_TITLE_WORDS in text) and len(text) <= MAX_TITLE_CHARS


def is_monthly(title: str) -> bool:
    """Say whether a title is the 月报's."""
    return MONTHLY_TITLE_WORDS in title


def monthly_period(text: str) -> tuple[str | None, date | None, date | None]:
    """Read a 月报 title's 期 label and month: days as a week's are (2.01—2.28), or the
    month alone ((2021第2期)2月, (2021第2期)2021年2月: its first and last day).

    >>> monthly_period("市城管局监督指挥中心月报(2021第2期)2月")
    ('2021第2期', datetime.date(2021, 2, 1), datetime.date(2021, 2, 28))
    >>> monthly_period("市城管局监督指挥中心月报(2021第2期)2.01—2.28")
    ('2021第2期', datetime.date(2021, 2, 1), datetime.date(2021, 2, 28))
    """
    m = _MONTH_TITLE.search(text)
    if m is None:
        return period(text)
    label = re.sub(r"\s+", "", m[1])
    year, month = int(m[4] or m[2]), int(m[5])
    start = safe_date(year, month, 1)
    end = safe_date(year, month, calendar.monthrange(year, month)[1]) if start else None
    return label, start, end


def is_calendar_month(start: date | None, end: date | None) -> bool | None:
    """Say whether start..end is one calendar month (None when either is unknown)."""
    if start is None or end is None:
        return None
    return (
        start.day == 1
        and (end.year, end.month) == (start.year, start.month)
        and end.day == calendar.monthrange(end.year, end.month)[1]
    )


def period(text: str) -> tuple[str | None, date | None, date | None]:
    """Read the title's 期 label and week; the year comes from the label.

    The label's year is the week's, except around New Year: an early 期 (1..26) on a
    week starting in December belongs to the next year's series (the week starts the year
    before the label's), a late 期 on a week starting in January to the previous year's;
    a week whose end (month, day) comes before its start ends in the next year.

    >>> period("市城管局监督指挥中心周报(2021第7期)2.27—3.05")
    ('2021第7期', datetime.date(2021, 2, 27), datetime.date(2021, 3, 5))
    >>> period("市城管局监督指挥中心周报(2021第1期)12.26—1.01")[1:]
    (datetime.date(2020, 12, 26), datetime.date(2021, 1, 1))
    >>> period("市城管局监督指挥中心周报(2020第53期)12.26—1.01")[1:]
    (datetime.date(2020, 12, 26), datetime.date(2021, 1, 1))
    """
    m = _TITLE.search(text)
    if m is None:
        return None, None, None
    label = re.sub(r"\s+", "", m[1])
    year, issue = int(m[2]), int(m[3])
    sm, sd, em, ed = int(m[4]), int(m[5]), int(m[6]), int(m[7])
    if sm == 12 and issue <= EARLY_ISSUE_MAX:
        year -= 1
    elif sm == 1 and issue > EARLY_ISSUE_MAX:
        year += 1
    start = safe_date(year, sm, sd)
    end = safe_date(year + ((em, ed) < (sm, sd)), em, ed)
    return label, start, end


@dataclass(slots=True)
class Row:
    """One table row as read: its name, the cells by role, whether every cell was read."""

    name: str
    line_no: int
    dispatched: int | None
    closed: int | None
    unresolved: int | None
    rate: Decimal | None
    whole: bool

    @property
    def is_total(self) -> bool:
        return normalize_name(self.name) in _TOTAL_NAMES


@dataclass(slots=True)
class Table:
    """A channel's department table: rows, and its 合计 row when one was read."""

    roles: list[Role] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    total: Row | None = None
    text_lines: list[str] = field(default_factory=list)  # the table for the article body


@dataclass(slots=True)
class Channel:
    """A numbered section (一、12345政府热线): its text and its tables."""

    name: str
    prose: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def _roles(header: Sequence[str]) -> list[Role]:
    """Name each header column's role: 派遣数, 完成数, 未完成数, 完成率/结案率."""
    roles: list[Role] = []
    for k, cell in enumerate(header):
        if k == 0:
            roles.append("name")
        elif cell.endswith("率"):  # before 完成: 完成率 is a rate
            roles.append("rate")
        elif "未完成" in cell:
            roles.append("unresolved")
        elif "派遣" in cell:
            roles.append("dispatched")
        elif "完成" in cell:
            roles.append("closed")
        else:
            roles.append("other")
    return roles


def _is_value(cell: str) -> bool:
    """Say whether a cell holds a count, a rate or a placeholder."""
    return cell in _PLACEHOLDERS or _COUNT.fullmatch(cell) is not None or _RATE.fullmatch(cell) is not None


def _plausible_name(cell: str) -> bool:
    """Say whether a cell can start a row: a department's name, or 合计."""
    return (
        0 < len(cell) <= MAX_NAME_CHARS
        and _NAME_PUNCT.search(cell) is None
        and not _is_value(cell)
        and _CHANNEL.fullmatch(cell) is None
        and _SUBHEADING.match(cell) is None
    )


def _row(cells: Sequence[str], roles: Sequence[Role], line_no: int) -> Row:
    """Read a row's cells by role; a missing or malformed cell is None and the row not whole."""
    values: dict[Role, str] = {role: cells[k] for k, role in enumerate(roles) if k < len(cells)}

    def count(role: Role) -> int | None:
        cell = values.get(role)
        return int(cell) if cell is not None and _COUNT.fullmatch(cell) else None

    rate_cell = values.get("rate")
    rate_match = _RATE.fullmatch(rate_cell) if rate_cell is not None else None
    row = Row(
        name=squeeze(cells[0]),
        line_no=line_no,
        dispatched=count("dispatched"),
        closed=count("closed"),
        unresolved=count("unresolved"),
        rate=Decimal(rate_match[1]).scaleb(-2) if rate_match else None,
        whole=False,
    )
    wanted = [getattr(row, r) for r in ("dispatched", "closed", "unresolved") if r in roles]
    if "rate" in roles:
        wanted.append(row.rate)
    row.whole = len(cells) >= len(roles) and all(v is not None for v in wanted)
    return row


def _is_cell_row(text: str) -> bool:
    """A row of cells on one line: pipe-separated as published, or tab-separated as a web page,
    Word or Excel table reads (flows.inputs)."""
    return "|" in text or "\t" in text


def _pipe_cells(text: str) -> list[str]:
    """Split a pipe row (a | b | c |) or a tab row into trimmed cells, trailing empty cells dropped."""
    cells = [c.strip() for c in re.split(r"[|\t]", text)]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _is_header_start(text: str) -> bool:
    """Say whether a line opens a department table: 部门 alone, or a pipe header."""
    if _is_cell_row(text):
        cells = _pipe_cells(text)
        return bool(cells) and cells[0] in _HEADER_FIRST and len(cells) > 1
    return text in _HEADER_FIRST


def _read_table(part: Sequence[Line], i: int) -> tuple[Table, int]:
    """Read the table whose header starts at part[i]; return it and the index after it."""
    table = Table()
    if _is_cell_row(part[i].text):
        header = _pipe_cells(part[i].text)
        roles = table.roles = _roles(header)
        table.text_lines.append("\t".join(header))
        j = i + 1
        while j < len(part) and _is_cell_row(part[j].text):
            cells = _pipe_cells(part[j].text)
            if not cells or not _plausible_name(cells[0]):
                break
            row = _row(cells, roles, part[j].no)
            table.text_lines.append("\t".join(cells))
            j += 1
            if row.is_total:
                table.total = row
                break
            table.rows.append(row)
        return table, j
    # One cell per line: the header's cells are the lines naming a column.
    header = [part[i].text]
    j = i + 1
    while j < len(part) and _COLUMN_NAME.fullmatch(part[j].text):
        header.append(part[j].text)
        j += 1
    roles = table.roles = _roles(header)
    table.text_lines.append("\t".join(header))
    while j < len(part) and _plausible_name(part[j].text):
        cells = [part[j].text]
        k = j + 1
        while len(cells) < len(header) and k < len(part) and _is_value(part[k].text):
            cells.append(part[k].text)
            k += 1
        if len(cells) == 1:
            break  # a name with no number after it: not a row, the table has ended
        row = _row(cells, roles, part[j].no)
        table.text_lines.append("\t".join(cells))
        j = k
        if row.is_total:
            table.total = row
            break
        table.rows.append(row)
        if len(cells) < len(header):
            break  # cut mid-row
    return table, j


@dataclass(slots=True)
class Report:
    """Everything read from the span, before the checks."""

    opening_total: int | None = None
    breakdown: list[int] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    body: list[str] = field(default_factory=list)


def _read(part: Sequence[Line]) -> Report:
    """Walk the report's lines after the title: the opening, the channels, their tables."""
    report = Report()
    channel = opening = Channel("")  # tables before any channel heading: group ""
    i = 0
    while i < len(part):
        text = part[i].text
        if _is_header_start(text):
            table, i = _read_table(part, i)
            channel.tables.append(table)
            report.body.extend(table.text_lines)
            continue
        heading = _CHANNEL.fullmatch(text)
        if heading is not None and _NAME_PUNCT.search(heading[1]) is None:
            channel = Channel(squeeze(heading[1]))
            report.channels.append(channel)
        elif report.opening_total is None and (total := _TOTAL.search(text)) is not None:
            report.opening_total = int(total[1])
            _, _, rest = text[total.end() :].partition("其中")
            for item in re.split(r"[,;]", rest.split("。")[0]):
                if (m := _BREAKDOWN_ITEM.fullmatch(item.strip())) is not None:
                    report.breakdown.append(int(m[2]))
        else:
            channel.prose.append(text)
        report.body.append(text)
        i += 1
    if opening.tables:
        report.channels.insert(0, opening)
    return report


def _summary(channel: Channel) -> dict[str, set[int]]:
    """The counts a channel's text prints for its table: dispatched, closed, unresolved."""
    text = "\n".join(channel.prose)
    return {
        "dispatched": {int(n) for n in _SUMMARY_DISPATCHED.findall(text)},
        "closed": {int(n) for n in _SUMMARY_CLOSED.findall(text)},
        "unresolved": {int(n) for n in _SUMMARY_UNRESOLVED.findall(text)},
    }


def _failed(report: Report, draft: Bulletin) -> tuple[str, ...]:
    """Run the checks (module docstring) and return the failed ones' names, in order."""
    tables = [table for channel in report.channels for table in channel.tables]
    all_rows = [row for table in tables for row in [*table.rows, *([table.total] if table.total else [])]]
    whole = [row for row in all_rows if row.whole]
    failed: dict[str, bool] = {}
    failed["period_parsed"] = not checks.period_parsed(draft)
    failed["period_matches_format"] = (
        draft.period_kind == "month" and is_calendar_month(draft.period_start, draft.period_end) is False
    )
    failed["figures_present"] = report.opening_total is None or not report.breakdown
    failed["channels_sum_to_total"] = (
        report.opening_total is not None and bool(report.breakdown) and sum(report.breakdown) != report.opening_total
    )
    failed["rows_add_up"] = any(
        r.closed + r.unresolved != r.dispatched
        for r in whole
        if r.closed is not None and r.unresolved is not None and r.dispatched is not None
    )
    failed["row_rates_match"] = any(
        not checks.rate_matches(r.rate, r.closed, r.dispatched)
        for r in whole
        if r.rate is not None and r.closed is not None and r.dispatched  # 0 dispatched: nothing to check
    )
    failed["totals_match_rows"] = any(
        (table.total.dispatched, table.total.closed, table.total.unresolved)
        != tuple(_sum(getattr(r, role) for r in table.rows) for role in ("dispatched", "closed", "unresolved"))
        for table in tables
        if table.total is not None and table.total.whole and all(r.whole for r in table.rows)
    )
    failed["totals_match_summary"] = any(
        printed - {getattr(table.total, role)}
        for channel in report.channels
        for table in channel.tables
        if table.total is not None and table.total.whole
        for role, printed in _summary(channel).items()
    )
    failed["unresolved_le_dispatched"] = not checks.unresolved_le_dispatched(draft)
    failed["units_unique"] = any(
        len({normalize_name(r.name) for r in table.rows}) != len(table.rows) for table in tables
    )
    failed["table_complete"] = (
        any(table.total is None or not set(table.roles) >= REQUIRED_ROLES for table in tables)
        or not all(row.whole for row in all_rows)
        or any(not c.tables for c in report.channels if any(_ANNOUNCES_TABLE in p for p in c.prose))
    )
    return tuple(name for name in CHECK_NAMES if failed[name])


def _first(found: Sequence[str]) -> str:
    """The first few findings of a check, then how many more."""
    more = f"; and {len(found) - checks.UNITS_NAMED} more" if len(found) > checks.UNITS_NAMED else ""
    return "; ".join(found[: checks.UNITS_NAMED]) + more


def _details(report: Report, draft: Bulletin, failed: Sequence[str]) -> tuple[str, ...]:
    """One line per failed check (`name: what it compared`, with the table lines), in `failed`'s order."""
    tables = [(channel, table) for channel in report.channels for table in channel.tables]
    rows = [row for _, t in tables for row in [*t.rows, *([t.total] if t.total else [])]]
    whole = [r for r in rows if r.whole and None not in (r.dispatched, r.closed, r.unresolved)]
    found: dict[str, list[str]] = {name: [] for name in failed}
    if "period_parsed" in found or "period_matches_format" in found:
        period = f"{draft.period_start}..{draft.period_end}" if draft.period_start else "no period read"
        found.setdefault("period_parsed", []).append(f"{period} from the title (line {draft.line_start})")
        found.setdefault("period_matches_format", []).append(f"{period} is not one calendar month")
    if "figures_present" in found:
        missing = ["the opening total (共处理案件)"] if report.opening_total is None else []
        found["figures_present"] = missing + ([] if report.breakdown else ["its breakdown by channel (其中...)"])
    if "channels_sum_to_total" in found:
        parts = " + ".join(map(str, report.breakdown))
        found["channels_sum_to_total"].append(
            f"channels sum to {parts} = {sum(report.breakdown)}, the report prints 共处理案件 {report.opening_total}"
        )
    for r in whole:
        assert r.dispatched is not None and r.closed is not None and r.unresolved is not None
        if r.closed + r.unresolved != r.dispatched and "rows_add_up" in found:
            found["rows_add_up"].append(
                f"{r.name}: 完成数 {r.closed} + 未完成数 {r.unresolved} = {r.closed + r.unresolved}, "
                f"派遣数 {r.dispatched} (line {r.line_no})"
            )
        if (
            "row_rates_match" in found
            and r.rate is not None
            and r.dispatched
            and not checks.rate_matches(r.rate, r.closed, r.dispatched)
        ):
            computed = Decimal(r.closed * 100) / Decimal(r.dispatched)
            found["row_rates_match"].append(
                f"{r.name}: {r.closed} / {r.dispatched} = {computed:.2f}%, printed "
                f"{r.rate.scaleb(2).normalize():f}% (line {r.line_no})"
            )
    for channel, t in tables:
        if t.total is None or not t.total.whole:
            continue
        sums = {role: _sum(getattr(r, role) for r in t.rows) for role in ("dispatched", "closed", "unresolved")}
        printed = {role: getattr(t.total, role) for role in sums}
        if "totals_match_rows" in found and all(r.whole for r in t.rows) and sums != printed:
            found["totals_match_rows"].append(
                f"{channel.name or 'table'}: rows sum to {'/'.join(map(str, sums.values()))}, 合计 prints "
                f"{'/'.join(map(str, printed.values()))} (派遣/完成/未完成, line {t.total.line_no})"
            )
        for role, numbers in _summary(channel).items():
            if "totals_match_summary" in found and numbers - {printed[role]}:
                found["totals_match_summary"].append(
                    f"{channel.name}: 合计 {role} {printed[role]} (line {t.total.line_no}), "
                    f"the text prints {', '.join(map(str, sorted(numbers)))}"
                )
        if "units_unique" in found:
            names = [normalize_name(r.name) for r in t.rows]
            twice = sorted({r.name for r in t.rows if names.count(normalize_name(r.name)) > 1})
            found["units_unique"] += [f"{channel.name}: {name} listed twice" for name in twice]
    if "unresolved_le_dispatched" in found:
        found["unresolved_le_dispatched"] = [
            f"{u.unit_name_raw}: unresolved {u.unresolved} > dispatched {u.dispatched} (line {u.line_no})"
            for u in draft.units
            if u.unresolved is not None and u.dispatched is not None and u.unresolved > u.dispatched
        ]
    if "table_complete" in found:
        for channel, t in tables:
            where = f"{channel.name or 'table'} (line {t.rows[0].line_no if t.rows else draft.line_start})"
            if t.total is None:
                found["table_complete"].append(f"{where}: no 合计 row (the page may be cut off)")
            if not set(t.roles) >= REQUIRED_ROLES:
                found["table_complete"].append(
                    f"{where}: the header lacks {', '.join(sorted(REQUIRED_ROLES - set(t.roles)))}"
                )
        found["table_complete"] += [
            f"{r.name}: a cell missing or unreadable (line {r.line_no})" for r in rows if not r.whole
        ]
        found["table_complete"] += [
            f"{c.name}: announces a table (完成情况如下) but has none"
            for c in report.channels
            if not c.tables and any(_ANNOUNCES_TABLE in p for p in c.prose)
        ]
    return tuple(f"{name}: {_first(found[name])}" if found[name] else name for name in failed)


def _sum(values: Iterable[int | None]) -> int | None:
    """Sum counts; None when one is missing."""
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _units(report: Report) -> tuple[BulletinUnitRow, ...]:
    """The department rows (合计 rows excluded), numbered across the report."""
    rows = [(channel.name, row) for channel in report.channels for table in channel.tables for row in table.rows]
    return tuple(
        BulletinUnitRow(
            unit_group=group,
            unit_name_raw=row.name,
            dispatched=row.dispatched,
            unresolved=row.unresolved,
            row_no=k,
            line_no=row.line_no,
            closed=row.closed,
            closure_rate_published=row.rate,
        )
        for k, (group, row) in enumerate(rows, start=1)
    )


class SanmenxiaWeekly:
    """Reads 三门峡 市城管局监督指挥中心周报 and 月报."""

    name = NAME
    city = CITY
    check_names = CHECK_NAMES
    groups_are_lists = True  # each channel's table is a list of its own

    def recognise(self, lines: Sequence[Line]) -> list[Span]:
        """Return one span per title: from it to the next title or the page's last text."""
        starts = [i for i, line in enumerate(lines) if "监督指挥中心" in line.text and is_title(line.text)]
        return spans_from_titles(lines, starts)

    def parse(self, lines: Sequence[Line], span: Span, issue_date: date | None) -> BulletinRead:
        """Read the report in `span`."""
        title = lines[span.start]
        part = [line for line in lines[span.start + 1 : span.end + 1] if not line.blank]
        monthly = is_monthly(title.text)
        label, start, end = monthly_period(title.text) if monthly else period(title.text)
        report = _read(part)
        draft = Bulletin(
            seq=0,
            article_seq=0,
            format=NAME,
            city=CITY,
            period_label=label,
            period_start=start,
            period_end=end,
            received=report.opening_total,
            due=None,
            closed=None,
            in_progress=None,
            overdue=None,
            disputed=None,
            closure_rate_published=None,
            linked_units=None,
            overdue_units=None,
            as_of=None,
            units=_units(report),
            failed_checks=(),
            line_start=title.no,
            line_end=lines[span.end].no,
            period_kind="month" if monthly else "week",
        )
        failed = _failed(report, draft)
        bulletin = replace(draft, failed_checks=failed, check_details=_details(report, draft, failed))
        return BulletinRead(squeeze(title.text), "\n".join(report.body), bulletin)
