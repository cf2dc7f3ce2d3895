"""Messages to the office's chat groups and mailboxes when something needs a person, and
when the week's bulletin is in.

What is sent (README, "Notifications"), each in Chinese, to every target in
BULLETINS_NOTIFY_URL (`notify_channels`: WeCom, DingTalk, Feishu/Lark, e-mail, a JSON webhook):

- events of one run, one message each: the week's bulletin loaded ("本周通报已入库": its
  figures, the units newly overdue, the report), files quarantined or partial, units on
  their list N weeks in a row;
- alerts, which last (`notify_state`): a city's feed stale, runs failing; told when they
  begin, reminded at most once a day, and "已恢复" once when they end.

This module decides what a run owes and to whom, and remembers the alerts: the words are
`notices`', the sending (deadlines, budget, never raising) `notify_send`'s, the alerts'
memory `notify_state`'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import duckdb

from flows.reporting import notify_state as state
from flows.reporting.notices import (
    Notice,
    alert_notices,
    failure_reason,
    files_need_attention,
    long_streak,
    report_for,
    week_loaded,
)
from flows.reporting.notify_channels import Target
from flows.reporting.notify_send import POSTS_BUDGET_S, post_all, send_all
from flows.warehouse.readers.notify import long_streaks, problem_files_in_batches, weeks_loaded
from flows.warehouse.readers.status import Freshness


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def run_failed(failure: BaseException | str, secrets: Sequence[str] = ()) -> dict[str, dict[str, object]]:
    """The run-failed alert, on, with the failure's reason (the targets' `secrets` masked in it)."""
    words, cause = failure_reason(failure, secrets)
    return {"run_failed": {"reason": words, "cause": cause}}


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
            alerts, unreadable = state.read_alerts(state_file)
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
        state.drop_unconfigured_targets(alerts, {t.id for t in targets})
        if keep:
            try:
                state.write_alerts(state_file, alerts)
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
    targets: Sequence[Target], state_file: Path, failure: BaseException | str, now: dt.datetime | None = None
) -> list[str]:
    """A failed run's alert (`failure`: what it raised, else its state's message): told when runs
    start failing, then at most once a day. What could not be sent."""
    secrets = [s for t in targets for s in t.secrets]
    return _alerts(targets, state_file, "run_failed", run_failed(failure, secrets), now or now_utc(), POSTS_BUDGET_S)


def local_day(now: dt.datetime) -> dt.date:
    """The day in Asia/Shanghai (freshness is judged on it)."""
    return now.astimezone(state.ZONE).date()
