"""Notifications: each trigger posts exactly one JSON message to a receiver on loopback; none when nothing happened."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pipeline_helpers import load_without_prefect, make_inbox, query
from webhooks import SECRET_URL_QUERY, Answering, free_port

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


# --- a post is bounded in time and never shows the webhook's secrets ---------------------


def test_a_receiver_that_answers_500_is_a_reason_without_the_secrets() -> None:
    receiver = Answering(status=500)
    try:
        problem = notify.post(receiver.url, notify.Notice("feed_stale", "text"))
    finally:
        receiver.close()
    port = receiver.server.server_port
    assert problem == (
        f"notification feed_stale not sent to http://127.0.0.1:{port}/cgi-bin/webhook/send?key=***&access_token=***: "
        "HTTP 500 Internal Server Error"
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_unreachable_receiver_is_a_reason_without_the_secrets(scheme: str) -> None:
    port = free_port()
    problem = notify.post(f"{scheme}://127.0.0.1:{port}/send?{SECRET_URL_QUERY}", notify.Notice("feed_stale", "text"))
    assert problem is not None and problem.startswith(
        f"notification feed_stale not sent to {scheme}://127.0.0.1:{port}/send?key=***&access_token=***: URLError: "
    ), problem
    assert "refused" in problem and "SECRET" not in problem


def test_a_password_in_the_url_is_masked() -> None:
    url = f"http://bot:PASSWORD789@127.0.0.1:{free_port()}/send?{SECRET_URL_QUERY}"
    problem = notify.post(url, notify.Notice("feed_stale", "text"))
    assert problem is not None and problem.startswith("notification feed_stale not sent to http://***@127.0.0.1:")
    for secret in ("SECRET123", "SECRET456", "PASSWORD789", "bot:"):
        assert secret not in problem, problem


@pytest.mark.parametrize(
    "url",
    [
        "oapi.dingtalk.com/robot/send?access_token=SECRET456",  # no scheme: urllib's ValueError quotes it
        "ftp://example.invalid/send?key=SECRET123",
        "http://[::1/send?key=SECRET123",
    ],
)
def test_a_malformed_url_is_a_reason_not_an_error_and_keeps_its_secret(url: str) -> None:
    problem = notify.post(url, notify.Notice("run_failed", "text"), deadline_s=5)
    assert problem is not None and problem.startswith("notification run_failed not sent to ")
    assert "SECRET" not in problem, problem


def test_a_receiver_that_drips_its_answer_is_cut_at_the_deadline() -> None:
    # The socket timeout (5 s) is never reached: a byte comes every 0.2 s.
    receiver = Answering(drip_every_s=0.2)
    try:
        started = time.monotonic()
        problem = notify.post(receiver.url, notify.Notice("long_streak", "text"), timeout_s=5, deadline_s=1.5)
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert 1.4 < took < 3.0
    assert problem is not None
    assert problem.endswith(": no complete answer within 1.5 s")
    assert "SECRET" not in problem


def test_a_runs_posts_share_one_budget() -> None:
    receiver = Answering(drip_every_s=0.2)
    notices = [notify.Notice(t, "text") for t in ("files_need_attention", "feed_stale", "long_streak")]
    try:
        started = time.monotonic()
        problems = notify.post_all(receiver.url, notices, budget_s=2.0, deadline_s=1.5)
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert took < 3.5
    assert [p.split(" not sent")[0] for p in problems] == [f"notification {n.trigger}" for n in notices]
    assert problems[0].endswith("no complete answer within 1.5 s")
    assert problems[-1].endswith("the run's 2 s for notifications were spent")
    assert all("SECRET" not in p for p in problems)


def test_a_failed_runs_message_masks_any_url_it_quotes() -> None:
    notice = notify.run_failed("cannot post to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET123")
    assert "SECRET123" not in notice.text
    assert notice.text.endswith("send?key=***")


def test_a_connection_made_after_the_deadline_is_cut_at_once() -> None:
    # A slow connect (a slow DNS, a full backlog) can finish after the post gave up: its
    # socket must not then sit reading a dripping receiver.
    ours, peer = socket.socketpair()
    with ours, peer:
        sockets = notify._Sockets()
        sockets.cut()
        sockets.add(ours)
        peer.settimeout(2)
        assert peer.recv(1) == b""  # shut down: the peer reads the end of the stream
