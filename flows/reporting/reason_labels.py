"""Recorded reasons and checks in people's words: each check with a Chinese gloss, each
reason's English opening and details translated (names, numbers, lines kept).

The warehouse records reasons in English (`ingest.files.reasons`, `failed_checks`); the
run's summary, `bulletins status` and the notifications show them through `reason_label`
and `problem_line`; a reason not known here is shown as it was recorded.

The openings are the writers' constants (`flows.parsing.reasons`, `flows.warehouse.reasons`),
never copies of their text; tests/test_reason_labels.py records every reason the code can
(broken pages for every check, the decoder's rejections, an inbox of odd entries, decisions
on record) and fails on English left in its Chinese: a new or reworded reason needs its
Chinese here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from flows.parsing import reasons as pr
from flows.reporting.labels import COLUMN_LABELS, status_label
from flows.warehouse import reasons as wr

# What each check verifies (`failed_checks`, English in SQL), in a few Chinese words.
CHECK_GLOSSES: dict[str, str] = {
    "period_parsed": "通报周期可识别",
    "period_matches_format": "周期符合该市格式",
    "period_before_issue": "周期早于刊发日",
    "text_intact": "正文完整",
    "figures_present": "主要数字齐全",
    "numbers_well_formed": "数字格式正确",
    "components_sum_to_due": "各项之和等于应结案",
    "closure_rate_matches": "结案率与通报公布一致",
    "units_sum_to_overdue": "各单位合计等于超时未办结",
    "unit_count_matches": "单位数与通报所列一致",
    "unresolved_le_dispatched": "未办结不多于交办",
    "units_unique": "单位不重复",
    "table_complete": "表格完整",
    "channels_sum_to_total": "各渠道之和等于受理总数",
    "rows_add_up": "各行数字自洽",
    "row_rates_match": "各行比率与数字一致",
    "totals_match_rows": "合计等于各行之和",
    "totals_match_summary": "合计与通报摘要一致",
    # scorecards (xuchang_scorecard)
    "groups_present": "考评分组可识别",
    "scores_in_range": "得分在0至100之间",
    "grades_known": "等次可识别",
    "ranks_consistent": "排名与得分一致",
}


def check_label(check: str) -> str:
    """A check by its English identifier (what SQL and `bulletins accept` take), with a Chinese gloss.

    >>> check_label("units_sum_to_overdue"), check_label("a_new_check")
    ('units_sum_to_overdue（各单位合计等于超时未办结）', 'a_new_check')
    """
    gloss = CHECK_GLOSSES.get(check)
    return f"{check}（{gloss}）" if gloss else check


# A recorded reason's English opening and its Chinese; what follows is kept (file names, numbers).
# The openings are the writers' own constants (flows.parsing.reasons, flows.warehouse.reasons).
_REASON_PREFIXES: tuple[tuple[str, str], ...] = (
    (wr.FAILED_CHECK, "校验未通过："),
    (wr.SAME_BYTES_AS, "与此文件字节相同："),
    (wr.SUPERSEDED, "已被取代：更晚一期重新刊印了同一周"),
    (wr.UNKNOWN_FORMAT + ": ", "未知通报格式："),
    (wr.HELD_OUT, "暂不入库：数据测试 "),
    (wr.ZIP_ARCHIVE, "压缩包："),
    (pr.PARSER_ERROR, "解析出错"),
    (pr.NO_TEXT_LAYER, "没有文字层"),
    (pr.ENCRYPTED, "已加密"),
    (pr.UNSUPPORTED_FORMAT, "不支持的格式"),
    (pr.UNREADABLE, "无法打开"),
    (pr.NOT_TEXT, "不是文本"),
    (pr.UNDECODABLE, "无法解码"),
    (pr.EMPTY, "空文件"),
    # openings of reasons `_WHOLE` words whole, for a wording it does not know (an archive's)
    (wr.TOO_LARGE, "文件过大"),
    (wr.COULD_NOT_BE_READ, "无法读取"),
    (wr.MTIME_OUT_OF_RANGE, "修改时间超出范围"),
    (wr.FORGOTTEN_ON_RECORD, "已撤回（记录在案）"),
)

_NOT_READ = re.escape(wr.NOT_READ)
_WHEN = r"(\d{4}-\d\d-\d\d \d\d:\d\d UTC)"

# The kinds of entry `inbox_walk` names (not a regular file), in Chinese.
_SPECIAL = {"FIFO": "命名管道", "socket": "套接字", "character device": "字符设备", "block device": "块设备"}

# Reasons worded whole (a note, a warning, an entry not read): matched from their opening to
# their end, the quoted parts (names, numbers, errors) kept.
_WHOLE: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(english, re.DOTALL), chinese)
    for english, chinese in (
        (
            re.escape(pr.UNDECODABLE_AS) + r"(\S+): (\d+) byte\(s\), read as U\+FFFD",
            r"按 \1 读有 \2 字节无法解码，以 U+FFFD 代替",
        ),
        (re.escape(pr.SUSPECT_CHARACTERS) + r"(\d+) byte\(s\)", r"正文中有 U+FFFD 或私用区字符：\1 字节"),
        (
            re.escape(pr.DECLARED_CHARSET) + r"(.+) does not read the page \((\d+) bad bytes\): read as (\S+)",
            r"网页声明的字符集 \1 读不了此页（\2 个坏字节）：改按 \3 读取",
        ),
        (
            re.escape(pr.ISSUE_DATE) + r"(\S+) in the file name is after the file was first seen: not used",
            r"文件名中的刊发日 \1 晚于首次收到文件的时间：未采用",
        ),
        (
            re.escape(pr.ISSUE_DATE) + r"(\S+) on the page is after the file was first seen: not used",
            r"页面上的刊发日 \1 晚于首次收到文件的时间：未采用",
        ),
        (re.escape(pr.NO_ITEMS), "页面上没有找到任何条目"),
        (
            re.escape(wr.TOO_LARGE) + r": (\d+) bytes, over the limit of (\d+) \((\w+)\): " + _NOT_READ,
            r"文件过大：\1 字节，超过上限 \2（\3）：未读取",
        ),
        (re.escape(wr.COULD_NOT_BE_READ) + r" \((.*)\): " + _NOT_READ, r"无法读取（\1）：未读取"),
        (re.escape(wr.FOLDER_NOT_LISTED) + r" \((.*)\): " + _NOT_READ, r"文件夹无法列出（\1）：未读取"),
        (re.escape(wr.NOT_EXAMINED) + r" \((.*)\): " + _NOT_READ, r"无法查看（\1）：未读取"),
        (
            re.escape(wr.NAME_HIDDEN) + r" folder \(name starts with '\.'\): " + _NOT_READ,
            "隐藏文件夹（名称以“.”开头）：未读取",
        ),
        (re.escape(wr.NAME_HIDDEN) + r" \(name starts with '\.'\): " + _NOT_READ, "隐藏文件（名称以“.”开头）：未读取"),
        (re.escape(wr.SYMBOLIC_LINK) + r"(.*): not followed", r"符号链接，指向 \1：未跟随"),
        (
            re.escape(wr.NOT_REGULAR) + r" \((.*)\): " + _NOT_READ,
            lambda m: f"不是普通文件（{_SPECIAL.get(m[1], m[1])}）：未读取",
        ),
        (
            re.escape(wr.NAME_ESCAPED) + r" \(\\\\ or \\xNN\): recorded as (.*)",
            r"文件名中有像转义的字符（\\ 或 \\xNN）：记作 \1",
        ),
        (
            re.escape(wr.NAME_NOT_UTF8) + r": recorded as (.*) \(as GB18030: (.*)\)",
            r"文件名不是 UTF-8：记作 \1（按 GB18030 为 \2）",
        ),
        (re.escape(wr.NAME_NOT_UTF8) + r": recorded as (.*)", r"文件名不是 UTF-8：记作 \1"),
        (
            re.escape(wr.MTIME_OUT_OF_RANGE) + r" \((-?\d+) ns\): recorded as (-?\d+)",
            r"修改时间超出范围（\1 纳秒）：记作 \2",
        ),
        (
            re.escape(wr.FORGOTTEN_ON_RECORD) + r" by (.*) at " + _WHEN + r": (.*)",
            r"已撤回（记录在案），\1 于 \2 撤回：\3",
        ),
        (
            re.escape(wr.ACCEPTED_ON_RECORD) + r"bulletin \(([^)]*)\): (\w+) by (.*) at " + _WHEN + r": (.*)",
            lambda m: (
                f"已接受（记录在案）：{_period_start_text(m[1])}的通报，{check_label(m[2])}，{m[3]} 于 {m[4]} 接受：{m[5]}"
            ),
        ),
        (re.escape(wr.IN_ZIP_ARCHIVE) + r"(.*)（压缩包内文件）", r"压缩包 \1 内的文件"),
        (re.escape(wr.MEMBER_NAME_TWICE) + r"（同名文件只读第一个）: (.*)", r"同名文件只读第一个：\1"),
        (r"(\d+) (partial|quarantined|skipped)", lambda m: f"{m[1]} 个{status_label(m[2])}"),
        (re.escape(wr.BATCH_REPLACED), "每个条目都已被后来的批次重新记录"),
    )
)


def _period_start_text(start: str) -> str:
    return "周期未知" if start == wr.PERIOD_UNKNOWN else start


def reason_label(reason: str) -> str:
    """A recorded reason in Chinese: its known opening translated, the details (names, numbers) kept.

    Check names keep their identifier, with their gloss; a reason not known here stays as it is.

    >>> reason_label("failed check: units_sum_to_overdue")
    '校验未通过：units_sum_to_overdue（各单位合计等于超时未办结）'
    >>> reason_label("bulletin 1 (2020-12-14): table_complete")
    '第 1 则通报（2020-12-14）：table_complete（表格完整）'
    >>> reason_label("bulletin 1 (2020-12-14): units_sum_to_overdue: rows sum to 118, the bulletin prints 131")
    '第 1 则通报（2020-12-14）：units_sum_to_overdue（各单位合计等于超时未办结）：各行合计 118，通报印为 131'
    >>> reason_label("empty: 0 bytes, no text"), reason_label("same bytes as a.txt")
    ('空文件：0 字节，没有文字', '与此文件字节相同：a.txt')
    >>> reason_label("not text: NUL bytes near the start: a binary file")
    '不是文本：开头有 NUL 字节，是二进制文件'
    >>> reason_label("symbolic link to a.txt: not followed")
    '符号链接，指向 a.txt：未跟随'
    """
    if match := _BULLETIN_CHECK.fullmatch(reason):
        seq, period_start, check, detail = match.groups()
        return f"第 {seq} 则通报（{_period_start_text(period_start)}）：{check_label(check)}{'：' + check_detail_label(detail[1:].strip()) if detail else ''}"
    for whole, worded in _WHOLE:
        if whole.fullmatch(reason):
            return whole.sub(worded, reason)
    for english, chinese in _REASON_PREFIXES:
        if reason.startswith(english):
            rest = reason[len(english) :]
            if english == wr.FAILED_CHECK:
                check, colon, detail = rest.partition(":")
                rest = check_label(check) + ("：" + check_detail_label(detail.strip()) if colon else "")
            elif rest.startswith(": "):  # `<reason>: <detail>`, as ingest records a rejection
                rest = "：" + detail_label(rest[2:])
            elif english in (wr.UNKNOWN_FORMAT + ": ", wr.HELD_OUT):
                rest = check_detail_label(rest)
            return chinese + rest
    return reason


# The details the decoder records with a rejection (flows/parsing/decode.py), in Chinese; the
# input readers' details already carry their Chinese (flows/inputs/refusals.py).
_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(english), chinese)
    for english, chinese in (
        (r"(\d+) bytes, no text", r"\1 字节，没有文字"),
        (r"NUL bytes near the start: a binary file", "开头有 NUL 字节，是二进制文件"),
        (r"(\d+%) control bytes: a binary file", r"控制字节占 \1，是二进制文件"),
        (r"only whitespace", "只有空白"),
        (r"(\d+) bytes after the (\S+) BOM, no text", r"\2 BOM 之后 \1 字节，没有文字"),
        (r"(\d+%) control characters as (\S+): a binary file", r"按 \2 读，控制字符占 \1，是二进制文件"),
        (
            r"(\d+) of (\d+) bytes undecodable as (\S+), (\d+) bytes U\+FFFD or private-use",
            r"\2 字节中 \1 字节不能按 \3 解码，\4 字节为 U+FFFD 或私用区字符",
        ),
        (
            r"(\d+%) of the characters read as (\S+) are of no script a Chinese page uses",
            r"按 \2 读，\1 的字符不属于中文页面所用的文字",
        ),
    )
)


# What a failed check compared (flows/parsing/checks.py and the formats' checks), phrase by
# phrase in Chinese: numbers, names and line numbers kept. A phrase not listed stays English.
_FIGURES = r"\b(?:received|due|closed|in_progress|overdue|disputed|dispatched|unresolved)\b"
_CHECK_PHRASES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(english), chinese)
    for english, chinese in (
        (
            r"a table has no signature after line (\d+) \(the page may be cut off\)",
            r"第 \1 行之后的表格没有落款（页面可能不全）",
        ),
        (r"a table has no signature \(the page may be cut off\)", "表格没有落款（页面可能不全）"),
        (r"no 合计 row \(the page may be cut off\)", "没有合计行（页面可能不全）"),
        (r"no unit table, the bulletin prints (\d+) units", r"没有单位表，通报印有 \1 个单位"),
        (r"(\d+) row\(s\) lack a number", r"\1 行缺少数字"),
        (r"(\d+) line\(s\) of the score section not read", r"得分部分有 \1 行未读出"),
        (r"(\d+) number\(s\) printed that are not plain counts", r"\1 个数字不是普通计数"),
        (r"an undecodable character", "有无法解码的字符"),
        (r"the period (\S+) spans (\d+) days", r"周期 \1 共 \2 天"),
        (r"the period (\S+) is (\d+) days from weekday (\d)", r"周期 \1 从星期\3起共 \2 天"),
        (r"the format publishes (\d+) days", r"该格式每期 \1 天"),
        (r"starting on weekday (\d)", r"从星期\1起"),
        (
            r"the period (\S+) is not within (\d+) days before the issue date (\S+)",
            r"周期 \1 不在刊发日 \3 之前 \2 天内",
        ),
        (r"the period ends (\S+), after the issue date (\S+)", r"周期止于 \1，晚于刊发日 \2"),
        (r"no month or quarter read from the title", "标题中未读出月份或季度"),
        (r"no period read", "未读出通报周期"),
        (r"is not one calendar month", "不是一个自然月"),
        (r"from the title", "（取自标题）"),
        (r"no scored unit after the title", "标题之后没有打分的单位"),
        (r"group (\S+) has no scored unit", r"\1 组没有打分的单位"),
        (r"not read: ", "未读出："),
        (r"due is (\S+): no rate to compare", r"应结案为 \1，无法核对结案率"),
        (r"the bulletin prints due (\d+)", r"通报印应结案 \1"),
        (r"rows sum to ([\d/]+)", r"各行合计 \1"),
        (r"(\d+) unit rows", r"单位表 \1 行"),
        (r"the bulletin prints (\d+) units", r"通报印有 \1 个单位"),
        (r"the bulletin prints", "通报印为"),
        (r"printed as (.+) and (.+)", r"写作 \1 和 \2"),
        (r" failed with this file", " 在含此文件时不通过"),
        (
            r"the rest loaded\. A page should never break a data test: report it; the file is tried again when sql/ changes",
            "其余已入库。页面本不应让数据测试失败：请报告此问题；sql/ 修改后会重试此文件",
        ),
        (r"figures \((.+)\) at line (\d+)", r"数字（\1）在第 \2 行"),
        (r"score list (\S+) of (\d+) lines at line (\d+)", r"得分列表 \1 共 \2 行，在第 \3 行"),
        (r"the report prints", "报告印为"),
        (r"the text prints", "正文印为"),
        (r"channels sum to", "各渠道合计"),
        (r"合计 prints", "合计印为"),
        (r"unresolved (\d+) > dispatched (\d+)", r"未办结 \1 > 交办 \2"),
        (r"listed (\d+) times", r"出现 \1 次"),
        (r"listed twice", "出现两次"),
        (r" in (\S+) twice", r" 在 \1 组出现两次"),
        (r"; and (\d+) more", r"；另有 \1 个"),
        (r"the header lacks ", "表头缺少 "),
        (r"a cell missing or unreadable", "有单元格缺失或无法读取"),
        (r"announces a table \(完成情况如下\) but has none", "写了“完成情况如下”却没有表格"),
        (r"printed below", "排在下面这一行之后"),
        (r"the opening total", "开头的总数"),
        (r"its breakdown by channel", "按渠道的分项"),
        (r"a 处置差 score above a 处置好 one", "处置差的单位得分高于处置好的单位"),
        (r"a 处置好/处置差 list heading with no unit under it", "处置好/处置差列表的标题下没有单位"),
        (r"seen: ", "所见："),
        (r"table (.+?) of (\d+) rows? at line (\d+)", r"表格 \1 共 \2 行，在第 \3 行"),
        (r"\(no header\) ", "（无表头）"),
        (r"(\d+) rows?(?=[:)])", r"\1 行"),
        (r"files: ", "文件："),
        (r" and (\d+) more", r"，另有 \1 个"),
        (r"is outside 0-(\d+)", r"不在 0-\1 之内"),
        (r"is none of (\S+)", r"不是 \1 之一"),
        (r", printed ", "，印为 "),
        (r" on (lines? [\d, -]*\d)", r" (\1)"),
        (r" ?\(lines? ([\d, -]+)\)", r"（第 \1 行）"),
        (r" ?\(([^()]*), line (\d+)\)", r"（\1，第 \2 行）"),
        (r"(?<![\w-])lines ([\d, -]+\d)", r"第 \1 行"),
        (r"(?<![\w-])line (\d+)", r"第 \1 行"),
        (r"; ", "；"),
        (r", (?=[^\d])", "，"),
        # the figures a check compared, by their column names: in the analyst's words
        (_FIGURES, lambda m: COLUMN_LABELS[m[0]]),
    )
)


def check_detail_label(detail: str) -> str:
    """What a failed check compared, in Chinese: the numbers, names and lines as recorded.

    >>> check_detail_label("rows sum to 118 (lines 101-111), the bulletin prints 131 (line 95)")
    '各行合计 118（第 101-111 行），通报印为 131（第 95 行）'
    >>> check_detail_label("a table has no signature after line 111 (the page may be cut off)")
    '第 111 行之后的表格没有落款（页面可能不全）'
    """
    for english, chinese in _CHECK_PHRASES:
        detail = english.sub(chinese, detail)
    return detail


def detail_label(detail: str) -> str:
    """A rejection's detail in Chinese where the decoder wrote it; any other detail as it is.

    >>> detail_label("12% control bytes: a binary file"), detail_label("an image (图片)")
    ('控制字节占 12%，是二进制文件', 'an image (图片)')
    """
    for english, chinese in _DETAILS:
        if english.fullmatch(detail):
            return english.sub(chinese, detail)
    return detail


def problem_line(status: str, path: str, reasons: Sequence[str]) -> str:
    """An entry that is partial, quarantined or skipped, as a run tells people: status, path and
    reasons in Chinese.

    >>> problem_line("quarantined", "empty.txt", ["empty: 0 bytes, no text"])
    '已隔离 empty.txt：空文件：0 字节，没有文字'
    """
    return f"{status_label(status)} {path}：{'；'.join(reason_label(r) for r in reasons)}"


# `bulletin <seq> (<period start>): <check>[: <what the numbers were>]`, as ingest records a failed check.
_BULLETIN_CHECK = re.compile(re.escape(wr.BULLETIN) + r"(\d+) \(([^)]*)\): (\w+)(:.*)?", re.DOTALL)
