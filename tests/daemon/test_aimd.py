"""The daemon's concurrency limit (daemon/aimd.py): AIMD on a fake clock, Retry-After, bounds."""

from __future__ import annotations

import threading
import time

import pytest
from localtrack_daemon.aimd import (
    SIZED_BYTES,
    AdaptiveLimit,
    Change,
    FixedLimit,
    make_limit,
    retry_after_s,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


FULL = SIZED_BYTES * 3  # a 1000-point request's size


def round_trip(limit: FixedLimit, clock: Clock, latency: float, **reply: object) -> None:
    """One request: take a slot, let `latency` pass, give it back with the reply."""
    assert limit.acquire(blocking=False)
    clock.t += latency
    limit.release(latency_s=latency, size=FULL, **reply)  # type: ignore[arg-type]


def saturated_round(limit: AdaptiveLimit, clock: Clock, latency: float, **reply: object) -> None:
    """`limit.limit` requests in flight at once, answered together after `latency`."""
    n = limit.limit
    for _ in range(n):
        assert limit.acquire(blocking=False)
    assert not limit.acquire(blocking=False), "no slot beyond the limit"
    clock.t += latency
    for _ in range(n):
        limit.release(latency_s=latency, size=FULL, **reply)  # type: ignore[arg-type]


def test_starts_at_4_and_grows_by_about_one_per_round_while_latency_is_flat():
    clock = Clock()
    limit = AdaptiveLimit(clock=clock)
    assert limit.limit == 4
    for _ in range(10):
        saturated_round(limit, clock, 0.05, status=200)
    assert 11 <= limit.limit <= 14  # additive: one slot per round of `limit` replies


def test_never_grows_past_max_nor_while_the_slots_are_unused():
    clock = Clock()
    limit = AdaptiveLimit(max_limit=6, clock=clock)
    for _ in range(50):
        saturated_round(limit, clock, 0.05, status=200)
    assert limit.limit == 6
    idle = AdaptiveLimit(clock=clock)
    for _ in range(200):  # one request at a time: a limit of 4 is not the bottleneck
        round_trip(idle, clock, 0.05, status=200)
    assert idle.limit == 4


@pytest.mark.parametrize(
    "reply", [{"status": 429}, {"status": 503}, {"status": 500}, {"status": 408}, {"failed": True}]
)
def test_overload_halves_the_limit_once_per_round_trip(reply):
    clock = Clock()
    limit = AdaptiveLimit(16, clock=clock)
    saturated_round(limit, clock, 0.05, **reply)  # 16 overloads answered together
    assert limit.limit == 8, "one cut for the requests of one round, not sixteen"
    saturated_round(limit, clock, 0.05, **reply)
    assert limit.limit == 4
    for _ in range(10):
        saturated_round(limit, clock, 0.05, **reply)
    assert limit.limit == 1, "never below min_limit"
    assert limit.stats()["lowest"] == 1


def test_a_rejected_request_is_no_overload():
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock)
    saturated_round(limit, clock, 0.05, status=400)
    assert limit.limit >= 8


def test_rising_latency_cuts_and_flat_latency_recovers():
    clock = Clock()
    limit = AdaptiveLimit(8, max_limit=64, clock=clock)
    for _ in range(5):
        saturated_round(limit, clock, 0.05, status=200)
    grown = limit.limit
    for _ in range(6):  # the server's queue grows: 5× the latency
        saturated_round(limit, clock, 0.25, status=200)
    assert limit.limit < grown * 0.8
    assert limit.stats()["cuts"] >= 2
    low = limit.limit
    for _ in range(20):  # back to flat
        saturated_round(limit, clock, 0.05, status=200)
    assert limit.limit > low


def test_small_requests_never_read_as_a_latency_rise():
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock)
    for _ in range(20):  # tiny live batches answer in 2 ms, full ones in 100 ms
        assert limit.acquire(blocking=False)
        clock.t += 0.002
        limit.release(latency_s=0.002, size=400, status=200)
        saturated_round(limit, clock, 0.1, status=200)
    assert limit.stats()["cuts"] == 0


def test_baseline_is_the_lowest_recent_latency_and_forgets_after_the_window():
    clock = Clock()
    limit = AdaptiveLimit(8, window_s=30, clock=clock)
    for _ in range(10):
        round_trip(limit, clock, 0.05, status=200)
    assert limit.baseline == pytest.approx(0.05)
    clock.t += 60
    for _ in range(10):
        round_trip(limit, clock, 0.08, status=200)
    assert limit.baseline is not None and limit.baseline > 0.055  # the EWMA ramps up


def test_a_dropped_request_only_frees_its_slot():
    clock = Clock()
    limit = AdaptiveLimit(4, clock=clock)
    assert limit.acquire(blocking=False)
    limit.release()
    assert limit.limit == 4 and limit.in_flight == 0


def test_retry_after_seconds_pauses_new_requests_until_then():
    clock = Clock()
    limit = AdaptiveLimit(clock=clock)
    assert limit.acquire(blocking=False)
    clock.t += 0.01
    limit.release(latency_s=0.01, status=429, retry_after="3")
    assert not limit.acquire(blocking=False)
    clock.t += 2.9
    assert not limit.acquire(blocking=False)
    clock.t += 0.2
    assert limit.acquire(blocking=False)


def test_retry_after_is_capped_and_honoured_by_the_fixed_limit_too():
    clock = Clock()
    limit = FixedLimit(4, max_pause_s=5, clock=clock)
    limit.pause("3600")
    clock.t += 4.9
    assert not limit.acquire(blocking=False)
    clock.t += 0.2
    assert limit.acquire(blocking=False)
    for _ in range(20):
        limit.release(latency_s=1.0, status=503)
        limit.acquire(blocking=False)
    assert limit.limit == 4, "fixed never moves"


def test_retry_after_http_date():
    now = 1_764_261_745.0  # Thu, 27 Nov 2025 16:42:25 GMT
    assert retry_after_s("Thu, 27 Nov 2025 16:42:35 GMT", now) == pytest.approx(10.0)
    assert retry_after_s("Thu, 27 Nov 2025 16:40:00 GMT", now) == 0.0
    assert retry_after_s("120") == 120.0
    for bad in (None, "", "soon", "-5", "1.5", "Thu, 27 Nov 2025 16:42:35"):
        assert retry_after_s(bad, now) is None


def test_a_blocked_acquire_waits_for_a_slot_and_close_ends_a_pause():
    limit = AdaptiveLimit(1)
    assert limit.acquire()
    got = threading.Event()
    t = threading.Thread(target=lambda: (limit.acquire(), got.set()))
    t.start()
    assert not got.wait(0.3)
    limit.release(latency_s=0.01, size=10, status=200)
    assert got.wait(5)
    t.join()
    limit.release()
    limit.release()
    limit.pause("60")
    t0 = time.monotonic()
    threading.Timer(0.2, limit.close).start()
    assert limit.acquire()
    limit.wait_unpaused()
    assert time.monotonic() - t0 < 5


def test_changes_are_reported_with_why():
    clock = Clock()
    seen: list[Change] = []
    limit = AdaptiveLimit(4, clock=clock, on_change=seen.append)
    saturated_round(limit, clock, 0.05, status=200)
    saturated_round(limit, clock, 0.05, status=200)
    saturated_round(limit, clock, 0.05, status=429)
    assert [c.why for c in seen] == ["increase", "overload"]
    assert seen[-1].before == 5 and seen[-1].limit == 2


def test_make_limit():
    assert isinstance(make_limit("fixed", 4), FixedLimit)
    assert not isinstance(make_limit("fixed", 4), AdaptiveLimit)
    adaptive = make_limit("adaptive", 64)
    assert isinstance(adaptive, AdaptiveLimit) and adaptive.limit == 4
    assert adaptive.max_limit == 64
    assert make_limit("adaptive", 2).limit == 2
    with pytest.raises(ValueError, match="adaptive"):
        make_limit("fast", 4)
    with pytest.raises(ValueError, match="min_limit"):
        AdaptiveLimit(min_limit=8, max_limit=4)
