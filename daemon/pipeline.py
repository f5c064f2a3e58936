"""Up to `depth` log-batch requests of one run in flight, acknowledged strictly in order.

One thread drives it: a request is written on a free lane (connection), and the oldest reply is
read only when every lane is busy, so the next body is encoded while the server works on the
ones before it. A batch's item is handed back only once it and every batch before it are
acknowledged, so the sync state always names a prefix of the plan. On a failure the lanes still
in flight are dropped: those requests are sent again later, which the remote absorbs.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from .lane import Lane
from .remote import Remote, acknowledge

T = TypeVar("T")


class Pipeline(Generic[T]):
    def __init__(self, remote: Remote, depth: int = 1) -> None:
        self.lanes = remote.lanes(max(1, depth))
        self._window: deque[tuple[Lane | None, T]] = deque()  # None: acknowledged or not sent

    def submit(self, body: bytes | None, item: T) -> list[T]:
        """Send `body` (None: nothing to send); return the items acknowledged so far, in order."""
        lane: Lane | None = None
        while body is not None:
            lane = next((x for x in self.lanes if not x.in_flight), None)
            busy = any(x.in_flight for x in self.lanes)
            # With one of ours in flight, wait for its reply rather than for a free slot.
            if lane is not None and lane.send(body, wait=not busy):
                break
            self._receive_oldest()
        self._window.append((lane, item))
        return self._acknowledged()

    def drain(self) -> list[T]:
        """Wait for every request in flight; their items, in order."""
        while any(lane is not None for lane, _ in self._window):
            self._receive_oldest()
        return self._acknowledged()

    def _receive_oldest(self) -> None:
        for i, (lane, item) in enumerate(self._window):
            if lane is not None:
                acknowledge(*lane.receive())  # raises RetryLater / NeedsPerson
                self._window[i] = (None, item)
                return

    def _acknowledged(self) -> list[T]:
        out: list[T] = []
        while self._window and self._window[0][0] is None:
            out.append(self._window.popleft()[1])
        return out

    def close(self) -> None:
        """Give the lanes back; a request still in flight is dropped with its connection."""
        for lane in self.lanes:
            lane.release()
        self._window.clear()
