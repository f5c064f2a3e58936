"""How many log-batch requests a daemon keeps in flight: fixed, or adapted to the server (AIMD).

Every request in flight holds one slot of the daemon's `Limit`, shared by all upload threads.
MLflow's SQL store holds two pooled database connections per log-batch request, so many daemons
at a fixed 4 each exhaust one server's pool, and every request then waits out the pool's 30 s
timeout. `AdaptiveLimit` grows and shrinks the slots from what the server answers, as TCP's
congestion window and Netflix's concurrency-limits do:

- **additive increase**: each acknowledged request adds 1/limit (one slot per round of
  `limit` requests) while the latency stays flat and the slots are in use (a daemon with two
  requests in flight never grows a limit of 64 it cannot fill, to burst with later);
- **multiplicative decrease**: a 429, 408 or 5xx, a timeout or a connection reset halves the
  limit; a latency that rose (a short EWMA of full-size requests over twice the lowest it was
  in the last `window_s`) takes a fifth off. One cut per round trip: a request sent before the
  last cut says nothing about the limit after it;
- **Retry-After** (seconds or an HTTP date) on any reply pauses every new request of the daemon
  until then, capped at `max_pause_s`; `FixedLimit` (`--concurrency fixed`) honours it too.

The limit stays within [min_limit, max_limit]; the daemon's `--workers` × `--pipeline` bound
what it can put in flight anyway. Pure logic and a condition variable: tested with a fake clock.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

OVERLOAD_STATUSES = frozenset({408, 429})
"""Besides 5xx: what a server says when it is asked too much (408: it timed the request out)."""

SIZED_BYTES = 32 * 1024
"""Only requests at least this large feed the latency signal: a 3-point batch answers much
faster than a 1000-point one (~90 KB), so mixing them would read as a latency rise."""


def is_overload(status: int) -> bool:
    """True for a reply that says the server is overloaded (as opposed to a rejected request)."""
    return status >= 500 or status in OVERLOAD_STATUSES


def retry_after_s(value: str | None, now_wall: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date); None when
    absent or unreadable. A date in the past is 0."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    now = time.time() if now_wall is None else now_wall
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Change:
    """The integer limit moved: to what, from what, and why ("increase", "overload", "latency")."""

    limit: int
    before: int
    why: str


class FixedLimit:
    """`limit` requests in flight at most, never more; honours Retry-After."""

    def __init__(
        self,
        limit: int = 4,
        *,
        max_pause_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Change], None] | None = None,
    ) -> None:
        self._limit = float(max(1, limit))
        self.max_pause_s = max_pause_s
        self.clock = clock
        self.on_change = on_change
        self.in_flight = 0
        self.peak = 0
        """The most requests in flight at once in the current round of `limit` replies."""
        self._peaks = (0, 0)  # (the last round's peak, replies so far in this round)
        self.paused_until = 0.0
        self.pauses = 0
        self.overloads = 0
        self.closed = False
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, math.floor(self._limit))

    def acquire(self, blocking: bool = True) -> bool:
        """Take a slot; wait for one (and for a pause to end) unless `blocking` is False.

        Waits in short slices so that `close()` (the daemon stopping) ends a pause at once."""
        with self._cond:
            while True:
                wait = self.paused_until - self.clock() if not self.closed else 0.0
                if wait <= 0 and self.in_flight < self.limit:
                    self.in_flight += 1
                    self.peak = max(self.peak, self.in_flight)
                    return True
                if not blocking:
                    return False
                self._cond.wait(timeout=min(0.25, wait) if wait > 0 else 0.25)

    def wait_unpaused(self) -> None:
        """Block while a Retry-After pause lasts (for requests that take no slot)."""
        with self._cond:
            while not self.closed and (wait := self.paused_until - self.clock()) > 0:
                self._cond.wait(timeout=min(0.25, wait))

    def release(
        self,
        *,
        latency_s: float | None = None,
        size: int = 0,
        status: int | None = None,
        failed: bool = False,
        retry_after: str | None = None,
    ) -> None:
        """Give the slot back with what its request learned: a reply's `status`, how long it
        took and how large it was; `failed` for a timeout or a connection reset. Nothing but
        the slot when the request was dropped by us (no latency, no status, not failed)."""
        with self._cond:
            in_flight = self._used()
            self.in_flight = max(0, self.in_flight - 1)
            self._pause(retry_after)
            overload = failed or (status is not None and is_overload(status))
            if overload:
                self.overloads += 1
            if latency_s is not None or overload:
                before = self.limit
                why = self._learn(latency_s or 0.0, size, overload, in_flight)
                if why and self.limit != before and self.on_change is not None:
                    self.on_change(Change(self.limit, before, why))
            self._cond.notify_all()

    def _used(self) -> int:
        """The most slots used at once over the last round or two (a round: `limit` replies)."""
        last, replies = self._peaks
        used = max(last, self.peak)
        if replies + 1 >= self.limit:
            self._peaks = (self.peak, 0)
            self.peak = self.in_flight
        else:
            self._peaks = (last, replies + 1)
        return used

    def pause(self, retry_after: str | None) -> None:
        """Honour a Retry-After header of a request that took no slot."""
        with self._cond:
            self._pause(retry_after)

    def _pause(self, retry_after: str | None) -> None:
        seconds = retry_after_s(retry_after)
        if seconds is None or seconds <= 0:
            return
        until = self.clock() + min(seconds, self.max_pause_s)
        if until > self.paused_until:
            self.paused_until = until
            self.pauses += 1

    def _learn(self, latency_s: float, size: int, overload: bool, in_flight: int) -> str:
        """Adjust the limit (the fixed one does not); why it moved, or ''."""
        return ""

    def close(self) -> None:
        """End any pause and let every waiter through (the daemon is stopping). No lock: this
        may run in a signal handler while the same thread holds it."""
        self.closed = True

    def stats(self) -> dict[str, object]:
        return {"limit": self.limit, "overloads": self.overloads, "pauses": self.pauses}


class AdaptiveLimit(FixedLimit):
    """AIMD between `min_limit` and `max_limit`, starting at `initial` (module docstring)."""

    def __init__(
        self,
        initial: int = 4,
        *,
        min_limit: int = 1,
        max_limit: int = 64,
        backoff: float = 0.5,
        latency_backoff: float = 0.8,
        tolerance: float = 2.0,
        short_alpha: float = 0.3,
        window_s: float = 30.0,
        warmup: int = 5,
        max_pause_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Change], None] | None = None,
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError(f"need 1 <= min_limit <= max_limit, got {min_limit}, {max_limit}")
        super().__init__(
            min(max(initial, min_limit), max_limit),
            max_pause_s=max_pause_s,
            clock=clock,
            on_change=on_change,
        )
        self.min_limit, self.max_limit = min_limit, max_limit
        self.backoff, self.latency_backoff = backoff, latency_backoff
        self.tolerance, self.short_alpha = tolerance, short_alpha
        self.window_s, self.warmup = window_s, warmup
        self.short: float | None = None
        """EWMA of the latency of recent full-size requests."""
        self._lows: deque[tuple[float, float]] = deque()
        """(time, short EWMA), increasing in both: the window's minimum is the first."""
        self._sized = 0
        self._cut_at = -math.inf
        self.cuts = 0
        self.lowest = self.limit

    @property
    def baseline(self) -> float | None:
        """The lowest short EWMA of the last `window_s`: the latency of an unloaded server."""
        return self._lows[0][1] if self._lows else None

    def _learn(self, latency_s: float, size: int, overload: bool, in_flight: int) -> str:
        now = self.clock()
        sent_at = now - latency_s
        if overload:
            return self._cut(self.backoff, sent_at, now, "overload")
        if size >= SIZED_BYTES and self._rose(latency_s, now):
            return self._cut(self.latency_backoff, sent_at, now, "latency")
        if in_flight * 2 >= self.limit:  # the slots are used: probe for one more
            self._limit = min(float(self.max_limit), self._limit + 1.0 / self._limit)
            return "increase"
        return ""

    def _rose(self, latency_s: float, now: float) -> bool:
        """Feed one full-size latency; True when the short EWMA rose over the baseline."""
        a = self.short_alpha
        self.short = latency_s if self.short is None else a * latency_s + (1 - a) * self.short
        self._sized += 1
        while self._lows and self._lows[-1][1] >= self.short:
            self._lows.pop()
        self._lows.append((now, self.short))
        while self._lows[0][0] < now - self.window_s:
            self._lows.popleft()
        base = self.baseline
        return self._sized > self.warmup and base is not None and self.short > self.tolerance * base

    def _cut(self, factor: float, sent_at: float, now: float, why: str) -> str:
        if sent_at < self._cut_at:
            return ""  # sent before the last cut: it measured the old limit
        self._cut_at = now
        self._limit = max(float(self.min_limit), self._limit * factor)
        self.cuts += 1
        self.lowest = min(self.lowest, self.limit)
        if why == "latency" and self.short is not None:
            # Judge the next round against what the server answers at the new limit.
            self.short = self.baseline
        return why

    def stats(self) -> dict[str, object]:
        return {**super().stats(), "cuts": self.cuts, "lowest": self.lowest}


def make_limit(
    mode: str,
    max_in_flight: int,
    *,
    initial: int = 4,
    max_pause_s: float = 60.0,
    on_change: Callable[[Change], None] | None = None,
) -> FixedLimit:
    """The daemon's limit: "fixed" at `max_in_flight`, or "adaptive" up to it."""
    if mode == "fixed":
        return FixedLimit(max_in_flight, max_pause_s=max_pause_s, on_change=on_change)
    if mode == "adaptive":
        ceiling = max(1, max_in_flight)
        return AdaptiveLimit(
            min(initial, ceiling), max_limit=ceiling, max_pause_s=max_pause_s, on_change=on_change
        )
    raise ValueError(f"concurrency must be 'adaptive' or 'fixed', got {mode!r}")
