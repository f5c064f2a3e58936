"""One keep-alive connection for log-batch requests, with sending and receiving split.

Splitting them lets one thread keep several requests in flight (send on one lane, then read
the oldest lane's reply) with no sender threads to hand bodies to. A lane takes its connection
from the Remote's requests session, so proxies, TLS settings and credentials are the session's.

Every request in flight holds one of the daemon's `slots` (`aimd.py`, shared by all upload
threads): MLflow's SQL store holds two pooled database connections per log-batch, and eight at
once exhaust its default pool of 15, which stalls every request for the pool's 30 s timeout.
Each slot goes back with what its request learned (status, latency, size, Retry-After, or a
timeout or reset), which is what the adaptive limit grows and shrinks on.
"""

from __future__ import annotations

import errno
import time
from typing import NoReturn

import requests
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

from localtrack._errors import RetryLater

from .aimd import FixedLimit, is_overload
from .tls import untrusted

WHAT = "runs/log-batch"


class Lane:
    """A connection of `session`'s pool to `url`; at most one request in flight."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        timeout: tuple[float, float],
        slots: FixedLimit | None = None,
    ) -> None:
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
        self.slots = slots
        self._body = b""
        self._reused = False
        self._sent_at = 0.0

    def send(self, body: bytes, *, wait: bool = True) -> bool:
        """Write one request (its reply is read by `receive()`), once a slot is free; with
        `wait=False`, return False at once when none is."""
        assert not self.in_flight, "receive() the reply before sending again"
        if self.slots is not None and not self.slots.acquire(blocking=wait):
            return False
        self.in_flight = True
        self._body = body
        self._sent_at = time.monotonic()
        self._reused = self._connect()
        self._write(body)
        return True

    def _connect(self) -> bool:
        """A connection to write on; True when it is a kept-alive one."""
        conn = self.conn
        if conn is not None and conn.sock is not None and not conn.is_connected:
            conn.close()  # the server closed it while it was idle; request() opens it again
        if conn is None:
            got = self.pool._get_conn()  # a kept-alive one, or a new one if it was dropped
            assert isinstance(got, HTTPConnection)
            conn = self.conn = got
        return conn.sock is not None

    def _write(self, body: bytes) -> None:
        conn = self.conn
        assert conn is not None
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
        """The reply to the request sent: its status and text (RetryLater when there is none).

        A kept-alive connection the server closed just as the request went out gives no reply
        at all: the request is then written once more on a new connection (log-batch requests
        are idempotent), as browsers do."""
        assert self.in_flight and self.conn is not None, "send() before receive()"
        try:
            return self._read()
        except ConnectionError as e:  # RemoteDisconnected, reset, broken pipe
            if not self._reused:
                self._fail(e)
        except (OSError, urllib3.exceptions.HTTPError) as e:
            self._fail(e)
        self.conn.close()
        self._reused = False
        self._write(self._body)
        try:
            return self._read()
        except (OSError, urllib3.exceptions.HTTPError) as e:
            self._fail(e)

    def _read(self) -> tuple[int, str]:
        assert self.conn is not None
        reply = self.conn.getresponse()
        text = reply.data.decode("utf-8", errors="replace")
        wait = reply.headers.get("Retry-After") if is_overload(reply.status) else None
        self._done(status=reply.status, retry_after=wait)
        if self.conn.is_closed:  # the server closed it (Connection: close)
            self.release()
        return reply.status, text

    def _fail(self, e: BaseException) -> NoReturn:
        refused = untrusted(e, self.where)
        self.close(failed=refused is None)  # a timeout or a reset: the server may be overloaded
        if refused is not None:
            raise refused from None
        if isinstance(e, (TimeoutError, urllib3.exceptions.TimeoutError)):
            raise RetryLater(f"{WHAT}: timed out ({type(e).__name__})") from None
        raise RetryLater(f"{WHAT}: cannot reach {self.where} ({type(e).__name__})") from None

    def _done(
        self, *, status: int | None = None, retry_after: str | None = None, failed: bool = False
    ) -> None:
        """The request is over: its slot goes back with what it learned (nothing when we
        dropped it ourselves)."""
        self.in_flight = False
        size = len(self._body)
        self._body = b""
        if self.slots is not None:
            learned = status is not None or failed
            self.slots.release(
                latency_s=time.monotonic() - self._sent_at if learned else None,
                size=size,
                status=status,
                failed=failed,
                retry_after=retry_after,
            )

    def release(self) -> None:
        """Give the connection back to the pool (closed first if a reply is still due)."""
        if self.in_flight:
            self.close()
            return
        if self.conn is not None:
            self.pool._put_conn(self.conn)
            self.conn = None

    def close(self, *, failed: bool = False) -> None:
        """Drop the connection, in flight or not; the pool opens a new one when asked.
        `failed`: its request timed out or its connection broke."""
        if self.conn is not None:
            self.conn.close()
            self.pool._put_conn(None)
            self.conn = None
        if self.in_flight:
            self._done(failed=failed)
