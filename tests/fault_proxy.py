"""An HTTP proxy that misbehaves on purpose, in front of a real MLflow server.

Each request draws one fate: pass through, connection reset before or after the server handled
it (the reply is lost), an error status (500/503/429) before or after the server handled it,
or a stall longer than the client's timeout. Counts of each fate are kept.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FATES = ("pass", "reset_before", "reset_after", "500", "503_after", "429", "stall")


class FaultProxy:
    def __init__(
        self, upstream: str, fault_rate: float = 0.3, stall_s: float = 3.0, seed: int | None = None
    ) -> None:
        self.upstream = upstream
        self.fault_rate = fault_rate
        self.stall_s = stall_s
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.session = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_PUT = do_GET  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fate(self) -> str:
        with self.lock:
            f = "pass" if self.rng.random() >= self.fault_rate else self.rng.choice(FATES[1:])
            self.counts[f] += 1
            return f

    def forward(self, h: BaseHTTPRequestHandler, body: bytes) -> requests.Response:
        s = getattr(self.session, "s", None)
        if s is None:
            s = self.session.s = requests.Session()
        headers = {
            k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length")
        }
        return s.request(h.command, self.upstream + h.path, data=body, headers=headers, timeout=60)

    @staticmethod
    def reset(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()

    @staticmethod
    def reply(
        h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json"
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        fate = self.fate()
        if fate == "reset_before":
            return self.reset(h)
        if fate in ("500", "429"):
            return self.reply(
                h, int(fate), b'{"error_code": "INTERNAL_ERROR", "message": "injected"}'
            )
        if fate == "stall":
            time.sleep(self.stall_s)
            return self.reset(h)
        reply = self.forward(h, body)
        if fate == "reset_after":
            return self.reset(h)
        if fate == "503_after":
            return self.reply(h, 503, b"<html>Service Unavailable</html>", "text/html")
        self.reply(
            h,
            reply.status_code,
            reply.content,
            reply.headers.get("Content-Type", "application/json"),
        )
