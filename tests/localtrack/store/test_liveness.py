"""Run status under wall-clock jumps: a live writer never turns crashed because the clock moved.

A writer on this host is judged by its process (the identity its lease holds, so a reused pid
cannot pass for it); a writer elsewhere by its lease, which a long-lived observer calls stale
only after seeing it unchanged for the threshold on its own (here: injected) monotonic clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from localtrack import SummaryWriter
from localtrack._query.files import RunEntry, lease_facts
from localtrack._query.runs_table import live_status_table
from localtrack._store.layout import lease_path
from localtrack._store.liveness import (
    LeaseWatch,
    ProcessIdentity,
    lease_text,
    parse_lease,
    process_verdict,
    start_ticks,
    this_process,
)
from localtrack._store.marker import read_marker
from localtrack._store.runs import LEASE_STALE_SECS, run_status, writer_states

HOUR = 3600.0
needs_proc = pytest.mark.skipif(this_process() is None, reason="needs Linux /proc")


class Clock:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _age(path: Path, seconds: float) -> None:
    """Make a file look `seconds` old to the wall clock (as a forward clock jump does)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def _writer(tmp_path: Path) -> tuple[SummaryWriter, Path, Path]:
    w = SummaryWriter(str(tmp_path / "run"))
    w.add_scalar("loss", 1.0, 0)
    w.flush()
    run_dir = tmp_path / "run"
    (state,) = writer_states(run_dir)
    return w, run_dir, lease_path(run_dir, state.writer)


@needs_proc
def test_this_process_round_trips_through_its_lease():
    me = this_process()
    assert me is not None and me.pid == os.getpid()
    assert parse_lease(lease_text(me)) == me
    assert process_verdict(me, me) is True
    assert parse_lease(b"") is None and parse_lease(b"{trunc") is None
    assert parse_lease(json.dumps({"host": "h"}).encode()) is None


@needs_proc
def test_a_reused_pid_or_a_process_elsewhere_is_told_apart():
    me = this_process()
    assert me is not None
    assert process_verdict(replace(me, start_ticks=me.start_ticks + 1), me) is False  # reused
    assert process_verdict(replace(me, pid=2**22 + 12345), me) is False  # gone
    for other in (
        replace(me, host="elsewhere"),
        replace(me, boot_id="another-boot"),
        replace(me, pid_ns="pid:[1]"),
    ):
        assert process_verdict(other, me) is None  # cannot check from here: the lease decides


@needs_proc
def test_a_zombie_counts_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 60
    while start_ticks(child.pid) is not None:  # exited but not reaped: a zombie
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.wait()


@needs_proc
@pytest.mark.parametrize("jump", [+HOUR, -HOUR, +30 * 24 * HOUR, -LEASE_STALE_SECS - 1])
def test_a_live_writer_here_stays_running_whatever_the_clock_says(tmp_path, jump):
    w, run_dir, lease = _writer(tmp_path)
    try:
        assert run_status(run_dir, now=time.time() + jump) == "running"
        _age(lease, HOUR)  # its lease looks an hour old: the process still runs
        _age(run_dir / "localtrack-run.json", HOUR)
        assert run_status(run_dir, now=time.time() + jump) == "running"
        watch = LeaseWatch(LEASE_STALE_SECS, Clock())
        assert run_status(run_dir, watch=watch) == "running"
        # the runs view checks it as live, not from its events alone
        marker = read_marker(run_dir)
        entry = RunEntry(run_dir, marker, *lease_facts(run_dir))
        assert entry.runs_here and entry.has_live_writer(time.time() + jump)
        table = live_status_table([entry], now=time.time() + jump).to_pylist()
        assert table == [{"run_id": marker["run_id"], "status": "running"}]
    finally:
        w.close()
    assert lease.read_bytes() == b""  # an empty lease: a closed writer
    assert lease_facts(run_dir)[1] is False
    assert run_status(run_dir, now=time.time() + jump) == "finished"


@needs_proc
def test_a_lease_naming_a_reused_pid_is_crashed_even_when_fresh(tmp_path):
    w, run_dir, lease = _writer(tmp_path)
    w.close()
    me = this_process()
    assert me is not None
    (state,) = writer_states(run_dir)
    # a run whose writer never closed (events without `finish`), its pid now someone else's
    crashed = tmp_path / "crashed"
    os.rename(run_dir, crashed)
    for seg in (crashed / "events").iterdir():
        table = pq.read_table(seg)
        keep = [k != "finish" for k in table["kind"].to_pylist()]
        pq.write_table(table.filter(keep), seg)
    lease = lease_path(crashed, state.writer)
    lease.write_bytes(lease_text(replace(me, start_ticks=me.start_ticks + 7)))
    assert run_status(crashed) == "crashed"  # fresh lease, live pid, but not that process
    lease.write_bytes(lease_text(me))
    assert run_status(crashed) == "running"


def _remote_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run whose unclosed writer is on another machine (its lease names that host)."""
    w, run_dir, lease = _writer(tmp_path)
    w.close()
    for seg in (run_dir / "events").iterdir():
        table = pq.read_table(seg)
        keep = [k != "finish" for k in table["kind"].to_pylist()]
        hosts = ["elsewhere"] * table.num_rows
        table = table.set_column(table.schema.get_field_index("host"), "host", [hosts])
        pq.write_table(table.filter(keep), seg)
    other = ProcessIdentity("elsewhere", 4242, "boot-x", "pid:[9]", 77)
    lease.write_bytes(lease_text(other))
    return run_dir, lease


def test_a_writer_elsewhere_is_stale_only_once_seen_unchanged_for_the_threshold(tmp_path):
    run_dir, lease = _remote_run(tmp_path)
    clock = Clock()
    watch = LeaseWatch(LEASE_STALE_SECS, clock)
    assert run_status(run_dir, watch=watch) == "running"  # first sight: a fresh lease
    jumped = time.time() + 10 * HOUR  # the daemon's wall clock jumps ahead
    clock.t += 1
    assert run_status(run_dir, now=jumped, watch=watch) == "running"  # seen unchanged 1 s
    clock.t += LEASE_STALE_SECS - 2
    assert run_status(run_dir, now=jumped, watch=watch) == "running"
    _age(lease, 0)  # the remote writer touched it: seen changing, alive
    clock.t += 5
    assert run_status(run_dir, now=jumped, watch=watch) == "running"
    clock.t += LEASE_STALE_SECS - 1
    assert run_status(run_dir, now=jumped - 20 * HOUR, watch=watch) == "running"  # and back
    clock.t += 1  # unchanged for the threshold on the observer's own clock
    assert run_status(run_dir, now=jumped - 20 * HOUR, watch=watch) == "crashed"


def test_a_lease_first_seen_old_is_stale_and_stays_so_until_it_changes(tmp_path):
    run_dir, lease = _remote_run(tmp_path)  # say, copied from an air-gapped node
    _age(lease, 10 * HOUR)
    clock = Clock()
    watch = LeaseWatch(LEASE_STALE_SECS, clock)
    assert run_status(run_dir, watch=watch) == "crashed"  # first sight: the one-shot rule
    clock.t += 1
    assert run_status(run_dir, watch=watch) == "crashed"  # later sights agree
    _age(lease, 0)
    assert run_status(run_dir, watch=watch) == "running"  # it changed: someone touches it


def test_a_one_shot_reader_takes_a_lease_from_the_future_as_fresh(tmp_path):
    run_dir, lease = _remote_run(tmp_path)
    assert run_status(run_dir) == "running"
    assert run_status(run_dir, now=time.time() - HOUR) == "running"  # clock set back
    _age(lease, LEASE_STALE_SECS + 1)
    assert run_status(run_dir) == "crashed"  # a one-shot reader's wall-clock rule


def test_a_lease_watch_counts_on_its_own_clock_only():
    clock = Clock()
    watch = LeaseWatch(30.0, clock)
    p = Path("/x/writers/a.lease")
    assert not watch.stale(Path("/x/writers/b.lease"), 5.0, wall_age=29.0)
    assert watch.stale(Path("/x/writers/c.lease"), 5.0, wall_age=30.0)
    assert watch.unchanged_for(p, 5.0) == 0.0
    clock.t += 12
    assert watch.unchanged_for(p, 5.0) == 12.0 and not watch.stale(p, 5.0)
    assert watch.unchanged_for(p, 6.0) == 0.0  # touched: seen anew
    clock.t += 30
    assert watch.stale(p, 6.0)
    watch.forget(Path("/x"))
    assert watch.unchanged_for(p, 6.0) == 0.0
