"""Receivers on 127.0.0.1 for the notification tests: a webhook that fails or drips, chat bots that
answer like WeCom, DingTalk and Feishu (errcode, 加签, size limits), an SMTP server."""

from __future__ import annotations

import base64
import email
import email.message
import hashlib
import hmac
import json
import socket
import socketserver
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A receiver URL's credentials, as DingTalk (access_token) and WeCom (key) put them.
SECRET_URL_QUERY = "key=SECRET123&access_token=SECRET456"
# How often a receiver's serve_forever looks for shutdown(): its default, 0.5 s, made each
# receiver's close (one per test) wait up to that long.
POLL_S = 0.01


class Answering:
    """A receiver on 127.0.0.1 that answers every post with `status` (or drips its answer)."""

    def __init__(self, status: int = 500, drip_every_s: float | None = None) -> None:
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if drip_every_s is None:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"errcode":310000,"errmsg":"keywords not in content"}')
                    return
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10_000:  # a byte at a time, never done
                    if stop.wait(drip_every_s):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/webhook/send?{SECRET_URL_QUERY}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- chat bots that answer like the real ones

WECOM_KEY = "wecomKEY0123456789"
DINGTALK_TOKEN = "dingTOKEN0123456789"
DINGTALK_SECRET = "SECdingSECRET0123456789"
FEISHU_TOKEN = "feishu-TOKEN-0123456789"
FEISHU_SECRET = "feishuSECRET0123456789"


class ChatBot:
    """A WeCom, DingTalk or Feishu bot on 127.0.0.1 that checks a post the way the service does.

    It answers HTTP 200 with the service's JSON, a refusal included: WeCom errcode 93000 for a
    wrong key and 45002 for content over 2,048 (text) / 4,096 (markdown) bytes; DingTalk
    310000 for a signature (加签) that does not verify with the secret or a keyword missing,
    460101 for a message over 20,000 bytes; Feishu code 19021 for a bad signature. `refuse`
    makes it answer every post with that errcode (set it to None to take posts again).
    """

    def __init__(self, kind: str, *, secret: str | None = None, keyword: str | None = None, refuse: int | None = None):
        self.kind = kind
        self.received: list[dict] = []
        self.paths: list[str] = []
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                bot.paths.append(self.path)
                answer = bot.answer(self.path, body, raw) if bot.refuse is None else bot.refusal(bot.refuse)
                if answer.get("errcode", answer.get("code")) == 0:
                    bot.received.append(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.secret, self.keyword = secret, keyword
        self.refuse = refuse  # may be changed while it runs: a bot that is down, then back
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_port
        self.url = {
            "wecom": f"wecom+http://127.0.0.1:{port}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "dingtalk": f"dingtalk+http://127.0.0.1:{port}/robot/send?access_token={DINGTALK_TOKEN}"
            + (f"&secret={secret}" if secret else ""),
            "feishu": f"feishu+http://127.0.0.1:{port}/open-apis/bot/v2/hook/{FEISHU_TOKEN}"
            + (f"?secret={secret}" if secret else ""),
        }[kind]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True).start()

    def refusal(self, code: int) -> dict:
        if self.kind == "feishu":
            return {"code": code, "msg": "refused", "data": {}}
        return {"errcode": code, "errmsg": f"refused, hint: [x], more info at https://open.example/e?e={code}"}

    def answer(self, path: str, body: dict, raw: bytes) -> dict:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        if self.kind == "wecom":
            if query.get("key") != WECOM_KEY:
                return {"errcode": 93000, "errmsg": "invalid webhook url"}
            kind = body.get("msgtype")
            content = body.get(kind, {}).get("content", "")
            if len(content.encode()) > {"text": 2048, "markdown": 4096}.get(kind, 0):
                return {"errcode": 45002, "errmsg": "content exceed max length"}
            return {"errcode": 0, "errmsg": "ok"}
        if self.kind == "dingtalk":
            if query.get("access_token") != DINGTALK_TOKEN or "secret" in query:
                return {"errcode": 300001, "errmsg": "token is not exist"}
            if self.secret is not None:
                timestamp = query.get("timestamp", "0")
                expected = base64.b64encode(
                    hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
                ).decode()
                # parse_qsl decoded the URL-encoded sign once, as DingTalk does.
                fresh = abs(time.time() * 1000 - int(timestamp)) < 3_600_000
                if query.get("sign") != expected or not fresh:
                    return {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com]"}
            if len(raw) > 20_000:
                return {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
            if self.keyword and self.keyword not in raw.decode():
                return {"errcode": 310000, "errmsg": "keywords not in content"}
            return {"errcode": 0, "errmsg": "ok"}
        if not path.endswith(f"/hook/{FEISHU_TOKEN}"):
            return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
        if self.secret is not None:
            timestamp = str(body.get("timestamp", "0"))
            expected = base64.b64encode(
                hmac.new(f"{timestamp}\n{self.secret}".encode(), b"", hashlib.sha256).digest()
            ).decode()
            if body.get("sign") != expected or abs(time.time() - int(timestamp)) > 3600:
                return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if len(raw) > 20 * 1024:
            return {"code": 9499, "msg": "Bad Request"}
        return {"code": 0, "msg": "success", "data": {}}

    def contents(self) -> list[str]:
        """The text each accepted post carried (markdown or text, card or not)."""
        found = []
        for body in self.received:
            if "card" in body:
                found.append(body["card"]["elements"][0]["text"]["content"])
            else:
                kind = body["msgtype"]
                found.append(body[kind].get("content") or body[kind].get("text"))
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- an SMTP server

SMTP_USER, SMTP_PASSWORD = "bot@example.cn", "MAILpassword0123"


class SmtpReceiver:
    """A small SMTP server on 127.0.0.1 (what smtplib and apprise speak: EHLO, AUTH PLAIN/LOGIN,
    MAIL, RCPT, DATA, QUIT) that keeps each message; a wrong password gets 535, like a real one."""

    def __init__(self, password: str = SMTP_PASSWORD) -> None:
        self.messages: list[email.message.Message] = []
        self.logins: list[tuple[str, str]] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())
                self.wfile.flush()

            def read(self) -> str:
                return self.rfile.readline().decode("utf-8", errors="replace").rstrip("\r\n")

            def handle(self) -> None:
                self.reply("220 127.0.0.1 ESMTP test")
                authed = False
                while True:
                    line = self.read()
                    if not line and self.rfile.closed:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "":
                        return
                    if verb == "EHLO":
                        self.reply("250-127.0.0.1")
                        self.reply("250-AUTH PLAIN LOGIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 127.0.0.1")
                    elif verb == "AUTH":
                        parts = line.split()
                        if parts[1].upper() == "PLAIN":
                            blob = parts[2] if len(parts) > 2 else (self.reply("334 ") or self.read())
                            _, user, given = base64.b64decode(blob).decode().split("\0")
                        else:
                            self.reply("334 VXNlcm5hbWU6")
                            user = base64.b64decode(self.read()).decode()
                            self.reply("334 UGFzc3dvcmQ6")
                            given = base64.b64decode(self.read()).decode()
                        receiver.logins.append((user, given))
                        authed = given == password
                        self.reply("235 2.7.0 ok" if authed else "535 5.7.8 authentication failed")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 ok" if authed else "530 5.7.0 authentication required")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        lines = []
                        while (data := self.read()) != ".":
                            lines.append(data[1:] if data.startswith("..") else data)
                        receiver.messages.append(email.message_from_string("\n".join(lines)))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True).start()

    def url(self, password: str = SMTP_PASSWORD) -> str:
        user = urllib.parse.quote(SMTP_USER, safe="")
        return (
            f"mailto://{user}:{password}@127.0.0.1:{self.port}?to=office@example.cn&from=bot@example.cn&mode=insecure"
        )

    def bodies(self) -> list[str]:
        """Each message's text (its parts decoded)."""
        found = []
        for message in self.messages:
            parts = message.walk() if message.is_multipart() else [message]
            texts = []
            for part in parts:
                payload = part.get_payload(decode=True)
                if payload:
                    texts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
            found.append("\n".join(texts))
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
