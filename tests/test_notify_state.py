"""Alerts that last: told when they begin, at most once a day while they last, once when they end.

The clock is injected (`now=`): no test waits for a day to pass.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from webhooks import DINGTALK_SECRET, DINGTALK_TOKEN, FEISHU_TOKEN, WECOM_KEY, ChatBot

from flows.reporting import notify
from flows.reporting import notify_state as state
from flows.reporting.notify_channels import sendable_target
from flows.warehouse.locks import WarehouseLocked

SHANGHAI = ZoneInfo("Asia/Shanghai")
FAILURE = WarehouseLocked("bulletins.duckdb held by pid 7")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in February 2021, Beijing time."""
    return dt.datetime(2021, 2, day, hour, minute, tzinfo=SHANGHAI)


def stale(*cities: str) -> dict[str, dict[str, object]]:
    return {
        f"feed_stale:{city}": {
            "city": city,
            "week_start": "2021-01-18",
            "week_end": "2021-01-24",
            "days": 20,
            "stale_after": 14,
        }
        for city in cities
    }


@pytest.fixture
def bot() -> Iterator[ChatBot]:
    b = ChatBot("wecom")
    try:
        yield b
    finally:
        b.close()


def titles(bot: ChatBot) -> list[str]:
    """The first line of each message the bot took, since the last call."""
    found = [c.partition("\n")[0].strip("*") for c in bot.contents()]
    bot.received.clear()
    return found


def test_a_failing_run_is_told_once_a_day_and_its_end_once(bot: ChatBot, tmp_path: Path) -> None:
    targets, path = [sendable_target(bot.url)], tmp_path / "notify-state.json"
    assert notify.notify_failure(targets, path, FAILURE, now=at(1, 10)) == []
    [began] = bot.contents()
    assert began.startswith("**【数字城管周报】运行失败**\n\n原因：**数据库文件被其他程序占用，等待超时**\n")
    assert "（WarehouseLocked: bulletins.duckdb held by pid 7）" in began
    bot.received.clear()
    notify.notify_failure(targets, path, FAILURE, now=at(1, 10, 2))  # 2 minutes later (serve --interval 120)
    notify.notify_failure(targets, path, FAILURE, now=at(1, 23, 59))
    assert titles(bot) == []
    notify.notify_failure(targets, path, FAILURE, now=at(2, 9))  # the next day
    assert titles(bot) == ["【数字城管周报】运行仍在失败（每日提醒）"]
    notify.notify_failure(targets, path, FAILURE, now=at(2, 9, 2))
    assert titles(bot) == []
    assert notify.notify_run(targets, path, [], {}, now=at(2, 10)) == []  # a run that completes
    [ended] = bot.contents()
    assert (
        ended == "**【数字城管周报】已恢复：运行恢复正常**\n\n自 2月1日 10:00起失败 5 次，2月2日 10:00 的运行已成功。"
    )
    bot.received.clear()
    notify.notify_run(targets, path, [], {}, now=at(2, 10, 2))
    notify.notify_run(targets, path, [], {}, now=at(3, 10))
    assert titles(bot) == []
    assert json.loads(path.read_text(encoding="utf-8")) == {"alerts": {}}


def test_a_stale_feed_is_told_per_city_when_it_begins_daily_after_and_when_it_ends(
    bot: ChatBot, tmp_path: Path
) -> None:
    targets, path = [sendable_target(bot.url)], tmp_path / "notify-state.json"
    notify.notify_run(targets, path, [], stale("驻马店"), now=at(1, 10))
    [began] = bot.contents()
    assert began.startswith(
        "**【数字城管周报】通报可能已停止更新**\n\n- **驻马店**：最新一期为 2021年1月18日—1月24日，已 20 天没有新一期"
    )
    assert not re.search(r"[A-Za-z]{4,}", began)  # Chinese, no `feed stale, ...`
    bot.received.clear()
    for minute in range(2, 60, 2):  # every run of an hour under `serve --interval 120`
        notify.notify_run(targets, path, [], stale("驻马店"), now=at(1, 10, minute))
    assert titles(bot) == []
    notify.notify_run(targets, path, [], stale("驻马店", "三门峡"), now=at(1, 12))  # a second city goes stale
    [second] = bot.contents()
    assert "三门峡" in second and "驻马店" not in second
    bot.received.clear()
    notify.notify_run(targets, path, [], stale("驻马店", "三门峡"), now=at(2, 12))
    [reminder] = bot.contents()
    assert reminder.startswith("**【数字城管周报】通报仍未更新（每日提醒）**")
    assert "驻马店" in reminder and "三门峡" in reminder and "2月1日 10:00起，仍未恢复" in reminder
    bot.received.clear()
    notify.notify_run(targets, path, [], stale("三门峡"), now=at(2, 14))  # 驻马店's new week arrived
    assert titles(bot) == ["【数字城管周报】已恢复：通报恢复更新"]
    notify.notify_run(targets, path, [], stale("三门峡"), now=at(2, 16))
    assert titles(bot) == []


def test_a_target_that_was_down_is_told_when_it_is_back_the_other_only_once(tmp_path: Path) -> None:
    up, down = ChatBot("wecom"), ChatBot("wecom", refuse=-1)
    try:
        targets, path = [sendable_target(up.url), sendable_target(down.url)], tmp_path / "notify-state.json"
        problems = notify.notify_failure(targets, path, FAILURE, now=at(1, 10))
        assert len(problems) == 1 and problems[0].startswith("通知未发出（运行失败提醒 → 企业微信 ")
        assert WECOM_KEY not in problems[0] and problems[0].endswith(
            "：errcode -1: refused, hint: [x], more info at https://open.example/e?e=***"
        )
        down.refuse = None  # back
        assert notify.notify_failure(targets, path, FAILURE, now=at(1, 10, 2)) == []
        assert titles(up) == ["【数字城管周报】运行失败"]
        assert titles(down) == ["【数字城管周报】运行失败"]
    finally:
        up.close()
        down.close()


def test_the_state_file_names_no_target_and_holds_no_secret(tmp_path: Path) -> None:
    bot, feishu = ChatBot("dingtalk", secret=DINGTALK_SECRET), ChatBot("feishu")
    try:
        targets, path = [sendable_target(bot.url), sendable_target(feishu.url)], tmp_path / "notify-state.json"
        quoted = WarehouseLocked(f"{FAILURE} posting to {feishu.url} and to {bot.url}")  # a hook's token is a path part
        notify.notify_failure(targets, path, quoted, now=at(1, 10))
    finally:
        bot.close()
        feishu.close()
    text = path.read_text(encoding="utf-8")
    assert DINGTALK_TOKEN not in text and DINGTALK_SECRET not in text and FEISHU_TOKEN not in text
    [alert] = json.loads(text)["alerts"].values()
    assert sorted(alert["told"]) == sorted(t.id for t in targets)
    assert "/hook/***" in alert["detail"]["cause"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notify-state.json.lock", "notify-state.json"]


def test_an_unreadable_state_file_starts_over_and_says_so(bot: ChatBot, tmp_path: Path) -> None:
    path = tmp_path / "notify-state.json"
    path.write_text('{"alerts": {"run_failed": {"since": "yesterday"', encoding="utf-8")
    problems = notify.notify_failure([sendable_target(bot.url)], path, FAILURE, now=at(1, 10))
    assert problems == ["提醒记录 notify-state.json unreadable, started over: JSONDecodeError"]
    assert titles(bot) == ["【数字城管周报】运行失败"]
    assert list(json.loads(path.read_text(encoding="utf-8"))["alerts"]) == ["run_failed"]


def test_without_a_warehouse_folder_the_failure_is_still_told(bot: ChatBot, tmp_path: Path) -> None:
    # A run that failed on a mistyped --warehouse: no folder to keep the state in, none created.
    path = tmp_path / "no-such-warehouse" / "notify-state.json"
    problems = notify.notify_failure([sendable_target(bot.url)], path, FAILURE, now=at(1, 10))
    assert titles(bot) == ["【数字城管周报】运行失败"]
    assert problems == ["提醒记录 notify-state.json 无法使用（FileNotFoundError）：提醒照发，但无法避免重复"]
    assert not path.parent.exists()


def test_a_reminder_needs_a_new_day_and_twelve_hours() -> None:
    assert not state.reminder_due(at(1, 23, 58), at(2, 0, 2))  # not at midnight
    assert state.reminder_due(at(1, 23, 58), at(2, 12))
    assert state.reminder_due(at(1, 6), at(2, 6))  # a daily 06:00 cron, on time
    assert not state.reminder_due(at(1, 6), at(1, 23))
