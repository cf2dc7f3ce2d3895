"""How a notification is sent to each channel: its body, signature, size limit and answer.

The addresses (`flows.text.notify_address`) are the ones the office's group bots show:

- WeCom (企业微信) group bot: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`
- DingTalk (钉钉) robot: `https://oapi.dingtalk.com/robot/send?access_token=…`, with
  `&secret=SEC…` added when the robot signs (加签): the secret never leaves this machine,
  each post carries `timestamp` and `sign` (HMAC-SHA256 of `timestamp\\nsecret`) instead;
- Feishu / Lark bot: `https://open.feishu.cn/open-apis/bot/v2/hook/…` (`open.larksuite.com`),
  `?secret=…` when it signs (签名校验);
- any other `http(s)://` address: a generic JSON webhook, posted the text message
  `{"msgtype": "text", "text": {"content": …}}` (what the single URL always got);
- e-mail and the other services apprise knows (`mailtos://user:password@smtp.example.com?to=…`):
  sent by apprise.

Why the chat bots are not sent by apprise (measured on apprise 2.0.1, the version Prefect
installs): its WeCom, DingTalk, Feishu and Lark plugins count any HTTP 200 as sent, but
these services refuse with HTTP 200 and `{"errcode": 310000}` / `{"code": 19021}`; they post
to the public host only (no private deployment, no local receiver to test against), send
WeCom text only (no markdown), keep no byte limits, and log the webhook's URL, key
included, at debug level. Those four posts are a few lines each here, through
`notify_send.post`'s deadline; apprise keeps what it does well: SMTP (TLS, login, MIME).

A private deployment (政务钉钉, a WeCom relay) names its channel in front of the scheme:
`dingtalk+https://robot.example.gov.cn/robot/send?access_token=…`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.parse
import warnings
from types import ModuleType
from typing import Protocol

from flows.text import notify_address
from flows.text.notify_address import (
    APPRISE,
    CHANNEL_NAMES,
    DINGTALK,
    EMAIL,
    FEISHU,
    LARK,
    WEBHOOK,
    WECOM,
    Target,
    TargetError,
)
from flows.text.redact import redact

__all__ = [
    "APPRISE",
    "DINGTALK",
    "EMAIL",
    "FEISHU",
    "LARK",
    "TRUNCATED",
    "WEBHOOK",
    "WECOM",
    "Target",
    "TargetError",
    "answer_problem",
    "apprise_knows",
    "dingtalk_sign",
    "feishu_sign",
    "fit",
    "request",
    "send_with_apprise",
    "sendable_target",
    "sendable_targets",
]

TRUNCATED = "…（已截断）"


def _apprise() -> ModuleType:
    """apprise, imported only for an address it sends, its plugins loaded (loading them warns of
    `imghdr`, a DeprecationWarning of apprise's own: not for the office's console)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().schemas()  # loads every plugin once
    return apprise


def sendable_target(address: str) -> Target:
    """The target an address names, its scheme checked against apprise's for a service only apprise
    sends (TargetError naming no secret); `settings` checks the same before a run."""
    target = notify_address.parse_target(address)
    if target.channel == APPRISE and not apprise_knows(target.scheme):
        raise TargetError(f"is a {target.scheme}:// address, which neither this program nor apprise sends to")
    return target


def sendable_targets(text: str | None) -> list[Target]:
    """Every target in a BULLETINS_NOTIFY_URL value, each checked as `sendable_target` does."""
    return notify_address.parse_targets(text, sendable_target)


def apprise_knows(scheme: str) -> bool:
    """Whether apprise has a plugin for the scheme."""
    _apprise()
    from apprise.manager_plugins import NotificationManager

    return scheme in NotificationManager().schemas()


# --------------------------------------------------------------------------- signing


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64 of HMAC-SHA256(key=secret, `timestamp\\nsecret`), URL-encoded.

    >>> dingtalk_sign("SECabc", 1700000000000)
    'jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM%3D'
    """
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's 签名校验: base64 of HMAC-SHA256 keyed by `timestamp\\nsecret`, of no message."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------- size


def fit(lines: list[str], limit_bytes: int) -> str:
    """The lines joined, within `limit_bytes` of UTF-8: whole lines kept while they fit, then
    "…（已截断）"; a single line longer than the limit is cut at a character, never inside one.

    >>> fit(["标题", "一二三", "四五六"], 25)
    '标题\\n…（已截断）'
    >>> len(fit(["长" * 100], 40).encode()) <= 40
    True
    """
    text = "\n".join(lines)
    if len(text.encode()) <= limit_bytes:
        return text
    room = limit_bytes - len(("\n" + TRUNCATED).encode())
    kept: list[str] = []
    used = -1  # no newline before the first line
    for line in lines:
        size = len(line.encode()) + 1
        if used + size > room:
            break
        kept.append(line)
        used += size
    if not kept:  # even the first line is too long: cut it at a character
        cut = lines[0].encode()[: max(room, 0)].decode(errors="ignore").replace("**", "")
        return f"{cut}{TRUNCATED}"
    return "\n".join([*kept, TRUNCATED])


# --------------------------------------------------------------------------- bodies and answers


class Rendered(Protocol):
    """A message in the two forms a channel may take: plain text, and Markdown (values escaped)."""

    @property
    def title(self) -> str: ...
    @property
    def text_lines(self) -> tuple[str, ...]: ...
    @property
    def markdown_lines(self) -> tuple[str, ...]: ...


def request(target: Target, message: Rendered, now_s: float) -> tuple[str, bytes]:
    """The URL and JSON body to post for an HTTP channel at time `now_s` (signatures are timed)."""
    limit = target.limit_bytes
    url = target.url
    if target.msgtype == "markdown":
        content = fit([f"**{message.title}**", "", *message.markdown_lines], limit)
    else:
        content = fit([message.title, *message.text_lines], limit)
    body: dict[str, object]
    if target.channel in (FEISHU, LARK):
        body = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": message.title}},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
            },
        }
        if target.secret:
            timestamp = int(now_s)
            body |= {"timestamp": str(timestamp), "sign": feishu_sign(target.secret, timestamp)}
    elif target.msgtype == "markdown":  # WeCom and DingTalk
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        if target.channel == DINGTALK:
            body["markdown"] = {"title": message.title, "text": content}
    else:
        body = {"msgtype": "text", "text": {"content": content}}
    if target.channel == DINGTALK and target.secret:
        timestamp_ms = int(now_s * 1000)
        joiner = "&" if urllib.parse.urlsplit(url).query else "?"
        url = f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(target.secret, timestamp_ms)}"
    return url, json.dumps(body, ensure_ascii=False).encode()


def answer_problem(channel: str, answer: bytes) -> str | None:
    """Why an HTTP 200 answer is a refusal (errcode/code not 0), or None when the channel took it.

    >>> answer_problem(DINGTALK, b'{"errcode":310000,"errmsg":"sign not match"}')
    'errcode 310000: sign not match'
    >>> answer_problem(FEISHU, b'{"code":0,"msg":"success"}') is None
    True
    >>> answer_problem(WEBHOOK, b'ok') is None
    True
    """
    try:
        parsed = json.loads(answer.decode("utf-8", errors="replace") or "null")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        if channel == WEBHOOK:
            return None  # a plain receiver may answer anything with 200
        return f"the answer is not {CHANNEL_NAMES[channel]}'s JSON: {_short(answer.decode(errors='replace'))}"
    for code_key, message_key in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        code = parsed.get(code_key)
        if code is None:
            continue
        if code in (0, "0"):
            return None
        return f"{code_key} {code}: {_short(str(parsed.get(message_key, '')))}"
    if channel in (WECOM, DINGTALK, FEISHU, LARK):
        return f"the answer has no errcode/code: {_short(answer.decode(errors='replace'))}"
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- apprise


def send_with_apprise(target: Target, message: Rendered, timeout_s: float) -> str | None:
    """Send through apprise (e-mail, other services); None when sent, else why (its log, secrets masked).

    Runs in the caller's thread: `notify_send.post` bounds it with its deadline.
    """
    apprise = _apprise()
    from apprise.logger import LOGGER_NAME

    captured: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            # apprise may send from a thread of its own; the cause of a failure it logs at debug
            if record.levelno >= logging.WARNING or record.getMessage().startswith("Socket Exception"):
                captured.append(redact(record.getMessage(), target.secrets))

    logger = logging.getLogger(LOGGER_NAME)
    _quiet_apprise(logger, target.secrets)
    handler = Capture()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        notifier = apprise.Apprise()
        plugin = apprise.Apprise.instantiate(target.url, suppress_exceptions=True)
        if plugin is None:
            return "apprise cannot use this address: " + ("; ".join(dict.fromkeys(captured)) or "no reason given")
        for name in ("socket_connect_timeout", "socket_read_timeout"):
            if hasattr(plugin, name):
                setattr(plugin, name, timeout_s)
        notifier.add(plugin)
        body = fit(list(message.markdown_lines), target.limit_bytes)
        sent = notifier.notify(body=body, title=message.title, body_format=apprise.NotifyFormat.MARKDOWN)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if sent:
        return None
    return "; ".join(dict.fromkeys(captured)) or "apprise did not send it"


_SECRETS_FILTERED: set[str] = set()


def _quiet_apprise(logger: logging.Logger, secrets: tuple[str, ...]) -> None:
    """Apprise logs the URLs it posts to (tokens included) at debug level: its records are masked
    before any handler sees them, and never reach the root logger (our warnings say it in Chinese)."""
    _SECRETS_FILTERED.update(secrets)
    if not any(isinstance(f, _MaskFilter) for f in logger.filters):
        logger.addFilter(_MaskFilter())
    logger.propagate = False


class _MaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), _SECRETS_FILTERED)
        record.args = None
        return True
