"""Webhook receivers on 127.0.0.1 for the notification tests: one that fails, one that drips."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A receiver URL's credentials, as DingTalk (access_token) and WeCom (key) put them.
SECRET_URL_QUERY = "key=SECRET123&access_token=SECRET456"


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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
