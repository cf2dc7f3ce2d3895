"""Messages to the office's chat groups and mailboxes when something needs a person, and
when the week's bulletin is in.

What is sent (README, "Notifications"), each in Chinese, to every target in
BULLETINS_NOTIFY_URL (`notify_channels`: WeCom, DingTalk, Feishu/Lark, e-mail, a JSON webhook):

- events of one run, one message each: the week's bulletin loaded ("本周通报已入库": its
  figures, the units newly overdue, the report), files quarantined or partial, units on
  their list N weeks in a row;
- alerts, which last (`notify_state`): a city's feed stale, runs failing; told when they
  begin, reminded at most once a day, and "已恢复" once when they end.

Sending never raises: a target that is down or refuses (HTTP 200 with `errcode` ≠ 0
included) costs the run a warning, not its data. Each post has a wall-clock deadline (a
receiver that answers a byte at a time is cut off, not waited on), and a run's posts
together have a budget. What a failed post says names the target with its secrets masked
(`flows.text.redact`): the URL's query values, `user:pass@` and a hook's path token are
the target's credentials.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from flows.reporting import notify_state as state
from flows.reporting.labels import percent, period, reason_label, signed, signed_points, status_label
from flows.reporting.notify_channels import (
    APPRISE,
    EMAIL,
    Target,
    answer_problem,
    parse_target,
    parse_targets,
    request,
    send_with_apprise,
)
from flows.text.escape import markdown, visible
from flows.text.redact import redact
from flows.warehouse.db import relation_exists
from flows.warehouse.readers.notify import LongStreak, long_streaks, problem_files_in_batches
from flows.warehouse.readers.status import Freshness
from flows.warehouse.summary import ProblemFile

POST_TIMEOUT_S = 5.0  # connecting, and each read or write on the socket
POST_DEADLINE_S = 10.0  # one post, from start to the receiver's last byte
POSTS_BUDGET_S = 30.0  # all the posts of one run
PREFIX = "【数字城管周报】"
# A message lists at most this many files or units; the rest are counted.
MAX_LISTED = 10
# The stable start of every warning about a message not sent (tests and monitors look for it).
NOT_SENT = "通知未发出"

TRIGGERS = {
    "week_loaded": "本周通报已入库",
    "files_need_attention": "文件需要查看",
    "long_streak": "连续上榜",
    "feed_stale": "通报停更提醒",
    "run_failed": "运行失败提醒",
}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


@dataclass(frozen=True)
class WeekLoaded:
    """A city's newest week this run loaded, with what the office looks at first."""

    city: str
    week_start: dt.date
    week_end: dt.date | None
    closure_rate: float | None
    closure_rate_change_pp: float | None
    overdue: int | None
    overdue_change: int | None
    units_listed: int | None
    newly_overdue: list[str] | None  # None: the week before was not published, nothing to compare
    earlier_weeks: int  # older weeks of the city this run loaded too (a backfill)


def weeks_loaded(con: duckdb.DuckDBPyConnection, weeks: Sequence[dt.date]) -> list[WeekLoaded]:
    """Each city's newest week among `weeks` (a run's), with its figures; cities in name order."""
    if not weeks or not relation_exists(con, "marts.city_week_performance"):
        return []
    rows = con.execute(
        """
        with loaded as (
            select * from marts.city_week_performance where week_start in (select unnest(?::date[]))
        ), latest as (
            select *, count(*) over (partition by city) - 1 as earlier_weeks from loaded
            qualify row_number() over (partition by city order by week_start desc) = 1
        )
        select city, week_start, week_end, coalesce(closure_rate, closure_rate_published), closure_rate_change_pp,
            overdue, overdue_change, units_on_list, prev_week_published, earlier_weeks
        from latest order by city
        """,
        [list(weeks)],
    ).fetchall()
    found = []
    for city, start, end, rate, rate_change, overdue, overdue_change, units, prev_published, earlier in rows:
        newly = None
        if prev_published:
            # Newly overdue, not "entered the list": a city that prints every department
            # (Sanmenxia) lists units with nothing overdue.
            newly = [
                name
                for (name,) in con.execute(
                    """
                    select unit_name from marts.unit_week_performance
                    where city = ? and week_start = ? and unresolved > 0 and coalesce(prev_unresolved, 0) = 0
                    group by unit_name order by max(unresolved) desc, unit_name
                    """,
                    [city, start],
                ).fetchall()
            ]
        found.append(
            WeekLoaded(city, start, end, rate, rate_change, overdue, overdue_change, units, newly, int(earlier))
        )
    return found


def week_loaded(week: WeekLoaded, report_link: str | None) -> Notice:
    """The good news: the week is in, its figures, the units newly overdue and the report."""
    lines = _Lines()
    lines.add("**{}** {}", week.city, period(week.week_start, week.week_end))
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


def run_notices(
    con: duckdb.DuckDBPyConnection,
    batch_ids: Sequence[str],
    weeks: Sequence[dt.date],
    min_streak: int,
    reports: Sequence[str] = (),
    report_link: Callable[[str], str] = str,
) -> list[Notice]:
    """What a finished run has to say once: each city's new week, files to look at, long streaks."""
    notices: list[Notice | None] = [
        week_loaded(w, report_link(path) if (path := report_for(w, reports)) else None)
        for w in weeks_loaded(con, weeks)
    ]
    notices += [
        files_need_attention(problem_files_in_batches(con, list(batch_ids))),
        long_streak(long_streaks(con, list(weeks), min_streak), min_streak),
    ]
    return [n for n in notices if n is not None]


# --------------------------------------------------------------------------- alerts


def stale_feeds(freshness: Sequence[Freshness]) -> dict[str, dict[str, object]]:
    """The stale-feed alerts that are on: one per city, with what its message says."""
    return {
        f"feed_stale:{f.city}": {
            "city": f.city,
            "week_start": str(f.week_start),
            "week_end": str(f.week_end),
            "days": f.days_since_end,
            "stale_after": f.stale_after_days,
        }
        for f in freshness
        if f.stale and f.city is not None
    }


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


def failure_reason(message: str, secrets: Sequence[str] = ()) -> tuple[str, str]:
    """A failed run's state message as a Chinese line, and its English cause, short and redacted.

    >>> failure_reason("Flow run encountered an exception: WarehouseLocked: db held by pid 7")
    ('数据库文件被其他程序占用，等待超时', 'WarehouseLocked: db held by pid 7')
    >>> failure_reason("Flow run encountered an exception: OSError: [Errno 28] No space left on device")[0]
    '磁盘已满'
    """
    line = " ".join(redact(message, secrets).split()) or "no reason given"
    cause = re.sub(r"^Flow run encountered an exception:\s*", "", line)
    kind = re.match(r"(?:[\w.]+\.)?(?P<name>[A-Z]\w*)(?::|$)", cause)
    name = kind["name"] if kind else ""
    if "No space left" in cause:
        words = "磁盘已满"
    elif name in _FAILURE_WORDS:
        words = _FAILURE_WORDS[name]
    elif name in ("OSError", "IOError") or "Errno" in cause:
        words = "读写文件出错"
    elif (name.endswith("Exception") and "duckdb" in message.lower()) or name in ("IOException", "InternalException"):
        words = "数据库出错"
    elif not kind or "crash" in cause.lower() or "abort" in cause.lower() or "exited" in cause.lower():
        words = "运行意外中止"
    else:
        words = "程序出错"
    short = cause if len(cause) <= 160 else cause[:159] + "…"
    return words, short


def run_failed(message: str, secrets: Sequence[str] = ()) -> dict[str, dict[str, object]]:
    """The run-failed alert, on, with the failure's reason (the targets' `secrets` masked in it)."""
    words, cause = failure_reason(message, secrets)
    return {"run_failed": {"reason": words, "cause": cause}}


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
                period(dt.date.fromisoformat(str(d["week_start"])), _date(d.get("week_end"))),
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


class _Sockets:
    """The sockets of one post, shut down at its deadline (and any connected after it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._cut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.append(sock)
            if self._cut:  # connected after the deadline: end it at once
                self._shut(sock)

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:  # the post's blocked read returns; it closes the connection
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed: nothing to cut
            sock.shutdown(socket.SHUT_RDWR)


class _TrackedHTTP(http.client.HTTPConnection):
    """An HTTP connection that hands its socket to the post's `_Sockets`, so a deadline can cut it."""

    def __init__(self, sockets: _Sockets, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sockets = sockets

    def connect(self) -> None:
        super().connect()
        self._sockets.add(self.sock)


class _TrackedHTTPS(http.client.HTTPSConnection):
    def __init__(self, sockets: _Sockets, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sockets = sockets

    def connect(self) -> None:
        super().connect()
        self._sockets.add(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, sockets: _Sockets) -> None:
        super().__init__()
        self._sockets = sockets

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_TrackedHTTP, self._sockets), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, sockets: _Sockets) -> None:
        super().__init__()
        self._sockets = sockets

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        # What HTTPSHandler.https_open passes (check_hostname only before Python 3.12).
        extra: dict[str, Any] = {"context": getattr(self, "_context", None)}
        if getattr(self, "_check_hostname", None) is not None:
            extra["check_hostname"] = self._check_hostname  # type: ignore[attr-defined]
        return self.do_open(functools.partial(_TrackedHTTPS, self._sockets), req, **extra)


# --------------------------------------------------------------------------- sending


def post(
    target: Target | str,
    notice: Notice,
    timeout_s: float = POST_TIMEOUT_S,
    deadline_s: float = POST_DEADLINE_S,
    now_s: Callable[[], float] = time.time,
) -> str | None:
    """Send the notice to one target; None when the target took it, else why not (never raises).

    `timeout_s` bounds each socket operation, `deadline_s` the whole send: urllib's timeout
    alone lets a receiver that sends a byte every few seconds hold the post for ever. The
    post runs in a thread; at the deadline its socket is shut, which ends the thread's read.
    An apprise send (e-mail) cannot be cut that way: the run stops waiting for it at the
    deadline, and its own socket timeout (`timeout_s`) ends it soon after.
    """
    if isinstance(target, str):
        try:
            target = parse_target(target)
        except ValueError as exc:
            return f"{NOT_SENT}（{TRIGGERS.get(notice.trigger, notice.trigger)}）：地址不可用，{redact(str(exc))}"
    shown = f"{NOT_SENT}（{TRIGGERS.get(notice.trigger, notice.trigger)} → {target.shown}）"
    sockets = _Sockets()
    outcome: list[str | None] = []
    finished = threading.Event()

    def attempt() -> None:
        try:
            if target.channel in (APPRISE, EMAIL):
                outcome.append(send_with_apprise(target, notice, min(timeout_s, deadline_s)))
                return
            url, body = request(target, notice, now_s())
            answer = _post_json(url, body, sockets, min(timeout_s, deadline_s))
            outcome.append(answer_problem(target.channel, answer))
        except Exception as exc:  # URLError, HTTPError, timeouts, a malformed URL, a cut socket
            outcome.append(_reason(exc))
        finally:
            finished.set()

    thread = threading.Thread(target=attempt, name=f"notify-{notice.trigger}", daemon=True)
    thread.start()
    if not finished.wait(deadline_s):
        sockets.cut()
        return f"{shown}：no complete answer within {deadline_s:g} s"
    problem = outcome[0] if outcome else "no outcome"
    return None if problem is None else f"{shown}：{redact(problem, target.secrets)}"


def _post_json(url: str, body: bytes, sockets: _Sockets, timeout_s: float) -> bytes:
    request_ = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    opener = urllib.request.build_opener(_HTTPHandler(sockets), _HTTPSHandler(sockets))
    with opener.open(request_, timeout=timeout_s) as response:
        return bytes(response.read())


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line; the exception's own words (they may quote the URL: redacted by the caller)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def send_all(
    sends: Sequence[tuple[Target, Notice]],
    budget_s: float = POSTS_BUDGET_S,
    deadline_s: float = POST_DEADLINE_S,
    timeout_s: float = POST_TIMEOUT_S,
) -> list[str | None]:
    """Send each (target, notice) within the run's budget; for each, None when sent, else why not."""
    started = time.monotonic()
    outcomes: list[str | None] = []
    for target, notice in sends:
        left = budget_s - (time.monotonic() - started)
        if left <= 0:
            outcomes.append(
                f"{NOT_SENT}（{TRIGGERS.get(notice.trigger, notice.trigger)} → {target.shown}）："
                f"the run's {budget_s:g} s for notifications were spent"
            )
            continue
        outcomes.append(post(target, notice, timeout_s=timeout_s, deadline_s=min(deadline_s, left)))
    return outcomes


def post_all(
    targets: Sequence[Target] | str,
    notices: Sequence[Notice],
    budget_s: float = POSTS_BUDGET_S,
    deadline_s: float = POST_DEADLINE_S,
    timeout_s: float = POST_TIMEOUT_S,
) -> list[str]:
    """Send every notice to every target; what could not be sent."""
    if isinstance(targets, str):
        targets = parse_targets(targets)
    sends = [(t, n) for n in notices for t in targets]
    return [p for p in send_all(sends, budget_s, deadline_s, timeout_s) if p]


def _alerts(
    targets: Sequence[Target],
    state_file: Path,
    scope: str,
    on: Mapping[str, dict[str, object]],
    now: dt.datetime,
    budget_s: float,
) -> list[str]:
    """Record the alerts under `scope` that are on, send each target what it is owed, remember what it took.

    Without a usable state file (no warehouse folder, a read-only disk) the alerts are sent
    all the same, as if new: a repeated message is better than a lost one.
    """
    problems: list[str] = []
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(state.locked(state_file))
            alerts, unreadable = state.load(state_file)
            keep = True
        except OSError as exc:
            alerts, unreadable, keep = {}, None, False
            problems.append(f"提醒记录 {state_file.name} 无法使用（{type(exc).__name__}）：提醒照发，但无法避免重复")
        if unreadable:
            problems.append(f"提醒记录 {unreadable}")
        state.update(alerts, scope, on, now)
        sends = [(t, n, items) for t in targets for n, items in alert_notices(state.due(alerts, t.id, now), now)]
        outcomes = send_all([(t, n) for t, n, _ in sends], budget_s=budget_s)
        for (target, _, items), problem in zip(sends, outcomes, strict=True):
            if problem is None:
                state.record(alerts, target.id, items, now)
            else:
                problems.append(problem)
        state.forget_targets(alerts, {t.id for t in targets})
        if keep:
            try:
                state.save(state_file, alerts)
            except OSError as exc:  # the next run sends again what this one could not record
                problems.append(f"提醒记录 {state_file.name} 无法写入（{type(exc).__name__}）：下次运行可能重复提醒")
    return problems


def notify_run(
    targets: Sequence[Target],
    state_file: Path,
    notices: Sequence[Notice],
    stale: Mapping[str, dict[str, object]],
    now: dt.datetime | None = None,
    budget_s: float = POSTS_BUDGET_S,
) -> list[str]:
    """A completed run's messages: its events (`run_notices`) to every target, then the alerts'
    changes: runs no longer failing, feeds stale (`stale_feeds`) or back. What could not be sent."""
    now = now or now_utc()
    started = time.monotonic()
    problems = post_all(targets, notices, budget_s=budget_s)
    for scope, on in (("run_failed", {}), ("feed_stale:", stale)):
        left = max(budget_s - (time.monotonic() - started), 0.001)
        problems += _alerts(targets, state_file, scope, on, now, left)
    return problems


def notify_failure(
    targets: Sequence[Target], state_file: Path, message: str, now: dt.datetime | None = None
) -> list[str]:
    """A failed run's alert: told when runs start failing, then at most once a day. What could not be sent."""
    secrets = [s for t in targets for s in t.secrets]
    return _alerts(targets, state_file, "run_failed", run_failed(message, secrets), now or now_utc(), POSTS_BUDGET_S)


def local_day(now: dt.datetime) -> dt.date:
    """The day in Asia/Shanghai (freshness is judged on it)."""
    return now.astimezone(state.ZONE).date()
