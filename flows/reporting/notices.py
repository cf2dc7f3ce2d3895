"""The words of each message, in Chinese: a run's events (the week's bulletin in, files to look
at, long streaks) and the alerts that last (a feed stale, runs failing; begun, reminded, ended).

Pure text over what the readers return: values from pages are made visible in the plain
text and escaped in the Markdown (`_Lines`). Sending is `notify_send`'s.
"""

from __future__ import annotations

import datetime as dt
import errno
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flows.reporting import notify_state as state
from flows.reporting.labels import percent, signed, signed_points, status_label, week_text
from flows.reporting.reason_labels import reason_label
from flows.text.escape import markdown, visible
from flows.text.redact import redact
from flows.warehouse.readers.notify import LongStreak, WeekLoaded
from flows.warehouse.summary import ProblemFile

PREFIX = "【数字城管周报】"
# A message lists at most this many files or units; the rest are counted.
MAX_LISTED = 10

TRIGGERS = {
    "week_loaded": "本周通报已入库",
    "files_need_attention": "文件需要查看",
    "long_streak": "连续上榜",
    "feed_stale": "通报停更提醒",
    "run_failed": "运行失败提醒",
}


@dataclass(frozen=True)
class Notice:
    """One message: a title, and its lines as plain text and as Markdown (values from pages escaped)."""

    trigger: str
    title: str
    text_lines: tuple[str, ...] = ()
    markdown_lines: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.text_lines])


class _Lines:
    """Builds a notice's lines in both forms: `add("- **{}**：{}", city, reason)` puts the values
    in as they are in the text (control characters made visible) and escaped in the Markdown;
    `**` marks bold in the Markdown only."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.markdown: list[str] = []

    def add(self, template: str, *values: object) -> None:
        self.text.append(template.replace("**", "").format(*(visible(str(v)) for v in values)))
        self.markdown.append(template.format(*(markdown(v) for v in values)))

    def notice(self, trigger: str, title: str) -> Notice:
        return Notice(trigger, f"{PREFIX}{title}", tuple(self.text), tuple(self.markdown))


def _listed(lines: _Lines, items: Sequence[tuple[str, tuple[object, ...]]]) -> None:
    for template, values in items[:MAX_LISTED]:
        lines.add(template, *values)
    if len(items) > MAX_LISTED:
        lines.add("……另有 {} 项", len(items) - MAX_LISTED)


# --------------------------------------------------------------------------- events of one run


def files_need_attention(files: Sequence[ProblemFile]) -> Notice | None:
    """Files of this run that were quarantined or are partial, with their reasons in Chinese."""
    if not files:
        return None
    lines = _Lines()
    _listed(
        lines,
        [
            ("- {}（{}）：{}", (f.path, status_label(f.status), "；".join(reason_label(r) for r in f.reasons)))
            for f in files
        ],
    )
    return lines.notice("files_need_attention", f"本次运行有 {len(files)} 个文件需要查看")


def long_streak(streaks: Sequence[LongStreak], weeks: int) -> Notice | None:
    """Units on their list `weeks` or more published weeks in a row, in the weeks this run loaded."""
    if not streaks:
        return None
    lines = _Lines()
    _listed(
        lines,
        [
            (
                "- {} {} 起一周：**{}**（{}）连续上榜 {} 周，未办结 {} 件",
                (s.city, s.week_start, s.unit_name, s.unit_group, s.streak, s.unresolved),
            )
            for s in streaks
        ],
    )
    return lines.notice("long_streak", f"{len(streaks)} 个单位连续上榜 {weeks} 周及以上")


def week_loaded(week: WeekLoaded, report_link: str | None) -> Notice:
    """The good news: the week is in, its figures, the units newly overdue and the report."""
    lines = _Lines()
    lines.add("**{}** {}", week.city, week_text(week.week_start, week.week_end))
    lines.add("- 结案率 **{}**（较上周 {}）", percent(week.closure_rate), signed_points(week.closure_rate_change_pp))
    overdue = "—" if week.overdue is None else week.overdue
    lines.add("- 超时未办结 **{}** 件（较上周 {}）", overdue, signed(week.overdue_change))
    lines.add("- 通报所列单位 {} 个", "—" if week.units_listed is None else week.units_listed)
    if week.newly_overdue is not None:
        if week.newly_overdue:
            shown = "、".join(week.newly_overdue[:MAX_LISTED])
            more = f" 等 {len(week.newly_overdue)} 个" if len(week.newly_overdue) > MAX_LISTED else ""
            lines.add("- 新出现超时未办结的单位：{}{}", shown, more)
        else:
            lines.add("- 没有新出现超时未办结的单位")
    if week.earlier_weeks:
        lines.add("- 另有 {} 周较早的通报一并入库", week.earlier_weeks)
    if report_link:
        if re.match(r"https?://", report_link):
            lines.text.append(f"周报：{report_link}")
            lines.markdown.append(f"[查看周报]({report_link.replace(')', '%29').replace(' ', '%20')})")
        else:
            lines.add("周报文件：{}", report_link)
    return lines.notice("week_loaded", "本周通报已入库")


def report_for(week: WeekLoaded, reports: Sequence[str]) -> str | None:
    """The report of the week among a run's reports (report-<week>.html or report-<city>-<week>.html)."""
    day = week.week_start.isoformat()
    for path in reports:
        name = Path(path).name
        if name in (f"report-{day}.html", f"report-{week.city}-{day}.html"):
            return path
    return None


_FAILURE_WORDS = {
    "WarehouseLocked": "数据库文件被其他程序占用，等待超时",
    "RunInProgress": "另一次运行仍未结束",
    "LockHolderStuck": "上一次运行卡住未结束，运行锁一直被占用",
    "DataTestsFailed": "数据校验未通过，本次入库已撤销，仓库保持原样",
    "WarehouseDamaged": "数据库文件已损坏，可用 bulletins rebuild 从数据湖重建",
    "NoLake": "找不到数据湖文件夹",
    "SettingsError": "设置有误",
    "MemoryError": "内存不足",
    "PermissionError": "没有读写文件的权限",
    "FileNotFoundError": "找不到需要的文件或文件夹",
    "TimeoutError": "操作超时",
    "KeyboardInterrupt": "运行被中断",
}


def failure_reason(failure: BaseException | str, secrets: Sequence[str] = ()) -> tuple[str, str]:
    """A failed run's cause as a Chinese line, and in English, short and redacted.

    `failure` is the exception the run raised (what the flow's failure hook gets from its
    state): the line follows its type. A string is a state's message where there is no
    exception to look at (a crashed run: its process ended without raising).

    >>> failure_reason(OSError(28, "No space left on device"))
    ('磁盘已满', 'OSError: [Errno 28] No space left on device')
    >>> failure_reason(FileNotFoundError(2, "No such file", "lake"))[0]
    '找不到需要的文件或文件夹'
    >>> failure_reason("Execution was aborted by an interrupt signal.")[0]
    '运行意外中止'
    """
    if isinstance(failure, BaseException):
        words = _failure_words(failure)
        text = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    else:
        words, text = "运行意外中止", failure
    cause = " ".join(redact(text, secrets).split()) or "no reason given"
    short = cause if len(cause) <= 160 else cause[:159] + "…"
    return words, short


def _failure_words(failure: BaseException) -> str:
    """The Chinese words for an exception: its own type's or its nearest base's."""
    if isinstance(failure, OSError) and failure.errno == errno.ENOSPC:
        return "磁盘已满"
    for kind in type(failure).__mro__:
        if kind.__name__ in _FAILURE_WORDS:
            return _FAILURE_WORDS[kind.__name__]
    if isinstance(failure, OSError):
        return "读写文件出错"
    if type(failure).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        return "数据库出错"
    return "程序出错"


def _when(moment: dt.datetime) -> str:
    local = moment.astimezone(state.ZONE)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def alert_notices(owed: Sequence[state.Due], now: dt.datetime) -> list[tuple[Notice, list[state.Due]]]:
    """The messages owed to one target, grouped: stale feeds begun or reminded, feeds back, the run failing or back."""
    groups: dict[str, list[state.Due]] = {}
    for item in owed:
        kind = "ended" if item.kind == state.ENDED else "on"
        groups.setdefault(f"{item.key.partition(':')[0]}:{kind}", []).append(item)
    notices = []
    for group, items in groups.items():
        notices.append((_alert_notice(group, items, now), items))
    return notices


def _alert_notice(group: str, items: Sequence[state.Due], now: dt.datetime) -> Notice:
    lines = _Lines()
    trigger = group.partition(":")[0]
    if group == "feed_stale:on":
        for item in items:
            d = item.alert.detail
            tail = f"（{_when(item.alert.since)}起，仍未恢复）" if item.kind == state.REMINDER else ""
            lines.add(
                "- **{}**：最新一期为 {}，已 {} 天没有新一期" + tail,
                d["city"],
                week_text(dt.date.fromisoformat(str(d["week_start"])), _date(d.get("week_end"))),
                d["days"],
            )
        lines.add(
            "超过 {} 天没有新一期即提醒；仍未恢复时每天最多提醒一次，收到新一期后通知已恢复。",
            items[0].alert.detail["stale_after"],
        )
        reminded = all(i.kind == state.REMINDER for i in items)
        return lines.notice(trigger, "通报仍未更新（每日提醒）" if reminded else "通报可能已停止更新")
    if group == "feed_stale:ended":
        for item in items:
            lines.add(
                "- **{}**：已收到新一期通报（停更提醒自 {}起）", item.alert.detail["city"], _when(item.alert.since)
            )
        return lines.notice(trigger, "已恢复：通报恢复更新")
    [item] = items
    d = item.alert.detail
    if group == "run_failed:ended":
        lines.add("自 {}起失败 {} 次，{} 的运行已成功。", _when(item.alert.since), item.alert.count, _when(now))
        return lines.notice(trigger, "已恢复：运行恢复正常")
    lines.add("原因：**{}**", d["reason"])
    lines.add("（{}）", d["cause"])
    if item.kind == state.REMINDER:
        lines.add("自 {}起已失败 {} 次。恢复后会通知。", _when(item.alert.since), item.alert.count)
        return lines.notice(trigger, "运行仍在失败（每日提醒）")
    lines.add("仍失败时每天最多提醒一次，恢复后会通知。")
    return lines.notice(trigger, "运行失败")


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None
