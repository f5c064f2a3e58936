"""One keep-alive connection for log-batch requests, with sending and receiving split.

Splitting them lets one thread keep several requests in flight (send on one lane, then read
the oldest lane's reply) with no sender threads to hand bodies to. A lane takes its connection
from the Remote's requests session, so proxies, TLS settings and credentials are the session's.
"""

from __future__ import annotations

import errno
from typing import NoReturn

import requests
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from localtrack._errors import RetryLater

WHAT = "runs/log-batch"


class Lane:
    """A connection of `session`'s pool to `url`; at most one request in flight."""

    def __init__(self, session: requests.Session, url: str, timeout: tuple[float, float]) -> None:
        prepared = session.prepare_request(requests.Request("POST", url))
        adapter = session.get_adapter(url)
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        pool = adapter.get_connection_with_tls_context(
            prepared, session.verify, session.proxies, cert=session.cert
        )
        assert isinstance(pool, HTTPConnectionPool)
        self.pool = pool
        self.target = adapter.request_url(prepared, session.proxies)
        self.headers = dict(prepared.headers)
        self.connect_s, self.read_s = timeout
        self.where = url
        self.conn: HTTPConnection | None = None
        self.in_flight = False

    def send(self, body: bytes) -> None:
        """Write one request; its reply is read by `receive()`."""
        assert not self.in_flight, "receive() the reply before sending again"
        conn = self.conn
        if conn is None:
            got = self.pool._get_conn()  # a kept-alive one, or a new one if it was dropped
            assert isinstance(got, HTTPConnection)
            conn = self.conn = got
        self.in_flight = True
        conn.timeout = self.connect_s
        try:
            if self.pool.proxy is not None and conn.sock is None:
                self.pool._prepare_proxy(conn)  # CONNECT tunnel through an HTTPS proxy
            conn.request(
                "POST",
                self.target,
                body=body,
                headers={**self.headers, "Content-Length": str(len(body))},
            )
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may have answered already (401, 413): receive() reads it
        except OSError as e:
            if e.errno != errno.EPROTOTYPE:
                self._fail(e)
        except urllib3.exceptions.HTTPError as e:
            self._fail(e)
        conn.timeout = self.read_s

    def receive(self) -> tuple[int, str]:
        """The reply to the request sent: its status and text (RetryLater when there is none)."""
        assert self.in_flight and self.conn is not None, "send() before receive()"
        try:
            reply = self.conn.getresponse()
            text = reply.data.decode("utf-8", errors="replace")
        except (OSError, urllib3.exceptions.HTTPError) as e:
            self._fail(e)
        self.in_flight = False
        if self.conn.is_closed:  # the server closed it (Connection: close)
            self.release()
        return reply.status, text

    def _fail(self, e: BaseException) -> NoReturn:
        self.close()
        if isinstance(e, (TimeoutError, urllib3.exceptions.TimeoutError)):
            raise RetryLater(f"{WHAT}: timed out ({type(e).__name__})") from None
        raise RetryLater(f"{WHAT}: cannot reach {self.where} ({type(e).__name__})") from None

    def release(self) -> None:
        """Give the connection back to the pool (closed first if a reply is still due)."""
        if self.in_flight:
            self.close()
            return
        if self.conn is not None:
            self.pool._put_conn(self.conn)
            self.conn = None

    def close(self) -> None:
        """Drop the connection, in flight or not; the pool opens a new one when asked."""
        if self.conn is not None:
            self.conn.close()
            self.pool._put_conn(None)
            self.conn = None
        self.in_flight = False
