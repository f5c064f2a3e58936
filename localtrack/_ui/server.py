"""The dashboard's HTTP server: checks Host and token, then routes each GET to its endpoint.

The standard library's ThreadingHTTPServer (a thread per connection, HTTP/1.1 keep-alive,
Nagle off). Every answer carries the security headers of docs/UI.md. Endpoints live beside
their views (runs.py, scalars.py, live.py, static_files.py); nothing here reads the store.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import duckdb

from localtrack._ui import aggregate, auth, params, views
from localtrack._ui.answer import Answer, BadRequest, NotFound, error, json_answer
from localtrack._ui.downloads import csv_answer, parquet_answer
from localtrack._ui.live import live_answer
from localtrack._ui.runs import run_answer, runs_answer
from localtrack._ui.scalars import series_answer, tags_answer
from localtrack._ui.snapshot import Snapshot, Snapshots, query_with_retry
from localtrack._ui.static_files import StaticFile, StaticFiles, accepts_gzip, etag_matches

Work = Callable[[Snapshot, duckdb.DuckDBPyConnection, dict[str, str]], Answer]

VIEW_MODULES = views.discover()
QUERIES: dict[str, Work] = {
    "/api/tags": tags_answer,
    "/api/series": series_answer,
    "/api/run": lambda snap, cur, q: run_answer(snap, cur, params.run_id(q.get("id"))),
    **aggregate.QUERIES,
    **views.routes(VIEW_MODULES, "QUERIES"),
}
STREAMS: dict[str, Work] = {
    "/api/series.csv": csv_answer,
    "/api/series.parquet": parquet_answer,
    **views.routes(VIEW_MODULES, "STREAMS"),
}
VIEWS_ANSWER = {"views": views.listing(VIEW_MODULES)}


class DashboardHTTPServer(ThreadingHTTPServer):
    """Serves one runs root's snapshots; remembers its open connections to close them on stop."""

    daemon_threads = True

    def __init__(self, host: str, port: int, snapshots: Snapshots, token: str | None) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.bound_host = host
        self.snapshots = snapshots
        self.token = token
        self.static = StaticFiles()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((host, port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that closes a tab mid-answer is normal: no traceback for that."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: DashboardHTTPServer

    def version_string(self) -> str:
        return "localtrack-ui"

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a dashboard polled twice a second would flood the terminal

    def do_GET(self) -> None:
        self.handle_get(send_body=True)

    def do_HEAD(self) -> None:
        self.handle_get(send_body=False)

    def handle_get(self, send_body: bool) -> None:
        self.send_body = send_body
        target = self.path.partition("#")[0]
        path, _, query = target.partition("?")
        answer = self.route(path, query)
        if answer is not None:
            self.send(answer)

    def route(self, path: str, query: str) -> Answer | None:
        api = path.startswith("/api/")
        if not auth.host_allowed(self.headers.get("Host"), self.server.bound_host):
            return self.refuse(
                403, "this server answers only requests addressed to its own host", api
            )
        if path == "/favicon.ico":
            found = self.server.static.get("favicon.ico")
            return Answer(204, b"") if found is None else self.static_answer(found)
        token = self.server.token
        if not auth.authorized(
            token, query, self.headers.get("Cookie"), self.headers.get("Authorization")
        ):
            return self.refuse(401, auth.UNAUTHORIZED_TEXT.strip(), api)
        if token is not None and path == "/" and auth.query_token(query) is not None:
            return Answer(
                302,
                b"",
                "text/plain; charset=utf-8",
                [
                    ("Location", auth.without_token(path, query)),
                    ("Set-Cookie", auth.set_cookie_header(token)),
                ],
            )
        if path == "/":
            return self.static_answer(self.server.static.index())
        if path.startswith("/static/"):
            found = self.server.static.get(path[len("/static/") :])
            return (
                self.refuse(404, "no such file", False)
                if found is None
                else self.static_answer(found)
            )
        if api:
            return self.api(path, params.parse(query))
        return self.refuse(404, "no such page", False)

    def refuse(self, status: int, message: str, api: bool) -> Answer:
        if api:
            return error(status, message)
        return Answer(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def static_answer(self, found: StaticFile) -> Answer:
        gz = found.gzipped is not None and accepts_gzip(self.headers.get("Accept-Encoding"))
        etag = found.etag[:-1] + '-gz"' if gz else found.etag
        headers = [("ETag", etag), ("Cache-Control", "no-cache"), ("Vary", "Accept-Encoding")]
        if etag_matches(self.headers.get("If-None-Match"), etag):
            return Answer(304, b"", found.content_type, headers)
        if gz:
            headers.append(("Content-Encoding", "gzip"))
            return Answer(200, found.gzipped or b"", found.content_type, headers)
        return Answer(200, found.body, found.content_type, headers)

    def api(self, path: str, query: dict[str, str]) -> Answer | None:
        snapshots = self.server.snapshots
        try:
            if path == "/api/live":
                return live_answer(snapshots, query)
            if path == "/api/views":
                return json_answer(VIEWS_ANSWER)
            if path == "/api/runs":
                with snapshots.hold() as snap:
                    return runs_answer(snap, self.headers.get("If-None-Match"))
            work = QUERIES.get(path)
            if work is not None:
                return query_with_retry(  # type: ignore[no-any-return]
                    snapshots, lambda snap, cur: work(snap, cur, query)
                )
            streamed = STREAMS.get(path)
            if streamed is not None:
                with snapshots.cursor() as (snap, cur):
                    self.send(streamed(snap, cur, query))
                return None
            return error(404, f"no endpoint {path}")
        except BadRequest as e:
            return error(400, str(e))
        except NotFound as e:
            return error(404, str(e).strip("'\""))
        except Exception as e:  # one bad request never takes the connection down
            text = str(e).strip().splitlines()
            return error(500, text[0] if text else type(e).__name__)

    def send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        for name, value in auth.SECURITY_HEADERS:
            self.send_header(name, value)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.stream is None:
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.send_body and answer.status not in (204, 304):
                self.wfile.write(answer.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not self.send_body:
            self.wfile.write(b"0\r\n\r\n")
            return
        try:
            for chunk in answer.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (duckdb.Error, OSError):
            self.close_connection = True  # the client sees a cut-off body, not a bad one
