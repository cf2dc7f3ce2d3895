"""Each channel against a local receiver that answers like the real one: WeCom, DingTalk with 加签,
Feishu with 签名校验, e-mail over SMTP (apprise), and the targets BULLETINS_NOTIFY_URL names."""

from __future__ import annotations

import json

import pytest
from webhooks import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    SMTP_PASSWORD,
    WECOM_KEY,
    ChatBot,
    SmtpReceiver,
)

from flows.reporting import notices, notify_send
from flows.reporting.notify_channels import (
    DINGTALK,
    EMAIL,
    FEISHU,
    LARK,
    TRUNCATED,
    WEBHOOK,
    WECOM,
    TargetError,
    request,
    sendable_target,
    sendable_targets,
)

NOTICE = notices.Notice(
    "run_failed",
    "【数字城管周报】运行失败",
    ("原因：程序出错", "- 驻马店 [x](http://evil)"),
    ("原因：**程序出错**", "- 驻马店 \\[x\\](http\\://evil)"),
)


def long_notice(lines: int) -> notices.Notice:
    """A message far over every chat limit: `lines` lines of 60 Chinese characters (180 bytes each)."""
    body = tuple(f"- 第 {n} 行 " + "超" * 60 for n in range(lines))
    return notices.Notice("files_need_attention", "【数字城管周报】本次运行有很多文件需要查看", body, body)


# --- the addresses ------------------------------------------------------------------------


def test_several_addresses_in_one_variable_each_with_its_channel() -> None:
    text = (
        f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY},"
        f" https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}&secret={DINGTALK_SECRET}\n"
        f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}?secret={FEISHU_SECRET} "
        "https://open.larksuite.com/open-apis/bot/v2/hook/larkTOKEN123 "
        "https://hooks.example.org/notify?token=HOOKsecret1 "
        f"mailtos://bot%40example.cn:{SMTP_PASSWORD}@smtp.exmail.qq.com?to=a@example.cn,b@example.cn"
    )
    targets = sendable_targets(text)
    assert [t.channel for t in targets] == [WECOM, DINGTALK, FEISHU, LARK, WEBHOOK, EMAIL]
    wecom, dingtalk, feishu, lark, webhook, mail = targets
    assert dingtalk.secret == DINGTALK_SECRET and "secret" not in dingtalk.url  # never sent
    assert feishu.secret == FEISHU_SECRET and "secret" not in feishu.url
    assert mail.url.endswith("?to=a@example.cn,b@example.cn")  # a comma inside an address stays
    assert [t.shown for t in targets] == [
        "企业微信 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        "钉钉 https://oapi.dingtalk.com/robot/send?access_token=***",
        "飞书 https://open.feishu.cn/open-apis/bot/v2/hook/***",
        "Lark https://open.larksuite.com/open-apis/bot/v2/hook/***",
        "webhook https://hooks.example.org/notify?token=***",
        "邮件 mailtos://***@smtp.exmail.qq.com?to=***",
    ]
    assert (wecom.msgtype, dingtalk.msgtype, webhook.msgtype) == ("markdown", "markdown", "text")
    assert len({t.id for t in targets}) == 6
    for secret in (WECOM_KEY, DINGTALK_TOKEN, DINGTALK_SECRET, FEISHU_TOKEN, "larkTOKEN123", "HOOKsecret1"):
        assert all(secret not in t.id and secret not in t.shown for t in targets)
    assert lark.limit_bytes < 20 * 1024


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("oapi.dingtalk.com/robot/send?access_token=SECRET1", "has no scheme"),
        ("ftp://example.org/hook?key=SECRET1", "is a ftp:// address"),
        ("https://?access_token=SECRET1", "names no host"),
        ("https://example.org:99999999/hook?key=SECRET1", "is not a valid URL"),
        ("https://example.org/hook?key=SECRET1&secret=SECRET2", "only DingTalk and Feishu/Lark"),
        ("teams+https://example.org/hook?key=SECRET1", "unknown channel"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET1&msgtype=news", "msgtype=news"),
    ],
)
def test_an_address_that_cannot_be_sent_to_is_named_without_its_secret(address: str, reason: str) -> None:
    with pytest.raises(TargetError) as raised:
        sendable_targets(f"https://example.org/ok {address}")
    assert str(raised.value).startswith("address 2 ") and reason in str(raised.value)
    assert "SECRET" not in str(raised.value)


# --- WeCom ---------------------------------------------------------------------------------


def test_wecom_gets_markdown_and_its_refusal_is_a_failure_with_its_errmsg_not_its_key() -> None:
    bot = ChatBot("wecom")
    try:
        assert notify_send.post(bot.url, NOTICE) is None
        [body] = bot.received
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["content"] == (
            "**【数字城管周报】运行失败**\n\n原因：**程序出错**\n- 驻马店 \\[x\\](http\\://evil)"
        )
        wrong = notify_send.post(bot.url.replace(WECOM_KEY, "wrongKEY"), NOTICE)
    finally:
        bot.close()
    assert wrong is not None and wrong.endswith("：errcode 93000: invalid webhook url")
    assert "wrongKEY" not in wrong and WECOM_KEY not in wrong
    refused = ChatBot("wecom", refuse=93000)
    try:  # a refusal counts as not sent, whatever the HTTP status says
        assert notify_send.post(refused.url, NOTICE) is not None
    finally:
        refused.close()


@pytest.mark.parametrize(("msgtype", "limit"), [("markdown", 4096), ("text", 2048)])
def test_wecom_gets_a_long_message_cut_to_its_limit(msgtype: str, limit: int) -> None:
    bot = ChatBot("wecom")
    url = bot.url if msgtype == "markdown" else f"{bot.url}&msgtype=text"
    target = sendable_target(url)
    try:
        # The receiver enforces the limit: the whole message, unfitted, is refused with 45002.
        raw = {"msgtype": msgtype, msgtype: {"content": long_notice(40).text}}
        answer = _post_raw(target.url, raw)
        assert answer["errcode"] == 45002
        assert notify_send.post(target, long_notice(40)) is None
    finally:
        bot.close()
    [content] = bot.contents()
    assert len(content.encode()) <= limit
    assert content.endswith("\n" + TRUNCATED)
    assert len(content.encode()) > limit - 200  # whole lines kept while they fit


def _post_raw(url: str, body: dict) -> dict:
    import urllib.request

    request_ = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request_, timeout=5) as answer:
        return json.loads(answer.read())


# --- DingTalk ------------------------------------------------------------------------------


def test_dingtalk_with_jiaqian_signs_each_post_and_the_robot_verifies_it() -> None:
    bot = ChatBot("dingtalk", secret=DINGTALK_SECRET, keyword="数字城管周报")
    try:
        assert notify_send.post(bot.url, NOTICE) is None
        [body] = bot.received
        [path] = bot.paths
        assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "【数字城管周报】运行失败"
        assert "timestamp=" in path and "&sign=" in path and DINGTALK_SECRET not in path
        # The same robot with another secret configured: DingTalk's refusal, its errmsg, no secret.
        wrong = sendable_target(bot.url.replace(DINGTALK_SECRET, "SECotherSECRET999"))
        problem = notify_send.post(wrong, NOTICE)
    finally:
        bot.close()
    assert problem is not None and "：errcode 310000: sign not match" in problem
    assert "SECotherSECRET999" not in problem and DINGTALK_TOKEN not in problem


def test_dingtalk_gets_a_long_message_under_its_20000_bytes() -> None:
    bot = ChatBot("dingtalk", secret=DINGTALK_SECRET)
    try:
        assert _post_raw(sendable_target(bot.url).url, {"msgtype": "text", "text": {"content": long_notice(200).text}})[
            "errcode"
        ] in (310000, 460101)  # unsigned, or signed and too long: refused either way
        assert notify_send.post(bot.url, long_notice(200)) is None
    finally:
        bot.close()
    [content] = bot.contents()
    assert content.endswith(TRUNCATED) and len(content.encode()) <= 20_000


def test_a_dingtalk_robot_without_jiaqian_is_posted_unsigned() -> None:
    bot = ChatBot("dingtalk")
    try:
        assert notify_send.post(bot.url, NOTICE) is None
    finally:
        bot.close()
    assert "sign=" not in bot.paths[0]


# --- Feishu / Lark --------------------------------------------------------------------------


def test_feishu_gets_a_signed_card_and_its_code_is_checked() -> None:
    bot = ChatBot("feishu", secret=FEISHU_SECRET)
    try:
        assert notify_send.post(bot.url, NOTICE) is None
        [body] = bot.received
        assert body["msg_type"] == "interactive" and body["card"]["header"]["title"]["content"] == NOTICE.title
        problem = notify_send.post(sendable_target(bot.url.replace(FEISHU_SECRET, "otherSECRET999")), NOTICE)
    finally:
        bot.close()
    assert problem is not None and "：code 19021: sign match fail" in problem
    assert FEISHU_TOKEN not in problem and "otherSECRET999" not in problem


def test_a_signed_body_is_timed_by_the_clock_given() -> None:
    target = sendable_target(f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}?secret={FEISHU_SECRET}")
    _, body = request(target, NOTICE, 1_700_000_000.5)
    assert json.loads(body)["timestamp"] == "1700000000"


# --- e-mail through apprise ----------------------------------------------------------------


def test_email_goes_through_apprise_to_an_smtp_server() -> None:
    server = SmtpReceiver()
    try:
        assert notify_send.post(server.url(), NOTICE) is None
        problem = notify_send.post(server.url("WRONGpassword1"), NOTICE)
    finally:
        server.close()
    [message] = server.messages
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(message["Subject"]))) == "【数字城管周报】运行失败"
    [body] = server.bodies()
    assert "<strong>程序出错</strong>" in body  # the Markdown as HTML
    assert "<a " not in body  # a page's link stays text
    assert problem is not None and problem.startswith("通知未发出（运行失败提醒 → 邮件 mailto://***@127.0.0.1:")
    assert "535" in problem and "WRONGpassword1" not in problem and SMTP_PASSWORD not in problem


def test_an_email_address_apprise_cannot_use_is_a_reason() -> None:
    problem = notify_send.post(f"mailto://bot:{SMTP_PASSWORD}@127.0.0.1:1?to=office@example.cn", NOTICE, deadline_s=5)
    assert problem is not None and "apprise cannot use this address" in problem and SMTP_PASSWORD not in problem
