"""Up to `depth` log-batch requests of one run in flight, acknowledged strictly in order.

Each request uses its own HTTP session. A batch's progress is handed back only once it and
every batch before it are acknowledged, so the sync state always names a prefix of the plan;
a failure lets the requests still in flight finish (their progress is not recorded: they are
sent again later, which the remote absorbs) and then raises.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from .remote import Remote

T = TypeVar("T")


class Pipeline(Generic[T]):
    def __init__(self, remotes: list[Remote]) -> None:
        self.depth = len(remotes)
        self._free: queue.SimpleQueue[Remote] = queue.SimpleQueue()
        for r in remotes:
            self._free.put(r)
        self._pool = ThreadPoolExecutor(self.depth, "send") if self.depth > 1 else None
        self._window: deque[tuple[Future[None] | None, T]] = deque()

    def _send(self, body: str) -> None:
        remote = self._free.get()
        try:
            remote.log_batch(body)
        finally:
            self._free.put(remote)

    def submit(self, body: str | None, item: T) -> list[T]:
        """Send `body` (None: nothing to send); return the items acknowledged so far, in order."""
        fut: Future[None] | None = None
        if body is not None:
            if self._pool is None:
                self._send(body)
            else:
                fut = self._pool.submit(self._send, body)
        self._window.append((fut, item))
        return self._collect(lambda: len(self._window) >= self.depth)

    def drain(self) -> list[T]:
        """Wait for every request in flight; their items, in order."""
        return self._collect(lambda: True)

    def _collect(self, must_wait: Callable[[], bool]) -> list[T]:
        out: list[T] = []
        while self._window:
            fut, item = self._window[0]
            if fut is not None and not fut.done() and not must_wait():
                break
            if fut is not None:
                fut.result()  # raises the request's RetryLater / NeedsPerson
            self._window.popleft()
            out.append(item)
        return out

    def close(self) -> None:
        """Let requests still in flight finish (results ignored); stop the sender threads."""
        for fut, _ in self._window:
            if fut is not None:
                fut.exception()
        self._window.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
