"""Secrets out of text: what a webhook URL carries never reaches a console, a log or a file.

A chat webhook is authenticated by its URL: DingTalk's `access_token=`/`sign=`, WeCom's
`key=`, a `user:pass@` in front of the host. Anything that turns such a URL, or an
exception that may quote it (urllib, httpx, a settings error), into text passes it
through `redact` first. Every query value is treated as secret, not just the known names:
a receiver may call its token anything.

>>> redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=x%2By")
'https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=***&sign=***'
>>> redact("<urlopen error> posting to http://bot:pw@h/send?key=K1: refused")
'<urlopen error> posting to http://***@h/send?key=***: refused'
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"

# user:pass@ (or a bare token@) between a scheme's // and the host.
_USERINFO = re.compile(r"(?P<lead>[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#@\s'\"<>]+@")
# name=value after ?, & or # (a query or a fragment), with or without a scheme in front
# (a URL missing its scheme still carries its token); the punctuation of the sentence
# around it (`...?key=K1: refused`) stays.
_PARAMETER = re.compile(r"(?P<lead>[?&#][^=&#?\s'\"<>]+=)(?P<value>[^&#\s'\"<>]*[^&#\s'\"<>:,.;)])")
# key=value of a well-known secret name anywhere in free text (`token=...` in a message).
_NAMED = re.compile(
    r"(?i)(?P<lead>\b(?:access_token|api_?key|key|token|secret|sign|signature|password|passwd|pwd)=)"
    r"(?P<value>[^&#\s'\"<>]*[^&#\s'\"<>:,.;)])"
)


def url_secrets(url: str | None) -> list[str]:
    """The secret parts of a URL, as written and percent-decoded: its query values and userinfo.

    >>> url_secrets("http://u:p%40ss@h/x?key=a%2Bb&n=")
    ['u:p%40ss', 'u:p@ss', 'p%40ss', 'p@ss', 'a%2Bb', 'a+b']
    """
    if not url:
        return []
    found: list[str] = []
    # By hand, not urlsplit: a malformed URL ("http://[::1/") must still give its secrets.
    authority = re.match(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://(?P<authority>[^/?#]*)", url)
    if authority and "@" in authority["authority"]:
        userinfo = authority["authority"].rpartition("@")[0]
        found += [userinfo, urllib.parse.unquote(userinfo)]
        if ":" in userinfo:
            password = userinfo.partition(":")[2]
            found += [password, urllib.parse.unquote(password)]
    query = url.partition("?")[2]
    for piece in re.split(r"[&#]", query):
        value = piece.partition("=")[2]
        if value:
            found += [value, urllib.parse.unquote_plus(value)]
    return [s for s in dict.fromkeys(found) if s]  # in order, without repeats


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL's userinfo and query values, secret-named values and `secrets` masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:  # a one- or two-character value would mask ordinary text
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m['lead']}{MASK}@", text)
    text = _PARAMETER.sub(lambda m: f"{m['lead']}{MASK}", text)
    return _NAMED.sub(lambda m: f"{m['lead']}{MASK}", text)


def redact_url(url: str) -> str:
    """A URL fit to show: scheme, host and path kept, userinfo and every query value masked."""
    return redact(url, url_secrets(url))
