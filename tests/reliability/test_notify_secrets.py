"""Issue 18, notifications: the secrets of several targets at once reach no log, warning, artifact,
console line or file, whatever the targets answer.

Four targets in BULLETINS_NOTIFY_URL, each with its own secret: a WeCom bot whose key is
refused (errcode 93000), a DingTalk robot signed with the wrong 加签 secret (310000), a
Feishu bot that takes the messages and one that refuses them (19001; the token is a path
part, not a query value), and a
mailbox whose SMTP password is refused (535). A good run, then a failed run, then a good
run again; every log record at DEBUG (apprise's own
included), every Python warning, the console, the runs' warnings, their Prefect logs and
artifacts and every file of the warehouse are searched for each secret.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from pipeline_helpers import make_inbox
from webhooks import DINGTALK_TOKEN, FEISHU_TOKEN, WECOM_KEY, ChatBot, SmtpReceiver

from flows.orchestration import flow

DING_SECRET = "SECwrongDINGsecret42"  # the robot checks another
MAIL_PASSWORD = "WRONGmailPASS42"


def _prefect_texts(run_ids: list) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the runs' logs reach the API before they are read
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=run_ids)))
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)))
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)))
    texts = [log.message for log in logs] + [r.state.message or "" for r in runs if r.state is not None]
    for artifact in artifacts:
        texts += [str(artifact.data), artifact.description or ""]
    return texts


@pytest.mark.slow  # three flow runs; the fast tests of each channel's secrets are in tests/test_notify_channels.py
@pytest.mark.usefixtures("prefect_harness")
def test_18_no_secret_of_any_target_leaks(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    reliability,
) -> None:
    wecom, ding = ChatBot("wecom", refuse=93000), ChatBot("dingtalk", secret="SECtheRIGHTone")
    feishu, refusing, mail = ChatBot("feishu"), ChatBot("feishu", refuse=19001), SmtpReceiver()
    wrong_secret = ding.url.replace("SECtheRIGHTone", DING_SECRET)
    addresses = [wecom.url, wrong_secret, feishu.url, refusing.url, mail.url(MAIL_PASSWORD)]
    secrets = [WECOM_KEY, DINGTALK_TOKEN, DING_SECRET, "SECtheRIGHTone", FEISHU_TOKEN, MAIL_PASSWORD]
    monkeypatch.setenv("BULLETINS_NOTIFY_URL", ", ".join(addresses))
    monkeypatch.setenv("BULLETINS_STALE_AFTER_DAYS", "14")  # the 2021 weeks are stale: an alert
    apprise_records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            apprise_records.append(self.format(record))

    keep = Keep(level=logging.DEBUG)
    logging.getLogger("apprise").addHandler(keep)
    caplog.set_level(logging.DEBUG)
    inbox, wh = make_inbox(tmp_path / "inbox"), tmp_path / "wh"
    states = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            states.append(flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True))

            def broken(*args: object, **kwargs: object) -> bool:
                raise RuntimeError("disk on fire")

            with monkeypatch.context() as patch:
                patch.setattr(flow.build, "load_and_build", broken)
                (inbox / "2099-01-01_new.txt").write_text("新的一页", encoding="utf-8")
                states.append(flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True))
            states.append(flow.bulletin_etl(inbox=str(inbox), warehouse=str(wh), return_state=True))
    finally:
        logging.getLogger("apprise").removeHandler(keep)
        for receiver in (wecom, ding, feishu, refusing, mail):
            receiver.close()
    assert [s.is_completed() for s in states] == [True, False, True]
    printed = capsys.readouterr()
    run_warnings = [w for s in states if s.is_completed() for w in s.result().warnings]
    texts = {
        "console": [printed.out, printed.err],
        "log records": [r.getMessage() for r in caplog.records] + apprise_records,
        "python warnings": [str(w.message) for w in caught],
        "run warnings": run_warnings,
        "prefect logs and artifacts": _prefect_texts([s.state_details.flow_run_id for s in states]),
        "warehouse files": [
            p.read_bytes().decode("utf-8", errors="replace")
            for p in wh.rglob("*")
            if p.is_file() and not p.is_symlink()
        ],
    }
    leaks = {where: [s for s in secrets if any(s in t for t in found)] for where, found in texts.items()}
    leaks = {where: found for where, found in leaks.items() if found}
    not_sent = [w for w in run_warnings if w.startswith("通知未发出")]
    channels_failing = {w.partition(" → ")[2].split(" ")[0] for w in not_sent}
    told = [c.partition("\n")[0] for c in feishu.contents()]
    reliability.record(
        "18 secrets of several notification targets",
        "WeCom key refused (93000), DingTalk signed with a wrong secret (310000), Feishu token in the path (one bot taking, one refusing), "
        "SMTP password refused (535); a good run, a failed run, a good run",
        f"secrets found in: {leaks or 'nowhere'}; not sent via {sorted(channels_failing)}; Feishu took {len(told)}",
        not leaks,
    )
    assert leaks == {}
    assert channels_failing == {"企业微信", "钉钉", "飞书", "邮件"}, not_sent
    assert any("errcode 93000" in w for w in not_sent) and any("errcode 310000" in w for w in not_sent)
    assert any("535" in w for w in not_sent)
    assert told == [
        "**【数字城管周报】本周通报已入库**",
        "**【数字城管周报】通报可能已停止更新**",
        "**【数字城管周报】运行失败**",
        "**【数字城管周报】已恢复：运行恢复正常**",
    ]
    assert not [w for w in caught if "imghdr" in str(w.message)]
