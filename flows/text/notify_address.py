"""Notification addresses: what BULLETINS_NOTIFY_URL names, read without sending anything.

One value holds one address or several (white space or commas between). Each is a
`Target`: its channel (WeCom, DingTalk, Feishu/Lark, a JSON webhook, e-mail or another
apprise service), the URL posted to with our own parameters (`secret=`, `msgtype=`) taken
out, and the secrets it carries, so that it can be shown (`Target.shown`) and named in
state (`Target.id`) without them. Standard library only: `settings` checks the addresses
with it before a run starts (README, "Notifications"); `flows.reporting.notify_channels`
sends.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from flows.text.redact import redact, redact_url, url_secrets

# The channels `notify_channels` posts itself; anything else with a scheme apprise knows goes to apprise.
WECOM, DINGTALK, FEISHU, LARK, WEBHOOK = "wecom", "dingtalk", "feishu", "lark", "webhook"
EMAIL, APPRISE = "email", "apprise"  # both sent by apprise
CHANNEL_NAMES = {
    EMAIL: "邮件",
    WECOM: "企业微信",
    DINGTALK: "钉钉",
    FEISHU: "飞书",
    LARK: "Lark",
    WEBHOOK: "webhook",
    APPRISE: "apprise",
}
_HOSTS = {
    "qyapi.weixin.qq.com": WECOM,
    "oapi.dingtalk.com": DINGTALK,
    "open.feishu.cn": FEISHU,
    "open.larksuite.com": LARK,
}
# Our own query parameters: read here, never sent.
OWN_PARAMETERS = ("secret", "msgtype")

# Each channel's limit on the message's content, in UTF-8 bytes (what the service counts).
# WeCom: text 2,048, markdown 4,096 (errcode 45002 beyond); DingTalk: 20,000 for the whole
# message, so the content keeps a margin for the title and the JSON around it; Feishu/Lark:
# 20 KB for the request body; e-mail has none that matters, the cap only bounds a runaway list.
LIMIT_BYTES = {
    (WECOM, "markdown"): 4096,
    (WECOM, "text"): 2048,
    (DINGTALK, "markdown"): 19_000,
    (DINGTALK, "text"): 19_000,
    (FEISHU, "markdown"): 18_000,
    (LARK, "markdown"): 18_000,
    (WEBHOOK, "text"): 19_000,
    (EMAIL, "markdown"): 100_000,
    (APPRISE, "markdown"): 4_000,  # services differ; most take a few thousand characters
}


@dataclass(frozen=True)
class Target:
    """One place notifications go; `shown` and `secrets` are what may be printed and what must not."""

    channel: str
    url: str  # what is posted to (our own parameters taken out); for apprise, its URL
    secret: str | None = None  # DingTalk's 加签 / Feishu's 签名校验 secret
    msgtype: str = "markdown"
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def scheme(self) -> str:
        """The address's scheme (`mailtos`, `tgram`, `https`)."""
        return self.url.partition("://")[0].lower()

    @property
    def shown(self) -> str:
        """The target fit to print: channel and address, every secret masked."""
        return f"{CHANNEL_NAMES[self.channel]} {redact(redact_url(self.url), self.secrets)}"

    @property
    def id(self) -> str:
        """A short stable name for the alert state: a hash, never the address (it is the password)."""
        return hashlib.sha256(f"{self.channel} {self.url} {self.secret}".encode()).hexdigest()[:16]

    @property
    def limit_bytes(self) -> int:
        return LIMIT_BYTES.get((self.channel, self.msgtype), 19_000)


class TargetError(ValueError):
    """An address in BULLETINS_NOTIFY_URL that cannot be sent to; the message never holds a secret."""


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")
# Addresses are separated by white space, or by a comma in front of the next address's
# scheme: a comma inside an address (`mailtos://…?to=a@x.cn,b@y.cn`) stays.
_SEPARATOR = re.compile(r"\s+|,\s*(?=[A-Za-z][A-Za-z0-9+.\-]*://)")


def split_targets(text: str) -> list[str]:
    """The addresses in a BULLETINS_NOTIFY_URL value.

    >>> split_targets(" https://a/x?key=1, https://b/y mailtos://u:p@h?to=a@x.cn,b@y.cn ")
    ['https://a/x?key=1', 'https://b/y', 'mailtos://u:p@h?to=a@x.cn,b@y.cn']
    """
    return [part.strip(",") for part in _SEPARATOR.split(text.strip()) if part.strip(",")]


def parse_target(address: str) -> Target:
    """The target an address names (TargetError when none: the message names no secret)."""
    secrets = tuple(url_secrets(address))
    match = _SCHEME.match(address)
    if match is None:
        raise TargetError("has no scheme (https://, mailtos://, …)")
    scheme = match["scheme"].lower()
    channel_hint, _, base_scheme = scheme.rpartition("+")
    if channel_hint and channel_hint not in (WECOM, DINGTALK, FEISHU, LARK, WEBHOOK):
        raise TargetError(f"names an unknown channel {_shown_word(channel_hint)}+ (wecom, dingtalk, feishu, lark)")
    if base_scheme in ("http", "https"):
        return _http_target(address[len(channel_hint) + 1 :] if channel_hint else address, channel_hint, secrets)
    if channel_hint:
        raise TargetError(f"must be {channel_hint}+https://…, not {channel_hint}+{_shown_word(base_scheme)}://")
    if any(ch.isspace() or ord(ch) < 32 for ch in address):
        raise TargetError("holds spaces or control characters")
    if not re.fullmatch(r"[a-z][a-z0-9.\-]{1,31}", scheme):  # apprise's schemes; which ones: `settings`
        raise TargetError(f"is a {_shown_word(scheme)}:// address, which no channel sends to")
    channel = EMAIL if scheme in ("mailto", "mailtos") else APPRISE
    return Target(channel, address, secrets=secrets + _apprise_secrets(address))


def _shown_word(word: str) -> str:
    return word if re.fullmatch(r"[a-z][a-z0-9+.\-]{0,15}", word) else "other"


def _http_target(address: str, hint: str, secrets: tuple[str, ...]) -> Target:
    try:
        parts = urllib.parse.urlsplit(address)
        _ = parts.port  # raises on a port that is no number
    except ValueError:
        raise TargetError("is not a valid URL") from None
    if not parts.hostname:
        raise TargetError("names no host")
    if any(ch.isspace() or ord(ch) < 32 for ch in address):
        raise TargetError("holds spaces or control characters")
    channel = hint or _HOSTS.get(parts.hostname.lower(), WEBHOOK)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    own = {name: value for name, value in query if name in OWN_PARAMETERS}
    kept = urllib.parse.urlencode([(n, v) for n, v in query if n not in OWN_PARAMETERS])
    url = urllib.parse.urlunsplit(parts._replace(query=kept))
    msgtype = own.get("msgtype", "text" if channel == WEBHOOK else "markdown")
    if msgtype not in ("text", "markdown") or (channel in (FEISHU, LARK, WEBHOOK) and msgtype != _default(channel)):
        raise TargetError(f"asks for msgtype={_shown_word(msgtype)}, which this channel is not sent as")
    if own.get("secret") and channel not in (DINGTALK, FEISHU, LARK):
        raise TargetError("carries secret=, which only DingTalk and Feishu/Lark robots use")
    if channel in (FEISHU, LARK):  # the hook's token is the last part of the path, not a query value
        token = parts.path.rstrip("/").rpartition("/")[2]
        secrets += (token,) if len(token) >= 3 else ()
    return Target(channel, url, own.get("secret") or None, msgtype, secrets)


def _default(channel: str) -> str:
    return "text" if channel == WEBHOOK else "markdown"


def _apprise_secrets(address: str) -> tuple[str, ...]:
    """What an apprise URL carries that is secret beyond userinfo and query values: its host and
    path parts for services whose token is there (`tgram://TOKEN/CHAT`); not for e-mail."""
    if address.lower().startswith(("mailto://", "mailtos://")):
        return ()
    rest = _SCHEME.sub("", address).partition("?")[0].rpartition("@")[2]
    return tuple(part for part in re.split(r"[/:]", rest) if len(part) >= 6)


def parse_targets(text: str | None, parse: Callable[[str], Target] | None = None) -> list[Target]:
    """Every target in a BULLETINS_NOTIFY_URL value (TargetError naming the first that is unusable
    by its place); `parse` reads one address (default `parse_target`)."""
    targets = []
    for n, address in enumerate(split_targets(text or ""), start=1):
        try:
            targets.append((parse or parse_target)(address))
        except TargetError as exc:
            raise TargetError(f"address {n} {exc}") from None
    return targets
