"""Text that looks like a city-management bulletin no format reads: "unknown bulletin format".

Run on the lines no format claimed. A stretch of them looks like a bulletin when all hold:

1. a title: a line of at most 60 characters that is not a sentence (no 。, no sentence
   end) and names a report: 通报, 周报, 月报, 简报, 报告, 运行情况 or 绩效;
2. the subject, city management, on that line or among the next 3 non-blank lines:
   数字化城市管理, 数字城管, 城市管理, 城管 or 监督指挥中心;
3. figures after it: a later line with a digit and a word of case work or scoring:
   案件, 结案, 处置, 派遣, 立案, 受理, 得分 or 考评.

Or by its content, with no title: a unit table (a table whose header names case work or
scoring: 派遣, 完成, 结案, 处置, 办结, 交办, 得分, 扣分, 排名, 考评) or a score list (three or
more lines that are each a name and its score, `鄢陵县(99.02分)`, `甲、乙(100分)(优秀等次)`,
`高铁北站(无数据)`). What was seen is reported with it, each with its line (`seen`): the unit
tables and score lists, and for a title the line of figures that confirmed it. A news item
about a scorecard (prose mentioning 得分) has neither and stays news.

So Xuchang's monthly scores (许昌市数字化城市管理系统2021年10月份运行情况通报), Zhengzhou's
pipe tables (每周运行分析报告(...), then 一、 数字城管平台总体运行情况) and Tianmen's prose
(天门:数字化城市管理12月绩效情况通报) are reported, while a news item about the city's
management with no report title is not. At most one is reported per stretch of unclaimed
lines (a bulletin's own subheadings would match again). Most pages have no bulletin:
each line costs a length test and one regex search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from flows.parsing.normalize import Line, is_terminated, squeeze
from flows.parsing.page_tables import PageTable
from flows.parsing.records import UnknownBulletin

MAX_TITLE_CHARS = 60
SUBJECT_WITHIN = 3  # non-blank lines after the title that may carry the subject

_REPORT = re.compile(r"通报|周报|月报|简报|报告|运行情况|绩效")
_SUBJECT = re.compile(r"数字化城市管理|数字城管|城市管理|城管|监督指挥中心")
_FIGURE_WORDS = re.compile(r"案件|结案|处置|派遣|立案|受理|得分|考评")
_DIGIT = re.compile(r"\d")
# A unit table's header names case work or scoring in one of its cells.
_UNIT_COLUMNS = re.compile(r"派遣|完成|结案|处置|办结|交办|得分|扣分|排名|考评")
# A score line: a name (or several, 、 between them), its score or 无数据, maybe a grade.
_SCORE_LINE = re.compile(r"[^,。;:!?()]{2,80}\((?:\d{1,3}(?:\.\d{1,2})?分|无数据)\)(?:\([^()]{1,8}\))?")
MIN_SCORE_LINES = 3
FIGURE_WORDS_SHOWN = 3


def _is_report_title(text: str) -> bool:
    """Say whether a line could be a report's title (test 1 above)."""
    return (
        0 < len(text) <= MAX_TITLE_CHARS
        and "。" not in text
        and _REPORT.search(text) is not None
        and not is_terminated(text)
    )


def _find(lines: Sequence[Line]) -> UnknownBulletin | None:
    """Return the first bulletin-like title in a stretch of lines (with its figures' line), if any."""
    texts = [(line.no, line.text) for line in lines if line.text]  # not line.blank, without the property call
    for k, (no, text) in enumerate(texts):
        # _is_report_title's length test first, inline: most lines are longer than a title.
        if len(text) > MAX_TITLE_CHARS or not _is_report_title(text):
            continue
        if not any(_SUBJECT.search(t) for _, t in texts[k : k + 1 + SUBJECT_WITHIN]):
            continue
        for figures_no, figures in texts[k + 1 :]:
            if _FIGURE_WORDS.search(figures) and _DIGIT.search(figures):
                words = list(dict.fromkeys(_FIGURE_WORDS.findall(figures)))[:FIGURE_WORDS_SHOWN]
                return UnknownBulletin(squeeze(text), no, (f"figures ({', '.join(words)}) at line {figures_no}",))
    return None


def is_unit_table(table: PageTable) -> bool:
    """Say whether a table lists units' figures: its header names case work or scoring, its rows numbers."""
    return any(_UNIT_COLUMNS.search(cell) for cell in table.header) and any(
        cell.number is not None for row in table.rows for cell in row[1:]
    )


def _score_lists(lines: Sequence[Line]) -> list[tuple[int, str]]:
    """The score lists in a stretch: (first line, description) when it has enough score lines."""
    # A score line holds 分) or 无数据): the cheap substring tests first.
    scores = [
        line.no
        for line in lines
        if ("分)" in line.text or "无数据)" in line.text) and _SCORE_LINE.fullmatch(line.text) is not None
    ]
    if len(scores) < MIN_SCORE_LINES:
        return []
    return [(scores[0], f"score list 名称(NN分) of {len(scores)} lines at line {scores[0]}")]


def _content(lines: Sequence[Line], tables: Sequence[PageTable]) -> list[tuple[int, str]]:
    """The unit tables and score lists in a stretch of lines: (line, description), in page order."""
    if not lines:
        return []
    first, last = lines[0].no, lines[-1].no
    seen = [(t.line_start, t.describe()) for t in tables if first <= t.line_start <= last and is_unit_table(t)]
    return sorted(seen + _score_lists(lines))


def unknown_bulletins(
    stretches: Sequence[Sequence[Line]], tables: Sequence[PageTable] = ()
) -> tuple[UnknownBulletin, ...]:
    """Report the bulletins in the stretches of lines no format claimed: by title, or by content.

    `tables`: the page's tables (`flows.parsing.page_tables.find_tables`); those inside a stretch
    that list units' figures are reported with it.
    """
    found: list[UnknownBulletin] = []
    for stretch in stretches:
        titled = _find(stretch)
        content = _content(stretch, tables)
        if titled is not None:
            found.append(replace(titled, seen=(*titled.seen, *(what for _, what in content))))
        elif content:
            found.append(UnknownBulletin("", content[0][0], tuple(what for _, what in content)))
    return tuple(found)
