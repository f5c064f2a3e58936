"""Clock jumps against a real MLflow server: no live run is marked KILLED, no time rewritten.

A forward jump of the daemon's wall clock is what a lease an hour old looks like to it; the
writer's process still runs, so the run stays RUNNING. Wall times that go backwards within
a run (NTP stepped the writer's clock back) are stored as logged and reach MLflow unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from daemon_proc import start_daemon
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from sync_store import Store, assert_synced, mlflow_runs

from localtrack import SummaryWriter
from localtrack._store.liveness import ProcessIdentity, lease_text, this_process
from localtrack._store.marker import read_marker
from localtrack._store.segments import read_stream

pytestmark = pytest.mark.mlflow
FAKETIME = shutil.which("faketime")
LOCALTRACK = str(Path(sys.executable).with_name("localtrack"))

TRAIN = """
import os, sys, time
import localtrack
w = localtrack.SummaryWriter(sys.argv[1], flush_secs=0.2)
for step in range(200):
    w.add_scalar("loss", 1.0 / (step + 1), step)
w.flush()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
w.close()
"""


def sync_once(root, server) -> int:
    return cli(["sync", "--once", "--root", str(root), "--uri", server.url, "--grace", "0"])


@pytest.mark.skipif(this_process() is None, reason="needs Linux /proc")
def test_a_live_run_whose_lease_looks_an_hour_old_stays_running(tmp_path, mlflow_server):
    root = tmp_path / "runs"
    w = SummaryWriter(str(root / "live"))
    run_dir = root / "live"
    run_id = read_marker(run_dir)["run_id"]
    client = MlflowClient(mlflow_server.url)
    try:
        for s in range(50):
            w.add_scalar("loss", 1.0 / (s + 1), s)
        w.flush()
        hour_ago = time.time() - 3600  # as a daemon whose clock jumped ahead sees it
        for path in [run_dir / "localtrack-run.json", *(run_dir / "writers").iterdir()]:
            os.utime(path, (hour_ago, hour_ago))
        assert sync_once(root, mlflow_server) == 0
        (got,) = mlflow_runs(client, run_id)
        assert got.info.status == "RUNNING"  # not KILLED: its process is alive
    finally:
        w.close()
    assert sync_once(root, mlflow_server) == 0
    assert_synced(client, run_dir, run_id)
    assert client.get_run(got.info.run_id).info.status == "FINISHED"


def test_wall_times_that_go_backwards_are_stored_and_synced_as_logged(tmp_path, mlflow_server):
    root = tmp_path / "runs"
    t0 = 1_764_000_000.123
    # the clock steps back by an hour after step 2, then by 1 s, then forward again
    times = [t0, t0 + 1, t0 + 2, t0 - 3600, t0 - 3599, t0 - 3600.5, t0 + 10]
    with SummaryWriter(str(root / "back")) as w:
        for step, t in enumerate(times):
            w.add_scalar("loss", float(step), step, walltime=t)
    run_dir = root / "back"
    stored = read_stream(run_dir, "scalars")
    assert stored is not None
    us = stored["wall_time"].cast("int64").to_pylist()
    by_step = dict(zip(stored["step"].to_pylist(), us, strict=True))
    assert [by_step[s] for s in range(len(times))] == [round(t * 1e6) for t in times]
    assert sync_once(root, mlflow_server) == 0
    client = MlflowClient(mlflow_server.url)
    run_id = read_marker(run_dir)["run_id"]
    rid = assert_synced(client, run_dir, run_id)
    history = {m.step: m.timestamp for m in client.get_metric_history(rid, "loss")}
    assert history == {s: by_step[s] // 1000 for s in range(len(times))}
    assert [history[s] for s in range(len(times))] == [int(t * 1000) for t in times]


@pytest.mark.skipif(FAKETIME is None or this_process() is None, reason="needs faketime, /proc")
@pytest.mark.parametrize("shift", ["+1d", "-1d"])
def test_a_daemon_whose_clock_jumped_keeps_a_live_training_running(tmp_path, mlflow_server, shift):
    root = tmp_path / "runs"
    run_dir, ready, stop = root / "train", tmp_path / "ready", tmp_path / "stop"
    child = subprocess.Popen([sys.executable, "-c", TRAIN, str(run_dir), str(ready), str(stop)])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        jumped = [str(FAKETIME), "-f", shift]  # the wall clock (and its monotonic one) moved
        args = ["--root", str(root)]
        query = [LOCALTRACK, *args, "sql", "SELECT status FROM runs", "--json"]
        out = subprocess.run([*jumped, *query], capture_output=True, text=True, check=True)
        assert json.loads(out.stdout) == [{"status": "running"}]
        sync = [LOCALTRACK, "sync", "--once", *args, "--uri", mlflow_server.url, "--grace", "0"]
        done = subprocess.run([*jumped, *sync], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        client = MlflowClient(mlflow_server.url)
        (got,) = mlflow_runs(client, read_marker(run_dir)["run_id"])
        assert got.info.status == "RUNNING"  # not KILLED: the training process runs
    finally:
        stop.touch()
        assert child.wait(timeout=120) == 0
    assert subprocess.run(sync, capture_output=True, check=False).returncode == 0
    assert client.get_run(got.info.run_id).info.status == "FINISHED"
    assert_synced(client, run_dir, read_marker(run_dir)["run_id"])


def test_a_daemon_watching_a_writer_elsewhere_ignores_a_jump_and_sees_it_die(
    tmp_path, mlflow_server
):
    """A writer on another machine: the daemon saw its lease fresh, then its own clock runs an
    hour ahead of the writer's (the lease keeps being touched, but looks an hour old): the run
    stays RUNNING. Once the lease stops changing for 30 s of the daemon's clock: KILLED."""
    root = tmp_path / "runs"
    run = Store(root, project="time-remote")
    run.scalars([("loss", s, 1.0) for s in range(100)])
    run.touch_lease()
    lease = run.dir / "writers" / f"{run.writer}.lease"
    lease.write_bytes(lease_text(ProcessIdentity("elsewhere", 4242, "boot-x", "pid:[9]", 77)))
    behind = [0.0]  # how far the writer's clock is behind the daemon's
    touching = threading.Event()
    touching.set()

    def heartbeat() -> None:
        while touching.is_set():
            t = time.time() - behind[0]
            os.utime(lease, (t, t))
            time.sleep(0.2)

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    url = mlflow_server.url
    log = tmp_path / "daemon.log"
    proc = start_daemon(root, url, log)
    client = MlflowClient(url)

    def wait(what) -> None:
        deadline = time.monotonic() + 180
        while not what():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)

    try:
        wait(lambda: load_state(run.dir, url, run.run_id).points == 100)
        behind[0] = 3600.0
        for i in range(1, 4):  # more passes, each seeing the lease touched but an hour old
            run.scalars([("loss", 100 * i + s, 2.0) for s in range(100)])
            wait(lambda i=i: load_state(run.dir, url, run.run_id).points == 100 * (i + 1))
        assert load_state(run.dir, url, run.run_id).status in (None, "RUNNING")
        (got,) = mlflow_runs(client, run.run_id)
        assert got.info.status == "RUNNING"
        touching.clear()  # the writer dies: its lease stops changing
        beat.join()
        wait(lambda: load_state(run.dir, url, run.run_id).status == "KILLED")
    finally:
        touching.clear()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    events = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert events.count("status_set") == 1  # KILLED once, at the end, never before
    assert client.get_run(got.info.run_id).info.status == "KILLED"
    assert_synced(client, run.dir, run.run_id)
