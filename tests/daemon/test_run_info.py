"""The daemon's KILLED decision under clock jumps: its grace counts on its own clock too."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localtrack_daemon.run_info import crash_end_ms
from sync_store import Store

from localtrack._store.liveness import LeaseWatch

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def test_a_crashed_runs_grace_ends_on_the_wall_clock_or_the_daemons_own(tmp_path):
    run = Store(tmp_path)
    run.touch_lease()
    lease = run.dir / "writers" / f"{run.writer}.lease"
    last = time.time()
    os.utime(lease, (last, last))
    clock = Clock()
    watch = LeaseWatch(0.0, clock)
    created = float(run.clock_us) / 1e6
    assert crash_end_ms(run.dir, created, 60, watch, now=last + 10) is None
    assert crash_end_ms(run.dir, created, 60, watch, now=last + 61) == int(last * 1000)
    # the wall clock set back a day: KILLED waits the grace on the daemon's clock, not a day
    assert crash_end_ms(run.dir, created, 60, watch, now=last - 24 * HOUR) is None
    clock.t += 59
    assert crash_end_ms(run.dir, created, 60, watch, now=last - 24 * HOUR) is None
    clock.t += 1
    assert crash_end_ms(run.dir, created, 60, watch, now=last - 24 * HOUR) == int(last * 1000)
    # a heartbeat seen anew starts the daemon's count again
    os.utime(lease, (last + 1, last + 1))
    assert crash_end_ms(run.dir, created, 60, watch, now=last - 24 * HOUR) is None
