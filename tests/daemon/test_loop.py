import os
import random
import time

from localtrack_daemon.loop import backoff, fingerprint, settled


def test_backoff_grows_with_failures_up_to_the_cap_and_never_busy_loops():
    rng = random.Random(0)
    for failures in range(1, 40):
        waits = [backoff(failures, 0.5, 60.0, rng) for _ in range(200)]
        assert min(waits) >= 0.25
        assert max(waits) <= min(60.0, 0.5 * 2**failures)
    late = [backoff(30, 0.5, 60.0, rng) for _ in range(500)]
    assert max(late) > 30  # full jitter spreads retries over the whole window


def test_fingerprint_changes_when_a_segment_lands_and_ignores_sync_and_leases(tmp_path):
    (tmp_path / "scalars").mkdir()
    (tmp_path / "sync").mkdir()
    (tmp_path / "writers").mkdir()
    old = time.time_ns() - 10_000_000_000
    for d in ("scalars", "sync", "writers"):
        os.utime(tmp_path / d, ns=(old, old))
    first = fingerprint(tmp_path)
    assert [name for name, _ in first] == ["scalars"]
    assert settled(first)
    (tmp_path / "sync" / "x.json").write_text("{}")
    (tmp_path / "writers" / "w.lease").touch()
    assert fingerprint(tmp_path) == first
    (tmp_path / "scalars" / "a.parquet").write_bytes(b"")
    now = fingerprint(tmp_path)
    assert now != first and not settled(now)
