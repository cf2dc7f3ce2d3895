"""Notifications: each trigger posts exactly one JSON message to a receiver on loopback; none when nothing happened."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect, make_inbox, query

from flows.orchestration import flow
from flows.reporting import notify
from flows.settings import Settings
from flows.warehouse.db import connection
from flows.warehouse.readers import read_freshness

# The flow tests: one run each under the Prefect harness. The fast tier keeps one trigger
# and the failure hook end to end; the pure tests below cover every trigger's rule and the post.
flow_test = pytest.mark.usefixtures("prefect_harness")


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(
                    {"content_type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"errcode":0}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/robot/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        return [r["body"]["text"]["content"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver()
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", r.url)
    # Judge freshness generously unless a test says otherwise: the bundled weeks are from 2021.
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "100000")
    try:
        yield r
    finally:
        r.close()


def run(inbox: Path, wh: Path):
    return flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True)


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_nothing_happened_nothing_posted(receiver: Receiver, tmp_path: Path) -> None:
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    assert run(inbox, wh).is_completed()  # six clean weeks; the latest has no streak of 4
    assert run(inbox, wh).is_completed()  # nothing new
    assert receiver.received == []


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_a_stale_feed_posts_one_message(receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "14")
    assert run(make_inbox(tmp_path / "inbox"), tmp_path / "wh").is_completed()
    [message] = receiver.received
    assert message["content_type"] == "application/json; charset=utf-8"
    assert message["body"]["msgtype"] == "text"
    text = message["body"]["text"]["content"]
    assert text.startswith("【数字城管周报】通报可能已停止更新：\n- feed stale, 驻马店: no new week published for ")


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_quarantined_and_partial_files_post_one_message(receiver: Receiver, tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    assert run(inbox, tmp_path / "wh").is_completed()
    [text] = receiver.texts()
    assert text.startswith("【数字城管周报】本次运行有 2 个文件需要查看：\n")
    assert "- 2020-12-30_cut.txt（部分入库）：" in text
    assert "- empty.txt（已隔离）：empty: 0 bytes, no text" in text


@flow_test
def test_a_unit_long_on_the_list_posts_one_message(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLETINS_NOTIFY_STREAK_WEEKS", "2")
    assert run(make_inbox(tmp_path / "inbox"), tmp_path / "wh").is_completed()
    assert receiver.texts() == [
        "【数字城管周报】2 个单位连续上榜 2 周及以上：\n"
        "- 驻马店 2021-01-18 起一周：中国电信驻马店分公司（市直单位及企业组）连续上榜 2 周，未办结 35 件\n"
        "- 驻马店 2021-01-18 起一周：驿城区政府（市辖区(管委会)组）连续上榜 2 周，未办结 5 件"
    ]


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_the_default_streak_is_four_weeks(receiver: Receiver, tmp_path: Path) -> None:
    # Up to 2020-12-28 中国电信 and 驿城区政府 are on the list 4 weeks in a row.
    inbox = make_inbox(
        tmp_path / "inbox",
        [
            "2020-12-16_synthetic_week_2020-12-07.txt",
            "000_3e19ef32d54e8472.txt",
            "2020-12-30_synthetic_week_2020-12-21.txt",
            "2021-01-06_synthetic_week_2020-12-28.txt",
        ],
    )
    assert run(inbox, tmp_path / "wh").is_completed()
    [text] = receiver.texts()
    assert text.startswith(
        "【数字城管周报】2 个单位连续上榜 4 周及以上：\n- 驻马店 2020-12-28 起一周：中国电信驻马店分公司"
    )


@flow_test
def test_a_failed_run_posts_one_message(receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(flow.build, "load_and_build", broken)
    state = run(make_inbox(tmp_path / "inbox"), tmp_path / "wh")
    assert state.is_failed()
    [text] = receiver.texts()
    assert text.startswith("【数字城管周报】bulletin-etl 运行失败：")
    assert "disk on fire" in text


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_a_receiver_that_is_down_does_not_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/robot/send"
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", url)
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "14")  # a trigger fires
    state = run(make_inbox(tmp_path / "inbox"), tmp_path / "wh")
    assert state.is_completed()
    summary = state.result()
    assert summary.files_loaded == 6
    [problem] = [w for w in summary.warnings if w.startswith("notification")]
    assert problem.startswith(f"notification feed_stale not sent to {url}: ")


@flow_test
@pytest.mark.slow  # end to end; the trigger's rule and the post are fast tests below
def test_no_url_no_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULLETINS_NOTIFY_URL", raising=False)
    calls: list[object] = []
    monkeypatch.setattr(notify, "post", lambda *args: calls.append(args))
    assert run(make_inbox(tmp_path / "inbox"), tmp_path / "wh").is_completed()
    assert calls == []


# --- the triggers' rules and the post, on warehouses built without Prefect -------------


def _run_notices(db: Path, warnings: list[str], min_streak: int) -> list[notify.Notice]:
    """What a run that loaded everything in this warehouse has to say (its batches, its weeks)."""
    batch_ids = [b for (b,) in query(db, "select distinct batch_id from ingest.files")]
    weeks = [w for (w,) in query(db, "select distinct week_start from marts.city_week_performance")]
    with connection(db, read_only=True) as con:
        return notify.run_notices(con, batch_ids, weeks, warnings, min_streak)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled inbox's six clean weeks."""
    root = tmp_path_factory.mktemp("notify")
    return load_without_prefect(make_inbox(root / "inbox"), root / "wh")


def test_six_clean_weeks_and_a_fresh_feed_say_nothing(bundled: Path) -> None:
    assert _run_notices(bundled, [], Settings.resolve().notify_streak_weeks) == []


def test_the_default_streak_of_four_weeks_fires_on_the_week_it_is_reached(tmp_path: Path) -> None:
    # Up to 2020-12-28 中国电信 and 驿城区政府 are on the list 4 weeks in a row.
    names = [
        "2020-12-16_synthetic_week_2020-12-07.txt",
        "000_3e19ef32d54e8472.txt",
        "2020-12-30_synthetic_week_2020-12-21.txt",
        "2021-01-06_synthetic_week_2020-12-28.txt",
    ]
    db = load_without_prefect(make_inbox(tmp_path / "inbox", names), tmp_path / "wh")
    assert Settings.resolve().notify_streak_weeks == 4
    [notice] = _run_notices(db, [], 4)
    assert notice.trigger == "long_streak"
    assert notice.text.startswith(
        "【数字城管周报】2 个单位连续上榜 4 周及以上：\n- 驻马店 2020-12-28 起一周：中国电信驻马店分公司"
    )


def test_a_stale_feed_says_so_once(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        warnings = [w for city in read_freshness(con, dt.date(2021, 3, 1), 14) if (w := city.warning())]
    assert len(warnings) == 1
    [notice] = _run_notices(bundled, [*warnings, "marts not written to the lake: OSError"], 99)
    assert notice.trigger == "feed_stale"
    assert notice.text == "【数字城管周报】通报可能已停止更新：\n- " + warnings[0]
    assert notice.text.startswith(
        "【数字城管周报】通报可能已停止更新：\n- feed stale, 驻马店: no new week published for "
    )


def test_quarantined_and_partial_files_of_the_run_are_listed(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    [notice] = _run_notices(db, [], 99)
    assert notice.trigger == "files_need_attention"
    assert notice.text.startswith("【数字城管周报】本次运行有 2 个文件需要查看：\n")
    assert "- 2020-12-30_cut.txt（部分入库）：" in notice.text
    assert "- empty.txt（已隔离）：empty: 0 bytes, no text" in notice.text
    # Files of earlier runs are not this run's news.
    with connection(db, read_only=True) as con:
        assert notify.run_notices(con, ["an-earlier-batch"], [], [], 99) == []


def test_a_notice_is_posted_as_one_json_text_message() -> None:
    receiver = Receiver()
    try:
        assert notify.post(receiver.url, notify.Notice("feed_stale", "【数字城管周报】通报可能已停止更新")) is None
    finally:
        receiver.close()
    assert receiver.received == [
        {
            "content_type": "application/json; charset=utf-8",
            "body": {"msgtype": "text", "text": {"content": "【数字城管周报】通报可能已停止更新"}},
        }
    ]


def test_a_receiver_that_is_down_is_a_reason_not_an_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/robot/send"
    problem = notify.post(url, notify.Notice("feed_stale", "text"), timeout_s=5)
    assert problem is not None and problem.startswith(f"notification feed_stale not sent to {url}: ")
