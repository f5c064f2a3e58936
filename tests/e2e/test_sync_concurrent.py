"""Several syncers on one store at once, against a real MLflow server: still exactly once.

Real `localtrack sync --once` and `localtrack daemon` processes, started together on one store
of 12 runs; every local run ends as one MLflow run holding every local point once, every process
exits 0, and `sync --status` says synced. A duplicate MLflow run made by hand converges to one.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from daemon_proc import daemon_env, start_daemon
from localtrack_daemon.cli import main as cli
from localtrack_daemon.converge import DUPLICATE_TAG
from localtrack_daemon.remote import Remote, classify
from localtrack_daemon.report import report_all
from localtrack_daemon.state import load_state, state_path
from localtrack_daemon.upload import RunUpload
from mlflow import MlflowClient
from sync_store import Store, assert_synced, local_points, mlflow_runs

pytestmark = pytest.mark.mlflow
RUNS = 12


def store_of_runs(root: Path, project: str, n: int = RUNS) -> list[Store]:
    """`n` finished runs, each with params and three segments of two tags."""
    runs = []
    for i in range(n):
        run = Store(root, project=project, name=f"run-{i}")
        run.config({"lr": 0.001 * (i + 1), "opt": "adam", "layers": [i, i + 1], "seed": i})
        for seg in range(3):
            base = seg * 200
            run.scalars(
                [("loss", base + s, 1.0 / (base + s + 1)) for s in range(200)]
                + [("acc", base + s, (base + s) / 600) for s in range(200)]
            )
        run.finish()
        runs.append(run)
    return runs


def start_once(root: Path, url: str, err: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "localtrack_daemon", "sync", "--once", "--root", str(root),
            "--uri", url, "--grace", "0", "--timeout", "20", "--backoff-max", "1"]  # fmt: skip
    with open(err, "wb") as f:
        return subprocess.Popen(args, env=daemon_env(), stdout=subprocess.DEVNULL, stderr=f)


def assert_all_synced(root: Path, url: str, runs: list[Store], capsys) -> None:
    client = MlflowClient(url)
    for run in runs:
        # The lock kept every run to one creator: not even a deleted duplicate exists.
        assert len(mlflow_runs(client, run.run_id)) == 1, run.run_id
        rid = assert_synced(client, run.dir, run.run_id, view=1)
        assert client.get_run(rid).info.status == "FINISHED"
        assert client.get_run(rid).data.params["lr"] == str(0.001 * (runs.index(run) + 1))
    capsys.readouterr()
    assert cli(["sync", "--status", "--root", str(root), "--uri", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(runs)
    assert all("  synced  " in line for line in lines), lines
    assert not list(root.glob("*/*/sync/*.lock")), "a lock was left behind"


@pytest.mark.parametrize("processes", [2, 4])
def test_sync_once_processes_started_together_upload_each_run_once(
    tmp_path, mlflow_server, capsys, processes
):
    root = tmp_path / "runs"
    runs = store_of_runs(root, f"concurrent-{processes}")
    procs = [
        start_once(root, mlflow_server.url, tmp_path / f"sync{i}.err") for i in range(processes)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    errs = [(tmp_path / f"sync{i}.err").read_text() for i in range(processes)]
    assert codes == [0] * processes, errs
    assert not any("needs a person" in e or "retry later" in e for e in errs), errs
    assert_all_synced(root, mlflow_server.url, runs, capsys)


def wait_synced(root: Path, url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = report_all(root, url)
        if reports and all(r.status == "synced" and not r.holder for r in reports):
            return
        time.sleep(0.2)
    raise AssertionError([r.line() for r in report_all(root, url)])


def test_a_daemon_and_a_sync_once_upload_each_run_once(tmp_path, mlflow_server, capsys):
    root = tmp_path / "runs"
    runs = store_of_runs(root, "concurrent-daemon")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(root, mlflow_server.url, log)
    once = start_once(root, mlflow_server.url, tmp_path / "once.err")
    try:
        assert once.wait(timeout=300) == 0, (tmp_path / "once.err").read_text()
        wait_synced(root, mlflow_server.url)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0, log.with_suffix(".err").read_text()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert not [e for e in events if e["event"] == "sync_failed"]
    assert_all_synced(root, mlflow_server.url, runs, capsys)


def rest(url: str, endpoint: str, body: dict) -> dict:
    reply = requests.post(f"{url}/api/2.0/mlflow/{endpoint}", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize("made_by_hand", ["earlier", "later"])
def test_a_duplicate_mlflow_run_converges_to_one_without_losing_a_point(
    tmp_path, mlflow_server, made_by_hand
):
    """A second MLflow run with the run's tag, holding part of its points: one is kept (the
    earliest started), the other tagged and deleted, and the kept one holds every point."""
    root = tmp_path / "runs"
    (run,) = store_of_runs(root, f"duplicate-{made_by_hand}", n=1)
    url = mlflow_server.url
    assert cli(["sync", "--once", "--root", str(root), "--uri", url, "--grace", "0"]) == 0
    client = MlflowClient(url)
    first = assert_synced(client, run.dir, run.run_id)
    info = client.get_run(first).info
    shift = -1000 if made_by_hand == "earlier" else 1000
    dup = rest(url, "runs/create", {
        "experiment_id": info.experiment_id, "run_name": "by hand",
        "start_time": info.start_time + shift,
        "tags": [{"key": "localtrack.run_id", "value": run.run_id}],
    })["run"]["info"]["run_id"]  # fmt: skip
    some = sorted(local_points(run.dir)["loss"])[:150]  # part of the points, as a copy sent
    rest(url, "runs/log-batch", {"run_id": dup, "metrics": [
        {"key": "loss", "step": s, "timestamp": t, "value": v} for s, t, v in some
    ]})  # fmt: skip
    assert len(mlflow_runs(client, run.run_id, view=1)) == 2

    assert cli(["sync", "--once", "--root", str(root), "--uri", url, "--grace", "0"]) == 0
    kept, gone = (dup, first) if made_by_hand == "earlier" else (first, dup)
    assert assert_synced(client, run.dir, run.run_id, view=1) == kept
    retired = client.get_run(gone)
    assert retired.info.lifecycle_stage == "deleted"  # restorable, not purged
    assert retired.data.tags[DUPLICATE_TAG] == kept
    got = client.get_run(kept)
    assert got.info.status == "FINISHED"
    assert got.data.params["opt"] == "adam"


RACE = (
    '{"error_code": "BAD_REQUEST", "message": "(sqlite3.IntegrityError) UNIQUE constraint '
    'failed: params.key, params.run_uuid"}'
)


class RacingRemote(Remote):
    """Its first params request loses an insert race: a racer's params landed just before."""

    def __init__(self, url: str, racer: dict[str, str]) -> None:
        super().__init__(url)
        self.racer = racer
        self.raced = False

    def log_batch(self, body: str) -> None:
        sent = json.loads(body)
        if "params" in sent and not self.raced:
            self.raced = True
            params = [{"key": k, "value": v} for k, v in self.racer.items()]
            rest(self.url, "runs/log-batch", {"run_id": sent["run_id"], "params": params})
            raise classify(400, RACE, "runs/log-batch")
        super().log_batch(body)


@pytest.mark.parametrize("racer_lr", ["0.001", "0.5"])
def test_a_param_insert_race_is_settled_by_reading_the_params_back(
    tmp_path, mlflow_server, racer_lr
):
    """The same value: done, nothing for a person. Another value: a conflict, as always."""
    (run,) = store_of_runs(tmp_path / "runs", f"param-race-{racer_lr}", n=1)
    remote = RacingRemote(mlflow_server.url, {"lr": racer_lr, "opt": "adam"})
    events: list[str] = []
    try:
        upload = RunUpload(run.dir, remote, log=lambda event, **_: events.append(event), grace_s=0)
        upload.sync()
    finally:
        remote.close()
    assert remote.raced
    got = MlflowClient(mlflow_server.url).get_run(upload.run_id).data.params
    assert got == {"lr": racer_lr, "opt": "adam", "layers": "[0, 1]", "seed": "0"}
    if racer_lr == "0.001":  # ours too
        assert upload.state.conflicts == {} and "param_conflict" not in events
        assert set(upload.state.params) == {"lr", "opt", "layers", "seed"}
    else:
        assert (
            list(upload.state.conflicts) == ["lr"]
            and "another value" in upload.state.conflicts["lr"]
        )
    assert_synced(MlflowClient(mlflow_server.url), run.dir, run.run_id)


def test_two_machines_without_a_shared_file_system_converge_to_one_run_each(
    tmp_path, mlflow_server
):
    """Copies of one store synced at once (no lock is shared): whatever duplicates the race
    makes converge, and a later pass on each copy points its state at the run kept."""
    first = tmp_path / "node-a"
    runs = store_of_runs(first, "no-shared-fs")
    second = tmp_path / "node-b"
    shutil.copytree(first, second)
    procs = [
        start_once(root, mlflow_server.url, tmp_path / f"{root.name}.err")
        for root in (first, second)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0], [(tmp_path / f"{r}.err").read_text() for r in ("node-a", "node-b")]
    client = MlflowClient(mlflow_server.url)
    kept = {run.run_id: assert_synced(client, run.dir, run.run_id, view=1) for run in runs}
    for root in (first, second):  # the next pass of each copy finds the kept run
        assert cli(["sync", "--once", "--root", str(root), "--uri", mlflow_server.url]) == 0
        for run in runs:
            state = load_state(root / "no-shared-fs" / run.run_id, mlflow_server.url, run.run_id)
            assert state.mlflow_run_id == kept[run.run_id]
    for run in runs:
        assert assert_synced(client, run.dir, run.run_id, view=1) == kept[run.run_id]
        for gone in mlflow_runs(client, run.run_id):
            if gone.info.run_id != kept[run.run_id]:
                assert gone.info.lifecycle_stage == "deleted"
                assert gone.data.tags[DUPLICATE_TAG] == kept[run.run_id]


def test_a_race_recorded_as_a_param_conflict_by_an_older_version_is_cleared(
    tmp_path, mlflow_server, capsys
):
    root = tmp_path / "runs"
    (run,) = store_of_runs(root, "old-race-conflict", n=1)
    url = mlflow_server.url
    assert cli(["sync", "--once", "--root", str(root), "--uri", url, "--grace", "0"]) == 0
    path = state_path(run.dir, url)
    state = json.loads(path.read_text())
    del state["params"]["lr"]
    state["conflicts"] = {"lr": "param 'lr' cannot be uploaded: the remote refused it: 400 "
                          "BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed"}  # fmt: skip
    path.write_text(json.dumps(state))
    assert cli(["sync", "--once", "--root", str(root), "--uri", url, "--grace", "0"]) == 0
    assert load_state(run.dir, url, run.run_id).conflicts == {}
    capsys.readouterr()
    assert cli(["sync", "--status", "--root", str(root), "--uri", url]) == 0
    assert "  synced  " in capsys.readouterr().out
