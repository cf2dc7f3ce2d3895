"""Xuchang's monthly (or quarterly) scorecard of the digital city-management system.

A web page (xuchang.gov.cn, 要闻动态 > 通知公告), one scorecard to a page:

    许昌市数字化城市管理系统2021年10月份运行情况通报    title: the period (a month, or 2021年第三季度)
    ...,2021年10月份数字化城市管理得分情况如下:        prose
    一、得分情况
    (一)县、市组                                       a group: a ranking of its own
    鄢陵县(99.02分)                                    a unit and its score, best first
    (二)建成区组(详见附件1)
    东城区(93.46分)(优秀等次)                          ... with its grade (等次)
    (三)市直及企事业单位组(详见附件2)
    1、案件处置好的单位                                 the group's good list (the top of its ranking)
    甲、乙、丙(100分)                                  several units sharing one score: a row each
    2、案件处置差的单位                                 the bad list (the bottom; the middle is
    河南报业集团达利广告公司(56分)                      only in the attachment)
    某单位(无数据)                                     no data: score NULL, never 0

Onto the warehouse: a Bulletin of city 许昌 with period_kind month (or quarter), the
period's first and last day, period_label the period as printed (2021年10月份); every
case figure NULL (the page prints none); one ScoreRow per unit (core.bulletin_scores).

rank: 1-based within the group, ties share one (rank(): 甲、乙、丙(100分) then 丁(99分)
are 1, 1, 1, 4). A group printed whole is ranked by its scores; in a group printed as a
good and a bad list, the good list is the top of the ranking and is ranked, while the bad
list's ranks are unknown (the units between the lists are not printed): NULL. A unit
with 无数据 has no rank.

Checks, in the order they are recorded (names stable):
- ``period_parsed``: the title's month or quarter was read.
- ``period_before_issue``: the period ends on or before the issue date (not run when the
  issue date is unknown).
- ``groups_present``: at least one group with at least one unit was read.
- ``scores_in_range``: every score is within 0..100.
- ``grades_known``: every grade printed is one of GRADES.
- ``ranks_consistent``: within each group and list the scores never rise in printed order,
  and no bad-list score is above a good-list score of the same group.
- ``units_unique``: no unit printed twice in one group (names folded).
- ``table_complete``: every line of the score section was read (a unit line cut mid-name,
  as where a page stops, is not), and every group and list heading has units under it.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from itertools import pairwise

from flows.parsing.dates import safe_date
from flows.parsing.formats.base import BulletinRead, Span, spans_from_titles
from flows.parsing.names import normalize_name
from flows.parsing.normalize import Line, squeeze
from flows.parsing.records import Bulletin, PeriodKind, ScoreList, ScoreRow

NAME = "xuchang_scorecard"
CITY = "许昌"

CHECK_NAMES: tuple[str, ...] = (
    "period_parsed",
    "period_before_issue",
    "groups_present",
    "scores_in_range",
    "grades_known",
    "ranks_consistent",
    "units_unique",
    "table_complete",
)

# The title's fixed words: what claims a page for this format (cheap substring tests).
TITLE_WORDS = "许昌市数字化城市管理"
TITLE_END = "情况通报"
MAX_TITLE_CHARS = 60

GRADES = frozenset({"优秀", "良好", "合格", "基本合格", "不合格", "较差", "差"})
MAX_SCORE = Decimal(100)

_MONTH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月份?")
_QUARTER = re.compile(r"(\d{4})\s*年\s*(?:第\s*)?([一二三四1-4])\s*季度")
_QUARTERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}

_SECTION = re.compile(r"[一二三四五六七八九十]+、\s*\S.*")
_GROUP = re.compile(r"\(\s*[一二三四五六七八九十]+\s*\)\s*(\S.*?组)\s*(?:\(\s*详见附件\s*\d*\s*\))?")
_LIST = re.compile(r"\d{1,2}\s*、\s*(?:案件)?处置(好|差)的\S*")
# 名称(98.42分)(优秀等次); 甲、乙、丙(100分); 名称(无数据)
_SCORE_LINE = re.compile(
    r"(?P<names>[^()]+?)\s*\(\s*(?:(?P<score>\d{1,3}(?:\.\d{1,4})?)\s*分|(?P<no_data>无数据))\s*\)"
    r"\s*(?:\(\s*(?P<grade>[^()]{1,6}?)\s*等次?\s*\))?"
)
_NAME_SEPARATORS = re.compile(r"[、,]")
_NAME_PUNCT = re.compile(r"[。;:!?|]")
MAX_NAME_CHARS = 40


def is_title(text: str) -> bool:
    """Say whether a line is this scorecard's title (with or without a readable period)."""
    return TITLE_WORDS in text and TITLE_END in text and len(text) <= MAX_TITLE_CHARS


def period(text: str) -> tuple[PeriodKind, str | None, date | None, date | None]:
    """Read the title's month or quarter: (kind, the period as printed, first day, last day).

    >>> period("许昌市数字化城市管理系统2021年10月份运行情况通报")
    ('month', '2021年10月份', datetime.date(2021, 10, 1), datetime.date(2021, 10, 31))
    >>> period("许昌市数字化城市管理系统2021年第三季度运行情况通报")
    ('quarter', '2021年第三季度', datetime.date(2021, 7, 1), datetime.date(2021, 9, 30))
    >>> period("许昌市数字化城市管理系统2021年13月份运行情况通报")
    ('month', '2021年13月份', None, None)
    """
    if (q := _QUARTER.search(text)) is not None:
        year, quarter = int(q[1]), _QUARTERS[q[2]]
        start = safe_date(year, 3 * quarter - 2, 1)
        end = safe_date(year, 3 * quarter, calendar.monthrange(year, 3 * quarter)[1]) if start else None
        return "quarter", re.sub(r"\s+", "", q[0]), start, end
    if (m := _MONTH.search(text)) is not None:
        year, month = int(m[1]), int(m[2])
        start = safe_date(year, month, 1)
        end = safe_date(year, month, calendar.monthrange(year, month)[1]) if start else None
        return "month", re.sub(r"\s+", "", m[0]), start, end
    return "month", None, None, None


@dataclass(slots=True)
class ScoreEntry:
    """One score line's unit, before ranking."""

    group: str
    name: str
    score: Decimal | None
    grade: str | None
    score_list: ScoreList
    line_no: int


@dataclass(slots=True)
class Card:
    """Everything read from the span, before ranks and checks."""

    entries: list[ScoreEntry] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    lists: list[tuple[str, ScoreList]] = field(default_factory=list)  # (group, list) headings
    unread: list[int] = field(default_factory=list)  # line numbers in the score section not read
    body: list[str] = field(default_factory=list)


def score_line(text: str) -> tuple[list[str], Decimal | None, str | None] | None:
    """Read `名称(98.42分)(优秀等次)`: the names (several share one score), score, grade.

    None when the line is not a whole score line.

    >>> score_line("甲区、乙区(100分)")
    (['甲区', '乙区'], Decimal('100'), None)
    >>> score_line("东城区(93.46分)(优秀等次)")
    (['东城区'], Decimal('93.46'), '优秀')
    >>> score_line("某单位(无数据)")
    (['某单位'], None, None)
    >>> score_line("建安区产业集") is None
    True
    """
    m = _SCORE_LINE.fullmatch(text)
    if m is None:
        return None
    names = [squeeze(n) for n in _NAME_SEPARATORS.split(m["names"])]
    if not names or any(not n or len(n) > MAX_NAME_CHARS or _NAME_PUNCT.search(n) for n in names):
        return None
    score = Decimal(m["score"]) if m["score"] is not None else None
    return names, score, m["grade"]


def _read(part: Sequence[Line]) -> Card:
    """Walk the lines after the title: prose, then groups, lists and score lines."""
    card = Card()
    group: str | None = None
    score_list: ScoreList = "none"
    for line in part:
        text = line.text
        card.body.append(text)
        if (g := _GROUP.fullmatch(text)) is not None:
            group, score_list = squeeze(g[1]), "none"
            card.groups.append(group)
            continue
        if group is None:
            continue  # the opening prose and the section heading (一、得分情况)
        if (lst := _LIST.fullmatch(text)) is not None:
            score_list = "good" if lst[1] == "好" else "bad"
            card.lists.append((group, score_list))
            continue
        if (read := score_line(text)) is not None:
            names, score, grade = read
            card.entries.extend(ScoreEntry(group, n, score, grade, score_list, line.no) for n in names)
            continue
        if _SECTION.fullmatch(text) is not None:
            group = None  # 二、存在问题...: the score section has ended
            continue
        card.unread.append(line.no)
    return card


def _rank(entries: Sequence[ScoreEntry]) -> list[int | None]:
    """Each entry's rank in its group (module docstring): rank() over the ranked entries."""
    has_lists = {e.group for e in entries if e.score_list != "none"}
    # each ranked list's scores, negated and sorted: bisect counts the higher ones (a hostile
    # page of many units costs n log n, not n squared)
    peers: dict[tuple[str, str], list[Decimal]] = {}
    for e in entries:
        if e.score is not None:
            peers.setdefault((e.group, e.score_list), []).append(-e.score)
    for scores in peers.values():
        scores.sort()
    ranks: list[int | None] = []
    for e in entries:
        ranked = e.group not in has_lists or e.score_list == "good"
        if not ranked or e.score is None:
            ranks.append(None)
        else:
            ranks.append(1 + bisect_left(peers[(e.group, e.score_list)], -e.score))
    return ranks


def _failed(card: Card, draft: Bulletin, issue_date: date | None) -> tuple[str, ...]:
    """Run the checks (module docstring) and return the failed ones' names, in order."""
    entries = card.entries
    scored = [e for e in entries if e.score is not None]
    runs: dict[tuple[str, str], list[Decimal]] = {}
    for e in scored:
        runs.setdefault((e.group, e.score_list), []).append(e.score)  # type: ignore[arg-type]
    keys = [(e.group, normalize_name(e.name)) for e in entries]
    failed: dict[str, bool] = {
        "period_parsed": draft.period_start is None or draft.period_end is None,
        "period_before_issue": (
            issue_date is not None and draft.period_end is not None and draft.period_end > issue_date
        ),
        "groups_present": not entries,
        "scores_in_range": any(not 0 <= e.score <= MAX_SCORE for e in scored if e.score is not None),
        "grades_known": any(e.grade is not None and e.grade not in GRADES for e in entries),
        "ranks_consistent": any(any(b > a for a, b in pairwise(scores)) for scores in runs.values())
        or any(
            max(runs.get((g, "bad"), [Decimal(-1)])) > min(runs.get((g, "good"), [MAX_SCORE + 1])) for g in card.groups
        ),
        "units_unique": len(set(keys)) != len(keys),
        "table_complete": bool(card.unread)
        or not set(card.groups) <= {e.group for e in entries}
        or not set(card.lists) <= {(e.group, e.score_list) for e in entries},
    }
    return tuple(name for name in CHECK_NAMES if failed[name])


def _details(card: Card, draft: Bulletin, issue_date: date | None, failed: Sequence[str]) -> tuple[str, ...]:
    """One line per failed check (`name: what it compared`, with its lines), in `failed`'s order."""
    entries, shown = card.entries, 5  # name at most this many offending rows per check
    found: dict[str, list[str]] = {name: [] for name in failed}
    if "period_parsed" in found:
        found["period_parsed"].append(f"no month or quarter read from the title (line {draft.line_start})")
    if "period_before_issue" in found:
        found["period_before_issue"].append(f"the period ends {draft.period_end}, after the issue date {issue_date}")
    if "groups_present" in found:
        found["groups_present"].append(f"no scored unit after the title (line {draft.line_start})")
    if "scores_in_range" in found:
        found["scores_in_range"] += [
            f"{e.name} {e.score}分 (line {e.line_no}) is outside 0-{MAX_SCORE}"
            for e in entries
            if e.score is not None and not 0 <= e.score <= MAX_SCORE
        ][:shown]
    if "grades_known" in found:
        found["grades_known"] += [
            f"{e.name}: {e.grade} (line {e.line_no}) is none of {'/'.join(GRADES)}"
            for e in entries
            if e.grade is not None and e.grade not in GRADES
        ][:shown]
    if "ranks_consistent" in found:
        last: dict[tuple[str, str], ScoreEntry] = {}
        for e in entries:
            before = last.get((e.group, e.score_list))
            if e.score is None:
                continue
            if before is not None and before.score is not None and e.score > before.score:
                found["ranks_consistent"].append(
                    f"{e.group}: {e.name} {e.score}分 (line {e.line_no}) printed below "
                    f"{before.name} {before.score}分 (line {before.line_no})"
                )
            last[(e.group, e.score_list)] = e
        found["ranks_consistent"] = found["ranks_consistent"][:shown] or ["a 处置差 score above a 处置好 one"]
    if "units_unique" in found:
        seen: dict[tuple[str, str], ScoreEntry] = {}
        for e in entries:
            key = (e.group, normalize_name(e.name))
            if key in seen:
                found["units_unique"].append(f"{e.name} in {e.group} twice (lines {seen[key].line_no}, {e.line_no})")
            seen.setdefault(key, e)
        found["units_unique"] = found["units_unique"][:shown]
    if "table_complete" in found:
        read_groups = {e.group for e in entries}
        found["table_complete"] += [f"group {g} has no scored unit" for g in card.groups if g not in read_groups]
        if card.unread:
            lines = ", ".join(map(str, card.unread[:shown])) + (" ..." if len(card.unread) > shown else "")
            found["table_complete"].append(f"{len(card.unread)} line(s) of the score section not read (line {lines})")
        found["table_complete"] = found["table_complete"] or ["a 处置好/处置差 list heading with no unit under it"]
    return tuple(f"{name}: {'; '.join(found[name])}" for name in failed)


def _scores(card: Card) -> tuple[ScoreRow, ...]:
    ranks = _rank(card.entries)
    return tuple(
        ScoreRow(
            unit_group=e.group,
            unit_name_raw=e.name,
            score=e.score,
            grade=e.grade,
            rank=rank,
            score_list=e.score_list,
            no_data=e.score is None,
            row_no=k,
            line_no=e.line_no,
        )
        for k, (e, rank) in enumerate(zip(card.entries, ranks, strict=True), start=1)
    )


class XuchangScorecard:
    """Reads 许昌市数字化城市管理系统 N月份/第N季度 运行情况通报."""

    name = NAME
    city = CITY
    check_names = CHECK_NAMES
    groups_are_lists = True  # each group is a ranking of its own

    def recognise(self, lines: Sequence[Line]) -> list[Span]:
        """Return one span per title: from it to the next title or the page's last text."""
        starts = [i for i, line in enumerate(lines) if TITLE_WORDS in line.text and is_title(line.text)]
        return spans_from_titles(lines, starts)

    def parse(self, lines: Sequence[Line], span: Span, issue_date: date | None) -> BulletinRead:
        """Read the scorecard in `span`."""
        title = lines[span.start]
        part = [line for line in lines[span.start + 1 : span.end + 1] if not line.blank]
        kind, label, start, end = period(title.text)
        card = _read(part)
        draft = Bulletin(
            seq=0,
            article_seq=0,
            format=NAME,
            city=CITY,
            period_label=label,
            period_start=start,
            period_end=end,
            received=None,
            due=None,
            closed=None,
            in_progress=None,
            overdue=None,
            disputed=None,
            closure_rate_published=None,
            linked_units=None,
            overdue_units=None,
            as_of=None,
            units=(),
            failed_checks=(),
            line_start=title.no,
            line_end=lines[span.end].no,
            period_kind=kind,
            scores=_scores(card),
        )
        failed = _failed(card, draft, issue_date)
        bulletin = replace(draft, failed_checks=failed, check_details=_details(card, draft, issue_date, failed))
        return BulletinRead(squeeze(title.text), "\n".join(card.body), bulletin)
