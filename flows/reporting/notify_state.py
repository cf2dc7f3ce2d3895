"""Which alerts are on, and what each target was last told: `<warehouse>/notify-state.json`.

A condition that lasts (a city's feed stale, runs failing) is announced when it begins,
reminded of at most once a day while it lasts, and announced once more when it ends
("已恢复"): under `serve --interval 120` the same stale feed would otherwise post every
two minutes. A reminder is due on a later calendar day (Asia/Shanghai) and at least
REMIND_AFTER after the last message, so a failure at 23:58 is not reminded of at 00:00.

The state is a small JSON file beside the warehouse's DuckDB file, not in it: the DuckDB
file people read is a read-only snapshot, and a failed run (which must record its alert)
may have no usable database at all. It is replaced atomically (a temporary file, then a
rename) under a lock of its own, as a failed run's hook and the next run may meet. Targets
are named by a hash (`Target.id`), never by their address. What happens per target is
recorded only once that target took the message: a target that was down is told next run.
A state file that cannot be read starts over (alerts are sent again, never lost).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.settings import LOCAL_TIMEZONE
from flows.warehouse.atomic import write_atomic

REMIND_AFTER = dt.timedelta(hours=12)
ZONE = ZoneInfo(LOCAL_TIMEZONE)

BEGAN, REMINDER, ENDED = "began", "reminder", "ended"


@dataclass
class Alert:
    """A condition that is on (or ended, with some targets still to be told)."""

    since: dt.datetime
    detail: dict[str, object]  # what the messages say about it (a city's latest week, the failure's reason)
    count: int = 1  # runs that found it on
    ended: dt.datetime | None = None
    told: dict[str, dt.datetime] = field(default_factory=dict)  # target id -> last message it took

    def to_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat(),
            "detail": self.detail,
            "count": self.count,
            "ended": self.ended.isoformat() if self.ended else None,
            "told": {t: at.isoformat() for t, at in sorted(self.told.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Alert:
        told = data.get("told") or {}
        ended = data.get("ended")
        detail = data.get("detail") or {}
        assert isinstance(told, dict) and isinstance(detail, dict)
        return cls(
            since=dt.datetime.fromisoformat(str(data["since"])),
            detail=dict(detail),
            count=int(str(data.get("count", 1))),
            ended=dt.datetime.fromisoformat(str(ended)) if ended else None,
            told={str(t): dt.datetime.fromisoformat(str(at)) for t, at in told.items()},
        )


@dataclass(frozen=True)
class Due:
    """A message owed to a target about one alert."""

    key: str
    kind: str  # began, reminder, ended
    alert: Alert


def read_alerts(path: Path) -> tuple[dict[str, Alert], str | None]:
    """The alerts on record, and why the file was not usable (it is then started over)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        alerts = data["alerts"]
        return {str(key): Alert.from_json(value) for key, value in alerts.items()}, None
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, AssertionError) as exc:
        return {}, f"{path.name} unreadable, started over: {type(exc).__name__}"


def write_alerts(path: Path, alerts: Mapping[str, Alert]) -> None:
    """Write the state atomically: readers see the old file or the new one, never a part."""
    text = json.dumps(
        {"alerts": {key: alert.to_json() for key, alert in sorted(alerts.items())}}, ensure_ascii=False, indent=1
    )
    write_atomic(path, text)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the state's own lock (a failed run's hook and the next run may meet here)."""
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def reminder_due(last: dt.datetime, now: dt.datetime) -> bool:
    """A later calendar day in Asia/Shanghai, and REMIND_AFTER since the last message.

    >>> d = lambda day, h, m=0: dt.datetime(2021, 2, day, h, m, tzinfo=ZONE)
    >>> reminder_due(d(1, 10), d(1, 23)), reminder_due(d(1, 23, 58), d(2, 0, 2)), reminder_due(d(1, 10), d(2, 9))
    (False, False, True)
    """
    return now.astimezone(ZONE).date() > last.astimezone(ZONE).date() and now - last >= REMIND_AFTER


def update(
    alerts: dict[str, Alert],
    scope: str,
    on: Mapping[str, dict[str, object]],
    now: dt.datetime,
) -> None:
    """Record which alerts under `scope` (a key prefix) are on now, with their details.

    An alert under the scope that is not in `on` has ended; alerts outside it are left as they
    are (a failed run says nothing about the feed).
    """
    for key, detail in on.items():
        alert = alerts.get(key)
        if alert is None or alert.ended is not None:  # begins (again): every target is told anew
            alerts[key] = Alert(since=now, detail=dict(detail))
            continue
        alert.detail = dict(detail)
        alert.count += 1
    for key, alert in alerts.items():
        if key.startswith(scope) and key not in on and alert.ended is None:
            alert.ended = now


def due(alerts: Mapping[str, Alert], target_id: str, now: dt.datetime) -> list[Due]:
    """What `target_id` is owed now: each alert begun (not told), due a reminder, or ended (told it was on)."""
    owed = []
    for key, alert in sorted(alerts.items()):
        last = alert.told.get(target_id)
        if alert.ended is not None:
            if last is not None:
                owed.append(Due(key, ENDED, alert))
        elif last is None:
            owed.append(Due(key, BEGAN, alert))
        elif reminder_due(last, now):
            owed.append(Due(key, REMINDER, alert))
    return owed


def record(alerts: dict[str, Alert], target_id: str, sent: list[Due], now: dt.datetime) -> None:
    """The target took these messages: remember when; an ended alert is dropped once no target is owed its end."""
    for item in sent:
        alert = alerts.get(item.key)
        if alert is None:
            continue
        if item.kind == ENDED:
            alert.told.pop(target_id, None)
        else:
            alert.told[target_id] = now


def drop_unconfigured_targets(alerts: dict[str, Alert], target_ids: set[str]) -> None:
    """Drop targets no longer configured, then alerts that ended with nobody left to tell."""
    for key in list(alerts):
        alert = alerts[key]
        alert.told = {t: at for t, at in alert.told.items() if t in target_ids}
        if alert.ended is not None and not alert.told:
            del alerts[key]
