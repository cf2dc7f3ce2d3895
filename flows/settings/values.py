"""A variable's text as a value: numbers within their bounds, yes/no flags, notification addresses,
a Dask scheduler's address, a DuckDB memory limit. Each raises SettingsError naming the variable."""

from __future__ import annotations

import math
import os
import re
from typing import TypeVar

from flows.settings.errors import SettingsError
from flows.settings.variables import DEFAULT_QUERY_MEMORY_LIMIT, Number

_N = TypeVar("_N", int, float)

_DASK_ADDRESS_RE = re.compile(
    r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})"
)


def env_number(variable: Number[_N], default: _N | None = None) -> _N:
    """A number from the environment, or the variable's default when it is unset or empty.

    Only finite numbers: `nan` compares false with every bound and `inf` waits forever.

    >>> env_number(Number("BULLETINS_NOT_SET", 2, 1, "a test"))
    2
    """
    text = os.environ.get(variable.name, "").strip()
    if not text:
        return variable.default if default is None else default
    problem = SettingsError(f"{variable.name} must be {variable.takes()}, not {text!r}")
    try:
        value = type(variable.default)(text)
    except ValueError:
        raise problem from None
    maximum = variable.maximum
    if not math.isfinite(value) or value < variable.minimum or (maximum is not None and value > maximum):
        raise problem
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """A yes/no from the environment (1/0, true/false, yes/no, on/off), or the default when unset or empty.

    >>> env_flag("BULLETINS_NOT_SET", True)
    True
    """
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {os.environ[name].strip()!r}")


def env_url(name: str) -> str | None:
    """The notification addresses from the environment (one or several), or None when unset or empty.

    Each address is checked (`flows.text.notify_address`); the message names the address
    by its place and never repeats it: a webhook URL carries its secret (`access_token=`).

    >>> env_url("BULLETINS_NOT_SET") is None
    True
    """
    from flows.text.notify_address import APPRISE, TargetError, parse_targets

    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        for n, target in enumerate(parse_targets(text), start=1):
            if target.channel == APPRISE and not _apprise_knows(target.scheme):
                raise TargetError(f"address {n} is a {target.scheme}:// address, which no channel sends to")
    except TargetError as exc:
        raise SettingsError(
            f"{name} must hold webhook or e-mail addresses (e.g. https://oapi.dingtalk.com/robot/send?access_token=..., "
            f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..., mailtos://user:password@smtp.example.com?to=...), "
            f"but its {exc} (value not shown: it may hold a token)"
        ) from None
    return text


def _apprise_knows(scheme: str) -> bool:
    """Whether apprise sends to `scheme://` (imported only for such an address: loading its plugins takes
    a second, and warns of `imghdr`, a DeprecationWarning of its own)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from apprise.manager_plugins import NotificationManager

        return scheme in NotificationManager().schemas()


def dask_address(text: str, name: str) -> str | None:
    """A Dask scheduler's address `tcp://host:port`, or None when `text` is empty.

    `name` is the variable it came from, for the message.

    >>> dask_address(" tcp://10.0.0.5:8786 ", "BULLETINS_DASK_ADDRESS")
    'tcp://10.0.0.5:8786'
    >>> dask_address("", "BULLETINS_DASK_ADDRESS") is None
    True
    """
    text = text.strip()
    if not text:
        return None
    match = _DASK_ADDRESS_RE.fullmatch(text)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise SettingsError(
            f"{name} must be a Dask scheduler's address like tcp://10.0.0.5:8786 (tcp://host:port), not {text!r}"
        )
    return text


_MEMORY_RE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B|B)", re.IGNORECASE)
_UNIT_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNIT_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_QUERY_MEMORY_BYTES = 16 * 10**6  # DuckDB cannot run a query in less


def memory_limit(text: str, name: str) -> str:
    """A DuckDB memory limit like `1GB` or `512MiB` (the default when `text` is empty).

    `name` is the variable or option it came from, for the message.

    >>> memory_limit(" 512 mb ", "--memory-limit")
    '512MB'
    >>> memory_limit("", "BULLETINS_QUERY_MEMORY_LIMIT")
    '1GB'
    """
    text = text.strip()
    if not text:
        return DEFAULT_QUERY_MEMORY_LIMIT
    match = _MEMORY_RE.fullmatch(text)
    problem = SettingsError(f"{name} must be an amount of memory of at least 16MB like 1GB or 512MB, not {text!r}")
    if match is None:
        raise problem
    unit = match["unit"].upper().replace("I", "i")
    number = float(match["number"])
    if number * _UNIT_BYTES[unit.lower()] < MIN_QUERY_MEMORY_BYTES or not math.isfinite(number):
        raise problem
    return f"{match['number']}{unit}"
