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
from pipeline_helpers import copy_bundled, load_without_prefect, make_inbox, query
from webhooks import POLL_S, SECRET_URL_QUERY, Answering, free_port

from flows.orchestration import flow
from flows.reporting import notices as messages
from flows.reporting import notify, notify_send
from flows.settings import Settings
from flows.warehouse.db import connection
from flows.warehouse.readers import notify as notify_readers
from flows.warehouse.readers.status import read_freshness

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
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True)
        self.thread.start()

    def texts(self, trigger_title: str = "") -> list[str]:
        """The text of each message posted (those whose first line holds `trigger_title`)."""
        texts = [r["body"]["text"]["content"] for r in self.received]
        return [t for t in texts if trigger_title in t.partition("\n")[0]]

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
@pytest.mark.slow  # end to end; the triggers' rules and the post are fast tests below
def test_a_first_load_says_the_week_is_in_and_a_rerun_says_nothing(receiver: Receiver, tmp_path: Path) -> None:
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    assert run(inbox, wh).is_completed()  # six clean weeks; the latest has no streak of 4
    [text] = receiver.texts()
    assert text.startswith("【数字城管周报】本周通报已入库\n驻马店 2021年1月18日—1月24日\n- 结案率 ")
    assert "- 另有 5 周较早的通报一并入库" in text
    assert "周报文件：" in text and "report-2021-01-18.html" in text
    assert run(inbox, wh).is_completed()  # nothing new
    assert len(receiver.received) == 1


@flow_test
@pytest.mark.slow  # end to end; the triggers' rules and the post are fast tests below
def test_a_stale_feed_is_told_once_not_every_run(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "14")
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    assert run(inbox, wh).is_completed()
    assert run(inbox, wh).is_completed()  # the same day: the alert is on, already told
    [message] = [r for r in receiver.received if "通报可能已停止更新" in r["body"]["text"]["content"]]
    assert message["content_type"] == "application/json; charset=utf-8"
    assert message["body"]["msgtype"] == "text"
    text = message["body"]["text"]["content"]
    assert text.startswith("【数字城管周报】通报可能已停止更新\n- 驻马店：最新一期为 2021年1月18日—1月24日，已 ")
    assert "feed stale" not in text
    assert (wh / "notify-state.json").is_file()


@flow_test
@pytest.mark.slow  # end to end; the triggers' rules and the post are fast tests below
def test_quarantined_and_partial_files_post_one_message(receiver: Receiver, tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    assert run(inbox, tmp_path / "wh").is_completed()
    [text] = receiver.texts("文件需要查看")
    assert text.startswith("【数字城管周报】本次运行有 2 个文件需要查看\n")
    assert "- 2020-12-30_cut.txt（部分入库）：第 1 则通报" in text
    assert "- empty.txt（已隔离）：空文件" in text


@pytest.mark.scenario
@flow_test
def test_a_unit_long_on_the_list_posts_one_message(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLETINS_NOTIFY_STREAK_WEEKS", "2")
    assert run(make_inbox(tmp_path / "inbox"), tmp_path / "wh").is_completed()
    assert receiver.texts("连续上榜") == [
        "【数字城管周报】2 个单位连续上榜 2 周及以上\n"
        "- 驻马店 2021-01-18 起一周：中国电信驻马店分公司（市直单位及企业组）连续上榜 2 周，未办结 35 件\n"
        "- 驻马店 2021-01-18 起一周：驿城区政府（市辖区(管委会)组）连续上榜 2 周，未办结 5 件"
    ]


@pytest.mark.scenario
@flow_test
def test_a_failed_run_posts_one_chinese_message_and_the_next_good_run_says_recovered(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> bool:
        # A full disk that does not say so in words: the alert follows what was raised (its
        # errno), not the text of the run's state message.
        raise OSError(28, "quota exceeded on /srv")

    inbox, wh = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"]), tmp_path / "wh"
    with monkeypatch.context() as patch:
        patch.setattr(flow.build, "load_and_build", broken)
        assert run(inbox, wh).is_failed()
        assert run(inbox, wh).is_failed()  # the same day: not told again
    [text] = receiver.texts()
    assert text.startswith("【数字城管周报】运行失败\n原因：磁盘已满\n（OSError: [Errno 28] quota exceeded on /srv）\n")
    receiver.received.clear()
    assert run(inbox, wh).is_completed()
    [recovered] = receiver.texts("已恢复")
    assert recovered.startswith("【数字城管周报】已恢复：运行恢复正常\n自 ")
    assert "失败 2 次" in recovered


@flow_test
@pytest.mark.slow  # end to end; the triggers' rules and the post are fast tests below
def test_a_receiver_that_is_down_does_not_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/robot/send"
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", url)
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "14")  # a trigger fires
    state = run(make_inbox(tmp_path / "inbox"), tmp_path / "wh")
    assert state.is_completed()
    summary = state.result()
    assert summary.files_loaded == 6
    problems = [w for w in summary.warnings if w.startswith(notify_send.NOT_SENT)]
    assert [p.partition("（")[2].partition(" → ")[0] for p in problems] == ["本周通报已入库", "通报停更提醒"]
    assert all(f" → webhook {url}）：URLError: " in p for p in problems), problems


@flow_test
@pytest.mark.slow  # end to end; the triggers' rules and the post are fast tests below
def test_no_url_no_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULLETINS_NOTIFY_URL", raising=False)
    calls: list[object] = []
    monkeypatch.setattr(notify_send, "post", lambda *args, **kwargs: calls.append(args))
    assert run(make_inbox(tmp_path / "inbox"), tmp_path / "wh").is_completed()
    assert calls == []
    assert not (tmp_path / "wh" / "notify-state.json").exists()


# --- the triggers' rules and the post, on warehouses built without Prefect -------------


def _run_notices(db: Path, min_streak: int, weeks: bool = False) -> list[messages.Notice]:
    """What a run that loaded everything in this warehouse has to say (its batches; its weeks if `weeks`)."""
    batch_ids = [b for (b,) in query(db, "select distinct batch_id from ingest.files")]
    loaded = [w for (w,) in query(db, "select distinct week_start from marts.city_week_performance")]
    with connection(db, read_only=True) as con:
        notices = notify.run_notices(con, batch_ids, loaded, min_streak)
    return notices if weeks else [n for n in notices if n.trigger != "week_loaded"]


@pytest.fixture(scope="module")
def bundled(bundled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled inbox's six clean weeks."""
    return copy_bundled(bundled_template, tmp_path_factory.mktemp("notify"))


def test_six_clean_weeks_say_only_that_the_week_is_in(bundled: Path) -> None:
    [notice] = _run_notices(bundled, Settings.resolve().notify_streak_weeks, weeks=True)
    assert notice.trigger == "week_loaded"
    assert notice.title == "【数字城管周报】本周通报已入库"
    # marts.city_week_performance, 2021-01-18: 0.9204 (+0.1105 pp), overdue 46 (+1), 3 units listed;
    # the one unit that entered the list had nothing overdue the week before.
    assert notice.text_lines == (
        "驻马店 2021年1月18日—1月24日",
        "- 结案率 92.04%（较上周 +0.11 个百分点）",
        "- 超时未办结 46 件（较上周 +1）",
        "- 通报所列单位 3 个",
        "- 新出现超时未办结的单位：市豫资市政设施管理有限公司",
        "- 另有 5 周较早的通报一并入库",
    )
    assert notice.markdown_lines[0] == "**驻马店** 2021年1月18日—1月24日"


def test_the_week_loaded_names_the_units_newly_overdue_and_the_report(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        weeks = [w for (w,) in con.execute("select week_start from marts.city_week_performance").fetchall()]
        [week] = notify_readers.weeks_loaded(con, weeks)
        newly = [
            u
            for (u,) in con.execute(
                "select unit_name from marts.unit_week_performance where week_start = ? and list_change = 'entered'",
                [week.week_start],
            ).fetchall()
        ]
    assert week.newly_overdue == newly == ["市豫资市政设施管理有限公司"]  # Zhumadian: newly listed = newly overdue
    link = "http://reports.example:8080/reports/report-2021-01-18.html"
    notice = messages.week_loaded(week, link)
    assert notice.text_lines[-1] == f"周报：{link}"
    assert notice.markdown_lines[-1] == f"[查看周报]({link})"
    assert messages.report_for(week, ["/wh/reports/report-2021-01-11.html", "/wh/reports/report-2021-01-18.html"]) == (
        "/wh/reports/report-2021-01-18.html"
    )


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
    [notice] = _run_notices(db, 4)
    assert notice.trigger == "long_streak"
    assert notice.text.startswith(
        "【数字城管周报】2 个单位连续上榜 4 周及以上\n- 驻马店 2020-12-28 起一周：中国电信驻马店分公司"
    )


def test_a_stale_feed_is_an_alert_in_chinese(bundled: Path) -> None:
    with connection(bundled, read_only=True) as con:
        on = notify.stale_feeds(read_freshness(con, dt.date(2021, 3, 1), 14))
    assert list(on) == ["feed_stale:驻马店"]
    assert on["feed_stale:驻马店"]["days"] == 36


def test_quarantined_and_partial_files_of_the_run_are_listed_in_chinese(tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", ["000_3e19ef32d54e8472.txt"])
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "binary.txt").write_bytes(b"\0\0\0\0binary")
    lines = (inbox / "000_3e19ef32d54e8472.txt").read_text(encoding="utf-8").split("\n")
    (inbox / "2020-12-30_cut.txt").write_text("\n".join(lines[:111]), encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    [notice] = _run_notices(db, 99)
    assert notice.trigger == "files_need_attention"
    assert notice.title == "【数字城管周报】本次运行有 3 个文件需要查看"
    assert notice.text_lines[0].startswith("- 2020-12-30_cut.txt（部分入库）：第 1 则通报（2020-12-14）：")
    assert notice.text_lines[1].startswith("- binary.txt（已隔离）：不是文本")
    assert notice.text_lines[2].startswith("- empty.txt（已隔离）：空文件")
    assert "not text: NUL" not in notice.text
    # Files of earlier runs are not this run's news.
    with connection(db, read_only=True) as con:
        assert notify.run_notices(con, ["an-earlier-batch"], [], 99) == []


@pytest.mark.scenario
def test_a_file_held_out_by_a_data_test_or_kept_partial_by_a_warehouse_rule_is_notified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notifications read each file's state where the run's summary does (core.files): the
    parser loaded both pages whole, the warehouse did not."""
    from testdata import SAMPLE_PAGE

    from flows.warehouse import datatests
    from flows.warehouse.readers.status import batches_outcome

    real_tests = datatests.data_tests

    def with_a_planted_bug(sql_dir: Path | None = None) -> list[datatests.DataTest]:
        query = "select bulletin_id, file_sha256 from core.bulletins where received = 4853"
        return [*real_tests(sql_dir), datatests.DataTest("planted_bug", query, Path("planted_bug.sql"))]

    monkeypatch.setattr(datatests, "data_tests", with_a_planted_bug)
    sample = SAMPLE_PAGE.read_text(encoding="utf-8")
    inbox = make_inbox(tmp_path / "inbox", [SAMPLE_PAGE.name])
    (inbox / "2020-12-31_sentinel.txt").write_text(sample.replace("案件4852件", "案件4853件"), encoding="utf-8")
    # One unit under two spellings: passes the parser, breaks core.bulletin_checks.
    alias_twice = sample.replace("驿城区政府\t1013件\t8件", "驿城区政府\t1000件\t5件\n驿城区人民政府\t13件\t3件")
    alias_twice = alias_twice.replace("存在超时未办结案件的单位共9个", "存在超时未办结案件的单位共10个")
    (inbox / "2020-12-30_alias_twice.txt").write_text(alias_twice, encoding="utf-8")
    db = load_without_prefect(inbox, tmp_path / "wh")
    assert query(db, "select path, status from ingest.files where path like '2020-12-3%' order by path") == [
        ("2020-12-30_alias_twice.txt", "loaded"),
        ("2020-12-31_sentinel.txt", "loaded"),
    ]
    [notice] = _run_notices(db, 99)
    assert notice.trigger == "files_need_attention"
    assert notice.title == "【数字城管周报】本次运行有 2 个文件需要查看"
    assert notice.text_lines[0] == (
        "- 2020-12-30_alias_twice.txt（部分入库）：第 1 则通报（2020-12-14）："
        "units_unique_after_aliases：驿城区政府 写作 驿城区政府 和 驿城区人民政府"
    )
    assert notice.text_lines[1].startswith("- 2020-12-31_sentinel.txt（已隔离）：暂不入库：数据测试 planted_bug")
    assert "held out" not in notice.text
    # The same files, statuses and reasons as the run's summary reads.
    batch_ids = [b for (b,) in query(db, "select distinct batch_id from ingest.files")]
    with connection(db, read_only=True) as con:
        problems = batches_outcome(con, batch_ids).problems
        assert notify_readers.problem_files_in_batches(con, batch_ids) == problems
        assert query(db, "select status_by from core.files where path like '2020-12-3%' order by path") == [
            ("warehouse_check",),
            ("data_test",),
        ]


def test_a_notice_is_posted_to_a_plain_webhook_as_one_json_text_message() -> None:
    receiver = Receiver()
    try:
        notice = messages.Notice("feed_stale", "【数字城管周报】通报可能已停止更新", ("- 驻马店",), ("- **驻马店**",))
        assert notify_send.post(receiver.url, notice) is None
    finally:
        receiver.close()
    assert receiver.received == [
        {
            "content_type": "application/json; charset=utf-8",
            "body": {"msgtype": "text", "text": {"content": "【数字城管周报】通报可能已停止更新\n- 驻马店"}},
        }
    ]


def test_a_receiver_that_is_down_is_a_reason_not_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/robot/send"
    problem = notify_send.post(url, messages.Notice("feed_stale", "text"), timeout_s=5)
    assert problem is not None and problem.startswith(f"通知未发出（通报停更提醒 → webhook {url}）：")


# --- a post is bounded in time and never shows the webhook's secrets ---------------------


def test_a_receiver_that_answers_500_is_a_reason_without_the_secrets() -> None:
    receiver = Answering(status=500)
    try:
        problem = notify_send.post(receiver.url, messages.Notice("feed_stale", "text"))
    finally:
        receiver.close()
    port = receiver.server.server_port
    assert problem == (
        f"通知未发出（通报停更提醒 → webhook http://127.0.0.1:{port}/cgi-bin/webhook/send?key=***&access_token=***）："
        "HTTP 500 Internal Server Error"
    )


def test_a_webhook_that_answers_200_with_an_errcode_did_not_take_the_message() -> None:
    receiver = Answering(status=200)  # {"errcode":310000,"errmsg":"keywords not in content"}
    try:
        problem = notify_send.post(receiver.url, messages.Notice("feed_stale", "text"))
    finally:
        receiver.close()
    assert problem is not None and problem.endswith("：errcode 310000: keywords not in content"), problem


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_unreachable_receiver_is_a_reason_without_the_secrets(scheme: str) -> None:
    port = free_port()
    problem = notify_send.post(
        f"{scheme}://127.0.0.1:{port}/send?{SECRET_URL_QUERY}", messages.Notice("feed_stale", "text")
    )
    assert problem is not None and problem.startswith(
        f"通知未发出（通报停更提醒 → webhook {scheme}://127.0.0.1:{port}/send?key=***&access_token=***）：URLError: "
    ), problem
    assert "refused" in problem and "SECRET" not in problem


def test_a_password_in_the_url_is_masked() -> None:
    url = f"http://bot:PASSWORD789@127.0.0.1:{free_port()}/send?{SECRET_URL_QUERY}"
    problem = notify_send.post(url, messages.Notice("feed_stale", "text"))
    assert problem is not None and problem.startswith("通知未发出（通报停更提醒 → webhook http://***@127.0.0.1:")
    for secret in ("SECRET123", "SECRET456", "PASSWORD789", "bot:"):
        assert secret not in problem, problem


@pytest.mark.parametrize(
    "url",
    [
        "oapi.dingtalk.com/robot/send?access_token=SECRET456",  # no scheme
        "ftp://example.invalid/send?key=SECRET123",
        "http://[::1/send?key=SECRET123",
    ],
)
def test_a_malformed_url_is_a_reason_not_an_error_and_keeps_its_secret(url: str) -> None:
    problem = notify_send.post(url, messages.Notice("run_failed", "text"), deadline_s=5)
    assert problem is not None and problem.startswith("通知未发出（运行失败提醒）：地址不可用")
    assert "SECRET" not in problem, problem


def test_a_receiver_that_drips_its_answer_is_cut_at_the_deadline() -> None:
    # The socket timeout (5 s) is never reached: a byte comes every 0.2 s.
    receiver = Answering(drip_every_s=0.2)
    try:
        started = time.monotonic()
        problem = notify_send.post(receiver.url, messages.Notice("long_streak", "text"), timeout_s=5, deadline_s=1.5)
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert 1.4 < took < 3.0
    assert problem is not None
    assert problem.endswith("：no complete answer within 1.5 s")
    assert "SECRET" not in problem


def test_a_runs_posts_share_one_budget() -> None:
    receiver = Answering(drip_every_s=0.2)
    notices = [messages.Notice(t, "text") for t in ("files_need_attention", "week_loaded", "long_streak")]
    try:
        started = time.monotonic()
        problems = notify_send.post_all(receiver.url, notices, budget_s=2.0, deadline_s=1.5)
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert took < 3.5
    assert [p.partition(" → ")[0] for p in problems] == [f"通知未发出（{messages.TRIGGERS[n.trigger]}" for n in notices]
    assert problems[0].endswith("no complete answer within 1.5 s")
    assert problems[-1].endswith("the run's 2 s for notifications were spent")
    assert all("SECRET" not in p for p in problems)


def test_a_failed_runs_reason_is_chinese_and_masks_any_url_it_quotes() -> None:
    """The words follow what the run raised, by its type (never by the text of a message)."""
    from urllib.error import URLError

    import duckdb

    from flows.warehouse.db import WarehouseDamaged
    from flows.warehouse.locks import WarehouseLocked

    words, cause = messages.failure_reason(
        URLError("cannot post to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET123")
    )
    assert words == "读写文件出错"  # URLError is an OSError
    assert "SECRET123" not in cause and cause.startswith("URLError: ") and "send?key=***" in cause
    assert messages.failure_reason(WarehouseLocked("held by pid 7")) == (
        "数据库文件被其他程序占用，等待超时",
        "WarehouseLocked: held by pid 7",
    )
    # A message that names another failure does not change the words: the type does.
    assert messages.failure_reason(WarehouseDamaged("wh.duckdb", "WarehouseLocked: not this one"))[0] == (
        "数据库文件已损坏，可用 bulletins rebuild 从数据湖重建"
    )
    assert messages.failure_reason(PermissionError(13, "Permission denied"))[0] == "没有读写文件的权限"
    assert messages.failure_reason(duckdb.IOException("could not write"))[0] == "数据库出错"
    assert messages.failure_reason(KeyError("x"))[0] == "程序出错"
    # A crashed run raised nothing the hook can see: its state's message is all there is.
    assert messages.failure_reason("Execution was aborted by an interrupt signal.")[0] == "运行意外中止"


def test_a_connection_made_after_the_deadline_is_cut_at_once() -> None:
    # A slow connect (a slow DNS, a full backlog) can finish after the post gave up: its
    # socket must not then sit reading a dripping receiver.
    ours, peer = socket.socketpair()
    with ours, peer:
        sockets = notify_send._Sockets()
        sockets.cut()
        sockets.add(ours)
        peer.settimeout(2)
        assert peer.recv(1) == b""  # shut down: the peer reads the end of the stream


def test_a_report_is_named_by_its_http_address_while_serve_serves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/srv/wh/reports/report-2021-01-18.html"
    monkeypatch.setattr(flow, "report_url", lambda p: f"http://10.0.0.5:4201/reports/{p.name}")
    assert flow._report_link(path) == "http://10.0.0.5:4201/reports/report-2021-01-18.html"
    monkeypatch.setattr(flow, "report_url", lambda p: p.as_uri())  # not served: a file:// link opens nowhere else
    assert flow._report_link(path) == path
