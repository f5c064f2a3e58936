"""Exactly once under interruption: the daemon SIGKILLed at random instants, the server
restarted mid-sync, and a proxy that resets, errors and stalls. Every end state is checked
point by point against the local store with MLflow's own client."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest
from daemon_proc import start_daemon
from fault_proxy import FaultProxy
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from mlflow_server import start_server
from sync_store import Store, assert_synced, compact

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

KILLS = 22


def grow(run: Store, cycle: int, segments: int = 2, points: int = 600) -> None:
    for s in range(segments):
        base = (cycle * segments + s) * points
        run.scalars([(f"m{i % 3}/loss", base + i, (base + i) * 0.5) for i in range(points)])


def sent(runs: list[Store], url: str) -> int:
    return sum(load_state(r.dir, url, r.run_id).points for r in runs)


def wait_synced(runs: list[Store], url: str, timeout: float = 120.0) -> None:
    """Until each run's sync state counts all its local points (the daemon keeps going)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [load_state(r.dir, url, r.run_id) for r in runs]
        if all(s.status == "FINISHED" for s in states):
            return
        time.sleep(0.3)
    raise AssertionError(f"not synced within {timeout} s: {[s.status for s in states]}")


def test_daemon_killed_at_random_instants_loses_and_doubles_nothing(tmp_path, mlflow_server):
    rng = random.Random(20261127)
    runs = [Store(tmp_path / "root", project="chaos-kill", name=f"r{i}") for i in range(2)]
    log = tmp_path / "daemon.log"
    kills = 0
    for cycle in range(KILLS):
        for r in runs:
            grow(r, cycle)
        if cycle % 6 == 5:
            compact(runs[0].dir)
        before = sent(runs, mlflow_server.url)
        proc = start_daemon(tmp_path / "root", mlflow_server.url, log)
        if cycle % 2:  # any instant, start-up included
            time.sleep(rng.uniform(0.0, 2.0))
        else:  # an instant while it uploads
            deadline = time.monotonic() + 30
            while sent(runs, mlflow_server.url) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sent(runs, mlflow_server.url) > before, "the daemon made no progress"
            time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        kills += 1
    for r in runs:
        r.finish()
    assert (
        cli(["sync", "--once", "--root", str(tmp_path / "root"), "--uri", mlflow_server.url]) == 0
    )
    client = MlflowClient(mlflow_server.url)
    for r in runs:
        rid = assert_synced(client, r.dir, r.run_id)
        assert client.get_run(rid).info.status == "FINISHED"
    assert kills == KILLS >= 20


def test_server_stopped_and_restarted_mid_sync(tmp_path):
    server = start_server(tmp_path / "server")
    try:
        run = Store(tmp_path / "root", project="chaos-restart")
        for cycle in range(15):
            grow(run, cycle, segments=4, points=500)
        run.finish()
        proc = start_daemon(tmp_path / "root", server.url, tmp_path / "daemon.log")
        time.sleep(2.0)
        server.stop()
        time.sleep(3.0)  # the daemon backs off and keeps trying
        assert proc.poll() is None
        server.start()
        wait_synced([run], server.url)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert_synced(MlflowClient(server.url), run.dir, run.run_id)
        log = [json.loads(x) for x in (tmp_path / "daemon.log").read_text().splitlines()]
        assert any(e["event"] == "sync_failed" and e["class"] == "retry_later" for e in log)
        assert log[-1]["event"] == "daemon_stopped"
    finally:
        server.stop()


def test_proxy_resets_errors_and_stalls_change_nothing(tmp_path, mlflow_server):
    runs = [Store(tmp_path / "root", project="chaos-proxy", name=f"r{i}") for i in range(3)]
    for r in runs:
        for cycle in range(4):
            grow(r, cycle, segments=2, points=700)
        r.config({"lr": 0.01, "opt": {"name": "adam", "beta": 0.9}})
        r.finish()
    with FaultProxy(mlflow_server.url, fault_rate=0.4, stall_s=5, seed=7) as proxy:
        proc = start_daemon(tmp_path / "root", proxy.url, tmp_path / "daemon.log", "--timeout", "4")
        try:
            wait_synced(runs, proxy.url, timeout=180)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    assert set(proxy.counts) == {
        "pass",
        "reset_before",
        "reset_after",
        "500",
        "503_after",
        "429",
        "stall",
    }
    client = MlflowClient(mlflow_server.url)
    for r in runs:
        rid = assert_synced(client, r.dir, r.run_id)
        assert client.get_run(rid).data.params == {
            "lr": "0.01",
            "opt/name": "adam",
            "opt/beta": "0.9",
        }
