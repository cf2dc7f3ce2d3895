"""Short messages to a chat webhook when something needs a person: the run failed, a file
was quarantined or is partial, a city's feed went stale, a unit stayed on the list N weeks.

One message per trigger that fired, none when nothing happened. The body is the text
message DingTalk and WeCom (企业微信) group bots accept,
`{"msgtype": "text", "text": {"content": "..."}}`; any receiver of JSON posts works.
Posting never raises: a receiver that is down costs the run a warning, not its data.
Each post has a wall-clock deadline (a receiver that answers a byte at a time is cut off,
not waited on), and a run's posts together have a budget. What a failed post says names
the receiver with its secrets masked (`flows.text.redact`): the URL's query values
and `user:pass@` are the webhook's credentials.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from flows.text.redact import redact, redact_url, url_secrets
from flows.warehouse.readers import LongStreak, ProblemFile, long_streaks, problem_files_in_batches

# Where to post and when a streak is long: Settings.notify_url (BULLETINS_NOTIFY_URL) and
# Settings.notify_streak_weeks (BULLETINS_NOTIFY_STREAK_WEEKS).
POST_TIMEOUT_S = 5.0  # connecting, and each read or write on the socket
POST_DEADLINE_S = 10.0  # one post, from start to the receiver's last byte
POSTS_BUDGET_S = 30.0  # all the posts of one run
PREFIX = "【数字城管周报】"
# A message lists at most this many files or units; the rest are counted.
MAX_LISTED = 10


@dataclass(frozen=True)
class Notice:
    trigger: str  # run_failed, files_need_attention, feed_stale, long_streak
    text: str


def _listed(lines: Sequence[str]) -> list[str]:
    shown = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        shown.append(f"……另有 {len(lines) - MAX_LISTED} 项")
    return shown


def run_failed(message: str) -> Notice:
    """The run failed: its one-line reason (any URL in it masked)."""
    return Notice("run_failed", f"{PREFIX}bulletin-etl 运行失败：{redact(message)}")


def files_need_attention(files: Sequence[ProblemFile]) -> Notice | None:
    """Files of this run that were quarantined or are partial."""
    if not files:
        return None
    status = {"quarantined": "已隔离", "partial": "部分入库"}
    lines = [f"- {f.path}（{status.get(f.status, f.status)}）：{'；'.join(f.reasons)}" for f in files]
    return Notice(
        "files_need_attention",
        "\n".join([f"{PREFIX}本次运行有 {len(files)} 个文件需要查看：", *_listed(lines)]),
    )


def feed_stale(warnings: Sequence[str]) -> Notice | None:
    """Cities whose feed went stale (the freshness warnings)."""
    stale = [w for w in warnings if w.startswith("feed stale")]
    if not stale:
        return None
    return Notice("feed_stale", "\n".join([f"{PREFIX}通报可能已停止更新：", *_listed([f"- {w}" for w in stale])]))


def long_streak(streaks: Sequence[LongStreak], weeks: int) -> Notice | None:
    """Units on their list `weeks` or more published weeks in a row, in the weeks this run loaded."""
    if not streaks:
        return None
    lines = [
        f"- {s.city} {s.week_start} 起一周：{s.unit_name}（{s.unit_group}）连续上榜 {s.streak} 周，未办结 {s.unresolved} 件"
        for s in streaks
    ]
    return Notice(
        "long_streak", "\n".join([f"{PREFIX}{len(streaks)} 个单位连续上榜 {weeks} 周及以上：", *_listed(lines)])
    )


def run_notices(
    con: duckdb.DuckDBPyConnection,
    batch_ids: Sequence[str],
    weeks_loaded: Sequence[dt.date],
    warnings: Sequence[str],
    min_streak: int,
) -> list[Notice]:
    """What a finished run has to say: each trigger that fired, once."""
    notices = [
        files_need_attention(problem_files_in_batches(con, list(batch_ids))),
        feed_stale(warnings),
        long_streak(long_streaks(con, list(weeks_loaded), min_streak), min_streak),
    ]
    return [n for n in notices if n is not None]


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


def post(
    url: str, notice: Notice, timeout_s: float = POST_TIMEOUT_S, deadline_s: float = POST_DEADLINE_S
) -> str | None:
    """POST the notice as JSON; None when the receiver took it, else why not (never raises).

    `timeout_s` bounds each socket operation, `deadline_s` the whole post: urllib's timeout
    alone lets a receiver that sends a byte every few seconds hold the post for ever. The
    post runs in a thread; at the deadline its socket is shut, which ends the thread's read.
    """
    shown = redact_url(url)
    secrets = url_secrets(url)
    body = json.dumps({"msgtype": "text", "text": {"content": notice.text}}, ensure_ascii=False).encode()
    sockets = _Sockets()
    failure: list[BaseException] = []
    finished = threading.Event()

    def attempt() -> None:
        try:  # building the request checks the URL: a malformed one is a reason too, not a crash
            request = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
            )
            opener = urllib.request.build_opener(_HTTPHandler(sockets), _HTTPSHandler(sockets))
            with opener.open(request, timeout=min(timeout_s, deadline_s)) as response:
                response.read()
        except Exception as exc:  # URLError, HTTPError, timeouts, a malformed URL, a cut socket
            failure.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=attempt, name=f"notify-{notice.trigger}", daemon=True)
    thread.start()
    if not finished.wait(deadline_s):
        sockets.cut()
        return f"notification {notice.trigger} not sent to {shown}: no complete answer within {deadline_s:g} s"
    if failure:
        exc = failure[0]
        return f"notification {notice.trigger} not sent to {shown}: {redact(_reason(exc), secrets)}"
    return None


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line; the exception's own words (they may quote the URL: redacted by the caller)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def post_all(
    url: str,
    notices: Sequence[Notice],
    budget_s: float = POSTS_BUDGET_S,
    deadline_s: float = POST_DEADLINE_S,
    timeout_s: float = POST_TIMEOUT_S,
) -> list[str]:
    """Post each notice within the run's budget for notifications; for each one not sent, why."""
    started = time.monotonic()
    problems = []
    for notice in notices:
        left = budget_s - (time.monotonic() - started)
        if left <= 0:
            problems.append(
                f"notification {notice.trigger} not sent to {redact_url(url)}: "
                f"the run's {budget_s:g} s for notifications were spent"
            )
            continue
        if problem := post(url, notice, timeout_s=timeout_s, deadline_s=min(deadline_s, left)):
            problems.append(problem)
    return problems
