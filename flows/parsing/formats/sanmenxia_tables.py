"""Sanmenxia's report as read: its channels, their department tables and their text
(`read_report`), for the format (sanmenxia_weekly) and its checks (sanmenxia_checks).

A table's header names its columns (部门 | 派遣数 | 完成数 | 未完成数 | 完成率); rows come as
pipe rows or one cell per line; a 合计 row closes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from flows.parsing.names import normalize_name
from flows.parsing.normalize import Line, squeeze

_CHANNEL = re.compile(r"[一二三四五六七八九十]+、\s*(\S.{0,29})")
_SUBHEADING = re.compile(r"\(\s*[一二三四五六七八九十]+\s*\)")
_TOTAL = re.compile(r"共处理案件\s*(\d{1,9})\s*件")
_BREAKDOWN_ITEM = re.compile(r"(.*\D)(\d{1,9})\s*件")
# A channel's text: 派遣案件16件, 共派遣数字城管案件1259件, 派遣的9件案件中; 实际完成; 未完成.
_SUMMARY_DISPATCHED = re.compile(r"派遣[^,。;:\d]{0,12}?(\d{1,9})\s*件")
_SUMMARY_CLOSED = re.compile(r"实际完成\s*(\d{1,9})\s*件")
_SUMMARY_UNRESOLVED = re.compile(r"未完成\s*(\d{1,9})\s*件")
ANNOUNCES_TABLE = "完成情况如下"

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
class DepartmentTable:
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
    tables: list[DepartmentTable] = field(default_factory=list)


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


def _read_table(part: Sequence[Line], i: int) -> tuple[DepartmentTable, int]:
    """Read the table whose header starts at part[i]; return it and the index after it."""
    table = DepartmentTable()
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


def read_report(part: Sequence[Line]) -> Report:
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


def summary_counts(channel: Channel) -> dict[str, set[int]]:
    """The counts a channel's text prints for its table: dispatched, closed, unresolved."""
    text = "\n".join(channel.prose)
    return {
        "dispatched": {int(n) for n in _SUMMARY_DISPATCHED.findall(text)},
        "closed": {int(n) for n in _SUMMARY_CLOSED.findall(text)},
        "unresolved": {int(n) for n in _SUMMARY_UNRESOLVED.findall(text)},
    }
