"""Text that looks like a city-management bulletin no format reads: "unknown bulletin format".

Run on the lines no format claimed. A stretch of them looks like a bulletin when all hold:

1. a title: a line of at most 60 characters that is not a sentence (no 。, no sentence
   end) and names a report: 通报, 周报, 月报, 简报, 报告, 运行情况 or 绩效;
2. the subject, city management, on that line or among the next 3 non-blank lines:
   数字化城市管理, 数字城管, 城市管理, 城管 or 监督指挥中心;
3. figures after it: a later line with a digit and a word of case work or scoring:
   案件, 结案, 处置, 派遣, 立案, 受理, 得分 or 考评.

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

from flows.parsing.normalize import Line, is_terminated, squeeze
from flows.parsing.records import UnknownBulletin

MAX_TITLE_CHARS = 60
SUBJECT_WITHIN = 3  # non-blank lines after the title that may carry the subject

_REPORT = re.compile(r"通报|周报|月报|简报|报告|运行情况|绩效")
_SUBJECT = re.compile(r"数字化城市管理|数字城管|城市管理|城管|监督指挥中心")
_FIGURE_WORDS = re.compile(r"案件|结案|处置|派遣|立案|受理|得分|考评")
_DIGIT = re.compile(r"\d")


def _is_report_title(text: str) -> bool:
    """Say whether a line could be a report's title (test 1 above)."""
    return (
        0 < len(text) <= MAX_TITLE_CHARS
        and "。" not in text
        and _REPORT.search(text) is not None
        and not is_terminated(text)
    )


def _find(lines: Sequence[Line]) -> UnknownBulletin | None:
    """Return the first bulletin-like title in a stretch of lines, if any."""
    texts = [(line.no, line.text) for line in lines if line.text]  # not line.blank, without the property call
    for k, (no, text) in enumerate(texts):
        # _is_report_title's length test first, inline: most lines are longer than a title.
        if len(text) > MAX_TITLE_CHARS or not _is_report_title(text):
            continue
        if not any(_SUBJECT.search(t) for _, t in texts[k : k + 1 + SUBJECT_WITHIN]):
            continue
        if any(_FIGURE_WORDS.search(t) and _DIGIT.search(t) for _, t in texts[k + 1 :]):
            return UnknownBulletin(squeeze(text), no)
    return None


def unknown_bulletins(stretches: Sequence[Sequence[Line]]) -> tuple[UnknownBulletin, ...]:
    """Report the bulletin-like titles in the stretches of lines no format claimed."""
    found = (_find(stretch) for stretch in stretches)
    return tuple(u for u in found if u is not None)
