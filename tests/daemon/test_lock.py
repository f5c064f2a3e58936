"""The run lock: its lease rule (pure, on an injected clock), takeover, and a SIGKILLed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from localtrack_daemon.lock import (
    Holder,
    Lease,
    LeaseLost,
    Locks,
    Sighting,
    holder_now,
    judge,
    lock_path,
    read_lock,
)

URI = "http://127.0.0.1:5000"
LEASE = 30.0


def holder(owner: str = "other", host: str = "elsewhere", lease_s: float = LEASE) -> Holder:
    return Holder(owner, host, 4242, "boot:1", "777", lease_s, 1000.0)


@pytest.mark.parametrize(
    ("mtime", "unchanged_s", "alive", "verdict"),
    [
        (995.0, 0.0, None, "held"),  # renewed 5 s ago by a syncer of another machine
        (960.0, 0.0, None, "stale"),  # its lease ran out by the file's time
        (5000.0, 10.0, None, "held"),  # a file from the future (skewed clock): not yet...
        (5000.0, 30.0, None, "stale"),  # ...but seen unchanged for a whole lease
        (100.0, 0.0, True, "held"),  # a live holder of this machine: the wall clock jumped
        (100.0, 29.9, True, "held"),
        (995.0, 30.0, True, "stale"),  # alive but silent for a lease (hung): taken over
        (995.0, 0.0, False, "stale"),  # this machine's holder is gone (SIGKILL)
    ],
)
def test_a_lock_is_stale_only_when_its_holder_is_gone_or_silent_for_a_lease(
    mtime, unchanged_s, alive, verdict
):
    seen = Sighting(holder(), mtime, 1)
    assert judge(seen, now=1000.0, unchanged_s=unchanged_s, alive=alive, lease_s=LEASE) == verdict


def test_the_lease_of_the_file_counts_and_an_unreadable_file_uses_ours():
    short = Sighting(holder(lease_s=5.0), 990.0, 1)
    assert judge(short, now=1000.0, unchanged_s=0.0, alive=None, lease_s=LEASE) == "stale"
    half_written = Sighting(None, 990.0, 1)
    assert judge(half_written, now=1000.0, unchanged_s=0.0, alive=None, lease_s=LEASE) == "held"
    assert judge(half_written, now=1000.0, unchanged_s=LEASE, alive=None, lease_s=LEASE) == "stale"


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def foreign_lock(run_dir, owner: str = "theirs", age_s: float = 0.0) -> None:
    """A lock written by a syncer on another machine, renewed `age_s` ago."""
    path = lock_path(run_dir, URI)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(holder(owner).encode())
    t = time.time() - age_s
    os.utime(path, (t, t))


def test_one_holder_at_a_time_and_the_next_one_after_release(tmp_path):
    first, second = Locks(URI), Locks(URI)
    try:
        lease = first.acquire(tmp_path)
        assert isinstance(lease, Lease)
        held = second.acquire(tmp_path)
        assert isinstance(held, Holder) and held.pid == os.getpid()  # alive here: held
        assert holder_now(tmp_path, URI) == (lease.holder, True)
        first.release(lease)
        assert holder_now(tmp_path, URI) is None
        assert isinstance(second.acquire(tmp_path), Lease)
    finally:
        first.close()
        second.close()
    assert not lock_path(tmp_path, URI).exists()  # close() releases what is held


def test_a_foreign_lock_is_taken_over_once_its_lease_ran_out(tmp_path):
    mono = FakeClock()
    locks = Locks(URI, monotonic=mono)
    try:
        foreign_lock(tmp_path, age_s=5)
        assert isinstance(locks.acquire(tmp_path), Holder)
        mono.t += LEASE - 1
        assert isinstance(locks.acquire(tmp_path), Holder)  # unchanged, not yet a lease
        mono.t += 1
        lease = locks.acquire(tmp_path)  # unchanged for a lease on our clock: stale
        assert isinstance(lease, Lease)
        assert read_lock(lease.path).holder == lease.holder
        foreign_lock(tmp_path / "other", age_s=LEASE + 1)  # old by the file's time: stale now
        assert isinstance(locks.acquire(tmp_path / "other"), Lease)
    finally:
        locks.close()
    assert sorted(p.name for p in (tmp_path / "sync").iterdir()) == []  # nothing left aside


def test_a_renewed_lock_is_not_stale(tmp_path):
    mono = FakeClock()
    locks = Locks(URI, monotonic=mono)
    foreign_lock(tmp_path, age_s=5)
    assert isinstance(locks.acquire(tmp_path), Holder)
    mono.t += LEASE - 1
    foreign_lock(tmp_path, age_s=0)  # the holder renews it
    mono.t += LEASE - 1
    assert isinstance(locks.acquire(tmp_path), Holder)


def test_two_takers_of_one_stale_lock_cannot_both_win(tmp_path):
    foreign_lock(tmp_path, owner="dead", age_s=LEASE + 1)
    path = lock_path(tmp_path, URI)
    stale = read_lock(path)
    a, b = Locks(URI), Locks(URI)
    me_a, me_b = holder("a", "here"), holder("b", "here")
    assert a._take_over(path, stale, me_a)  # A moved the stale lock aside...
    path.write_bytes(me_a.encode())  # ...and created its own
    assert not b._take_over(path, stale, me_b)  # B's rename took A's fresh lock: put back
    assert read_lock(path).holder == me_a
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_lease_taken_over_is_lost_and_says_so(tmp_path):
    locks = Locks(URI)
    lease = locks.acquire(tmp_path)
    assert isinstance(lease, Lease)
    lease.renew()
    assert lease.lost is None
    foreign_lock(tmp_path, owner="usurper")  # another syncer judged it stale and took it
    lease.renew()
    assert lease.lost is not None
    with pytest.raises(LeaseLost, match="elsewhere pid 4242"):
        lease.confirm()
    locks.close()
    assert read_lock(lock_path(tmp_path, URI)).holder.owner == "usurper"  # not released


HOLD = """
import sys, time
from pathlib import Path
from localtrack_daemon.lock import Locks
lease = Locks(sys.argv[2]).acquire(Path(sys.argv[1]))
print(type(lease).__name__, flush=True)
time.sleep(120)
"""


def test_a_sigkilled_holder_blocks_nobody(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), URI], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "Lease"
        locks = Locks(URI)
        held = locks.acquire(tmp_path)
        assert isinstance(held, Holder) and held.pid == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert holder_now(tmp_path, URI) == (held, False)  # `--status` calls it stale
    lease = locks.acquire(tmp_path)  # its process is gone: no need to wait for the lease
    assert isinstance(lease, Lease)
    locks.close()


def test_sync_status_names_the_holder(tmp_path):
    from localtrack_daemon.report import report
    from sync_store import HOST, Store

    run = Store(tmp_path)
    locks = Locks(URI)
    assert isinstance(locks.acquire(run.dir), Lease)
    held = report(run.dir, URI)
    assert f"being uploaded by {HOST} pid {os.getpid()}, since " in held.line()
    assert held.holder
    locks.close()
    assert "being uploaded" not in report(run.dir, URI).line()
