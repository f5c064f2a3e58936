"""Requests in flight: a pipeline keeps `depth` per run, and the daemon's slots cap them all.

The server here only counts how many requests it holds at once (each takes 30 ms); what the
real MLflow server stores is checked by the e2e tests.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from localtrack_daemon.aimd import FixedLimit
from localtrack_daemon.pipeline import Pipeline
from localtrack_daemon.remote import Remote


class CountingServer:
    def __init__(self) -> None:
        self.now = self.most = self.served = 0
        self.bodies: list[dict[str, object]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.now += 1
                    outer.most = max(outer.most, outer.now)
                time.sleep(0.03)
                with lock:
                    outer.now -= 1
                    outer.served += 1
                    outer.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = CountingServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _upload(remote: Remote, depth: int, n: int, acked: list[int]) -> None:
    pipe: Pipeline[int] = Pipeline(remote, depth)
    try:
        for i in range(n):
            acked += pipe.submit(json.dumps({"i": i}).encode(), i)
        acked += pipe.drain()
    finally:
        pipe.close()


def test_a_pipeline_keeps_two_in_flight_and_acknowledges_in_order(server):
    remote = Remote(server.url)
    acked: list[int] = []
    _upload(remote, 2, 12, acked)
    remote.close()
    assert acked == list(range(12))
    assert server.most == 2 and server.served == 12


def test_the_daemon_slots_cap_requests_over_all_runs(server):
    slots = FixedLimit(3)  # --concurrency fixed --max-in-flight 3
    remotes = [Remote(server.url, slots=slots) for _ in range(4)]  # four upload threads
    acked: list[list[int]] = [[] for _ in remotes]
    threads = [
        threading.Thread(target=_upload, args=(r, 2, 10, a))
        for r, a in zip(remotes, acked, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in remotes:
        r.close()
    assert all(a == list(range(10)) for a in acked)
    assert server.served == 40 and 2 <= server.most <= 3  # overlapping, never past the cap
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False)  # all given back
    assert slots.acquire(blocking=False)


class ClosingServer:
    """Answers the first request of each connection, then closes it, silently, when the next
    one arrives (as a server does whose keep-alive timeout fires just as a request goes out);
    with `idle_close_s` it also closes every connection that long after answering."""

    def __init__(self, idle_close_s: float | None = None) -> None:
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.idle_close_s = idle_close_s
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(body)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            if self.idle_close_s is not None:
                time.sleep(self.idle_close_s)
                return
            conn.recv(65536)  # the next request: closed unanswered

    def close(self) -> None:
        self.sock.close()


def test_a_request_the_server_dropped_on_a_kept_alive_connection_is_sent_again():
    server = ClosingServer()
    remote = Remote(server.url)
    try:
        for i in range(3):
            remote.log_batch(json.dumps({"i": i}))
    finally:
        remote.close()
        server.close()
    # 0 answered; 1 dropped on the kept-alive connection, then answered on a new one; 2 too
    assert [json.loads(b)["i"] for b in server.requests] == [0, 1, 2]


def test_a_connection_the_server_closed_while_idle_is_not_written_to():
    server = ClosingServer(idle_close_s=0.05)
    remote = Remote(server.url)
    try:
        remote.log_batch('{"i": 0}')
        time.sleep(0.3)  # the server has closed it by now
        lane = remote.lanes(1)[0]
        assert lane.send(b'{"i": 1}') and not lane._reused  # a new connection at once
        assert lane.receive() == (200, "{}")
    finally:
        remote.close()
        server.close()
    assert [json.loads(b)["i"] for b in server.requests] == [0, 1]
