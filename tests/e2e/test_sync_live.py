"""The daemon as users run it: next to live training processes, behind basic auth, stopped
with SIGTERM, driven through the `localtrack` command."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_proc import daemon_env, start_daemon
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from mlflow_server import ADMIN_PASSWORD
from sync_store import Store, assert_synced

pytestmark = pytest.mark.mlflow
LOCALTRACK = str(Path(sys.executable).with_name("localtrack"))

TB_CHILD = """
import math, sys, time
import localtrack
w = localtrack.SummaryWriter(sys.argv[1], flush_secs=0.2)
for step in range(3000):
    w.add_scalar("Loss/train", 1.0 / (step + 1), step)
    w.add_scalar("weird key (ema)!", math.nan if step % 97 == 0 else step * 0.1, step)
    if step % 300 == 0:
        time.sleep(0.25)
w.close()
"""

WANDB_CHILD = """
import sys, time
import localtrack
run = localtrack.init(project="live-wandb", name="otter", dir=sys.argv[1],
                      config={"lr": 0.01, "opt": {"name": "adam"}})
for step in range(2000):
    run.log({"acc": step / 2000, "loss": 1 - step / 2000}, step=step)
    if step % 400 == 0:
        time.sleep(0.25)
run.finish()
"""


def wait_status(run_dirs: list[Path], url: str, status: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [json.loads(p.read_text()) for d in run_dirs for p in (d / "sync").glob("*.json")]
        if len(states) == len(run_dirs) and all(s["status"] == status for s in states):
            return
        time.sleep(0.2)
    raise AssertionError(f"runs not {status} on the remote within {timeout} s")


def marker_id(run_dir: Path) -> str:
    return json.loads((run_dir / "localtrack-run.json").read_text())["run_id"]


def test_runs_synced_while_training_logs_end_identical(tmp_path, mlflow_server):
    root = tmp_path / "runs"
    root.mkdir()
    proc = start_daemon(root, mlflow_server.url, tmp_path / "daemon.log")
    try:
        tb_dir = root / "tb-live" / "exp1"
        children = [
            subprocess.Popen([sys.executable, "-c", TB_CHILD, str(tb_dir)]),
            subprocess.Popen([sys.executable, "-c", WANDB_CHILD, str(root)]),
        ]
        assert [c.wait(timeout=120) for c in children] == [0, 0]
        wandb_dir = next((root / "live-wandb").iterdir())
        wait_status([tb_dir, wandb_dir], mlflow_server.url, "FINISHED")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    client = MlflowClient(mlflow_server.url)
    assert_synced(client, tb_dir, marker_id(tb_dir))
    rid = assert_synced(client, wandb_dir, marker_id(wandb_dir))
    run = client.get_run(rid)
    assert run.data.params == {"lr": "0.01", "opt/name": "adam"}
    assert run.info.run_name == "otter" and run.info.status == "FINISHED"


def test_basic_auth_right_credentials_sync_wrong_ones_need_a_person(
    tmp_path, auth_server, monkeypatch
):
    run = Store(tmp_path, project="auth")
    run.scalars([("a", s, float(s)) for s in range(1200)])
    run.finish()
    files_before = {
        p: hashlib.sha1(p.read_bytes()).hexdigest() for p in run.dir.rglob("*") if p.is_file()
    }

    wrong = daemon_env(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD="wrong-Pass-42")
    args = [LOCALTRACK, "sync", "--once", "--root", str(tmp_path), "--uri", auth_server.url]
    bad = subprocess.run(args, env=wrong, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    status = subprocess.run(
        [*args[:2], "--status", *args[3:]], env=wrong, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 1
    assert "needs a person" in status.stdout and "401" in status.stdout
    after = {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in run.dir.rglob("*") if p.is_file()}
    assert {p: h for p, h in after.items() if "sync" not in p.parts} == files_before
    for text in [bad.stderr, status.stdout, *(p.read_text() for p in (run.dir / "sync").iterdir())]:
        assert "wrong-Pass-42" not in text

    right = daemon_env(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    good = subprocess.run(args, env=right, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    assert_synced(MlflowClient(auth_server.url), run.dir, run.run_id)
    for p in [*(run.dir / "sync").iterdir()]:
        assert ADMIN_PASSWORD not in p.read_text()
    ok = subprocess.run(
        [*args[:2], "--status", *args[3:]], env=right, capture_output=True, text=True
    )
    assert ok.returncode == 0 and " synced " in ok.stdout


def test_sigterm_finishes_the_request_in_flight_and_exits_cleanly(tmp_path, mlflow_server):
    run = Store(tmp_path, project="sigterm")
    for i in range(40):
        run.scalars([("a", i * 1000 + s, float(s)) for s in range(1000)])
    log = tmp_path / "daemon.log"
    proc = start_daemon(tmp_path, mlflow_server.url, log)
    deadline = time.monotonic() + 60
    while load_state(run.dir, mlflow_server.url, run.run_id).points == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[-1] == {**events[-1], "event": "daemon_stopped", "exit_code": 0}
    assert 0 < load_state(run.dir, mlflow_server.url, run.run_id).points < 40_000
    # What it recorded is what the server holds; the rest follows on the next sync.
    assert (
        subprocess.run(
            [LOCALTRACK, "sync", "--once", "--root", str(tmp_path), "--uri", mlflow_server.url],
            env=daemon_env(),
            timeout=120,
        ).returncode
        == 0
    )
    assert_synced(MlflowClient(mlflow_server.url), run.dir, run.run_id)


def test_daemon_and_sync_are_localtrack_commands():
    top = subprocess.run([LOCALTRACK, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "daemon" in top.stdout and "sync" in top.stdout
    for cmd in ("daemon", "sync"):
        sub = subprocess.run(
            [LOCALTRACK, cmd, "--help"], capture_output=True, text=True, timeout=60
        )
        assert sub.returncode == 0 and "--root" in sub.stdout and "--uri" in sub.stdout
