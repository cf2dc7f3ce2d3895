"""Short messages to a chat webhook when something needs a person: the run failed, a file
was quarantined or is partial, a city's feed went stale, a unit stayed on the list N weeks.

One message per trigger that fired, none when nothing happened. The body is the text
message DingTalk and WeCom (企业微信) group bots accept,
`{"msgtype": "text", "text": {"content": "..."}}`; any receiver of JSON posts works.
Posting never raises: a receiver that is down costs the run a warning, not its data.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from flows.warehouse.readers import LongStreak, ProblemFile, long_streaks, problem_files_in_batches

# Where to post and when a streak is long: Settings.notify_url (BULLETINS_NOTIFY_URL) and
# Settings.notify_streak_weeks (BULLETINS_NOTIFY_STREAK_WEEKS).
POST_TIMEOUT_S = 5.0
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
    """The run failed: its one-line reason."""
    return Notice("run_failed", f"{PREFIX}bulletin-etl 运行失败：{message}")


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


def post(url: str, notice: Notice, timeout_s: float = POST_TIMEOUT_S) -> str | None:
    """POST the notice as JSON; None when the receiver took it, else why not (never raises)."""
    body = json.dumps({"msgtype": "text", "text": {"content": notice.text}}, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, a malformed URL
        return f"notification {notice.trigger} not sent to {url}: {exc}"
    return None
