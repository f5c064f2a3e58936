"""A run directory deleted, renamed or moved while a real daemon uploads it.

The daemon logs `run_vanished` once, drops the run (a renamed run is found again under its
new name at the next rescan and finishes there), keeps syncing the other runs, never
recreates the folder, and does not loop on it: the log stays short and the exit is clean.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
from daemon_proc import start_daemon
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from sync_store import Store, assert_synced, mlflow_runs

pytestmark = pytest.mark.mlflow

SEGMENTS, PER_SEGMENT = 40, 2000


def _wait(what, proc, log: Path, deadline_s: float = 180.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not what():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)


def _synced(run: Store, url: str, points: int) -> bool:
    state = load_state(run.dir, url, run.run_id)
    return state.status == "FINISHED" and state.points == points


@pytest.mark.parametrize("how", ["deleted", "renamed", "moved out"])
def test_a_run_that_vanishes_mid_upload_is_dropped_and_the_daemon_goes_on(
    tmp_path, mlflow_server, how
):
    root = tmp_path / "runs"
    big = Store(root, project=f"vanish-{how.replace(' ', '-')}")
    for seg in range(SEGMENTS):
        big.scalars([("loss", seg * PER_SEGMENT + s, float(s)) for s in range(PER_SEGMENT)])
    big.finish()
    other = Store(root, project="vanish-other")
    other.scalars([("acc", s, 0.5) for s in range(100)])
    url = mlflow_server.url
    log = tmp_path / "daemon.log"
    proc = start_daemon(root, url, log)
    try:
        # in flight: some of the big run acknowledged, not all of it
        _wait(lambda: load_state(big.dir, url, big.run_id).points > 0, proc, log)
        assert load_state(big.dir, url, big.run_id).points < SEGMENTS * PER_SEGMENT
        old = big.dir
        if how == "deleted":
            shutil.rmtree(old)
        elif how == "renamed":
            big.dir = old.with_name(old.name + "-renamed")
            old.rename(big.dir)
        else:
            big.dir = tmp_path / "elsewhere"
            old.rename(big.dir)

        # the daemon goes on with the other run, twice (two passes after the vanishing)
        other.scalars([("acc", 100 + s, 0.7) for s in range(100)])
        other.finish()
        _wait(lambda: _synced(other, url, 200), proc, log)
        other.scalars([("acc", 200 + s, 0.9) for s in range(100)])
        _wait(lambda: load_state(other.dir, url, other.run_id).points == 300, proc, log)
        if how == "renamed":  # found again under its new name, finished from its state
            _wait(lambda: _synced(big, url, SEGMENTS * PER_SEGMENT), proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0, log.read_text()[-3000:]
    assert not old.exists()  # nothing was recreated where the run was
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    gone = [x for x in lines if x["event"] == "run_vanished"]
    assert [x["run"] for x in gone] == [str(old)], lines
    assert not [x for x in lines if x["event"] == "sync_failed"], gone
    # no loop: a handful of lines, not one per attempt (each batch of the big run is one
    # line at most: run_synced is logged once per pass)
    assert len(lines) < 40, [x["event"] for x in lines]
    client = MlflowClient(url)
    assert_synced(client, other.dir, other.run_id)
    if how == "renamed":
        assert_synced(client, big.dir, big.run_id)
    else:
        assert len(mlflow_runs(client, big.run_id)) == 1  # partly uploaded, never doubled
