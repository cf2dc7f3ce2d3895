"""Sending a notice to a target with a wall-clock deadline, and a run's notices within a budget.

Sending never raises: a target that is down or refuses (HTTP 200 with `errcode` ≠ 0
included) costs the run a warning, not its data. Each post has a wall-clock deadline (a
receiver that answers a byte at a time is cut off, not waited on), and a run's posts
together have a budget. What a failed post says names the target with its secrets masked
(`flows.text.redact`): the URL's query values, `user:pass@` and a hook's path token are
the target's credentials.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from flows.reporting.notices import TRIGGERS, Notice
from flows.reporting.notify_channels import (
    APPRISE,
    EMAIL,
    Target,
    answer_problem,
    request,
    send_with_apprise,
    sendable_target,
    sendable_targets,
)
from flows.text.redact import redact

POST_TIMEOUT_S = 5.0  # connecting, and each read or write on the socket
POST_DEADLINE_S = 10.0  # one post, from start to the receiver's last byte
POSTS_BUDGET_S = 30.0  # all the posts of one run
# The stable start of every warning about a message not sent (tests and monitors look for it).
NOT_SENT = "通知未发出"


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


class _TrackedConnection:
    """An HTTP(S) connection that hands its socket to the post's `_Sockets`, so a deadline can cut it."""

    sock: socket.socket

    def __init__(self, sockets: _Sockets, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sockets = sockets

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # the connection class's
        self._sockets.add(self.sock)


class _TrackedHTTP(_TrackedConnection, http.client.HTTPConnection):
    pass


class _TrackedHTTPS(_TrackedConnection, http.client.HTTPSConnection):
    pass


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
            target = sendable_target(target)
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
        targets = sendable_targets(targets)
    sends = [(t, n) for n in notices for t in targets]
    return [p for p in send_all(sends, budget_s, deadline_s, timeout_s) if p]
