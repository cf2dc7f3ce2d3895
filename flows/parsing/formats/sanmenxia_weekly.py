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
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from flows.parsing.dates import safe_date
from flows.parsing.formats.base import BulletinRead, Span, spans_from_titles
from flows.parsing.formats.sanmenxia_checks import CHECK_NAMES, check_details, failed_checks
from flows.parsing.formats.sanmenxia_tables import Report, read_report
from flows.parsing.normalize import Line, squeeze
from flows.parsing.records import Bulletin, BulletinUnitRow

NAME = "sanmenxia_weekly"
CITY = "三门峡"


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
        report = read_report(part)
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
        failed = failed_checks(report, draft)
        bulletin = replace(draft, failed_checks=failed, check_details=check_details(report, draft, failed))
        return BulletinRead(squeeze(title.text), "\n".join(report.body), bulletin)
