"""What the host gives a run: the cores it may use, and today's date where the bulletins are published."""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

# The bulletins' own time zone: "today" for freshness is a day in this zone.
LOCAL_TIMEZONE = "Asia/Shanghai"

# `bulletins serve`'s and `bulletins deploy`'s schedule unless told: every day at 07:00 local time.
SCHEDULE_CRON = "0 7 * * *"
SCHEDULE_TIMEZONE = LOCAL_TIMEZONE


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's limit),
    else the machine's count; at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no sched_getaffinity off Linux
        return max(os.cpu_count() or 1, 1)


def local_today() -> date:
    """Today in the bulletins' time zone."""
    return datetime.now(ZoneInfo(LOCAL_TIMEZONE)).date()
