"""A sync state that cannot be trusted, against a real MLflow server: set aside, synced again.

Truncated, not JSON, of an unknown version, or written for another remote URL: the file is
renamed aside (never deleted), the daemon logs a warning, `sync --status` shows it, and the
run is found again by its `localtrack.run_id` tag and resent: one MLflow run, every point once.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from daemon_proc import start_daemon
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import broken_files, load_state, state_path
from mlflow import MlflowClient
from sync_store import Store, assert_synced, mlflow_runs

pytestmark = pytest.mark.mlflow


def sync_once(root, server) -> int:
    return cli(["sync", "--once", "--root", str(root), "--uri", server.url, "--grace", "0"])


def _truncate(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _garbage(raw: bytes) -> bytes:
    return b"\x00\x13not json at all"


def _future_version(raw: bytes) -> bytes:
    return json.dumps({**json.loads(raw), "version": 99}).encode()


def _other_remote(raw: bytes) -> bytes:
    return json.dumps({**json.loads(raw), "remote": "https://elsewhere.example.org"}).encode()


BREAK = {
    "truncated": _truncate,
    "not JSON": _garbage,
    "unknown version": _future_version,
    "another remote": _other_remote,
}


def _synced_run(root, server, project: str) -> Store:
    run = Store(root, project=project)
    for seg in range(3):
        run.scalars([("loss", seg * 700 + s, 1.0 / (s + 1)) for s in range(700)])
    run.config({"lr": 0.01, "layers": [2, 3]})
    assert sync_once(root, server) == 0
    return run


@pytest.mark.parametrize("case", list(BREAK))
def test_an_untrusted_state_is_set_aside_and_the_run_synced_again_once(
    tmp_path, mlflow_server, capsys, case
):
    run = _synced_run(tmp_path, mlflow_server, f"state-{case.replace(' ', '-')}")
    client = MlflowClient(mlflow_server.url)
    rid = assert_synced(client, run.dir, run.run_id)
    path = state_path(run.dir, mlflow_server.url)
    broken = BREAK[case](path.read_bytes())
    path.write_bytes(broken)
    run.scalars([("loss", 2100 + s, 0.5) for s in range(300)])  # new points too
    run.finish()
    capsys.readouterr()

    assert cli(["sync", "--status", "--root", str(tmp_path), "--uri", mlflow_server.url]) == 0
    assert "sync state not trusted" in capsys.readouterr().out

    assert sync_once(tmp_path, mlflow_server) == 0
    assert assert_synced(client, run.dir, run.run_id) == rid  # the same run, found by its tag
    assert client.get_run(rid).info.status == "FINISHED"
    assert client.get_run(rid).data.params["lr"] == "0.01"
    (kept,) = broken_files(run.dir, mlflow_server.url)
    assert kept.read_bytes() == broken  # set aside as it was, never deleted
    state = load_state(run.dir, mlflow_server.url, run.run_id)
    assert state.mlflow_run_id == rid and state.set_aside[0].file == kept.name
    capsys.readouterr()
    assert cli(["sync", "--status", "--root", str(tmp_path), "--uri", mlflow_server.url]) == 0
    line = capsys.readouterr().out
    assert " synced " in line and "sync state set aside" in line and kept.name in line, line

    # The next pass trusts the new state: nothing is set aside again, nothing doubles.
    assert sync_once(tmp_path, mlflow_server) == 0
    assert len(broken_files(run.dir, mlflow_server.url)) == 1
    assert len(mlflow_runs(client, run.run_id)) == 1
    assert_synced(client, run.dir, run.run_id)


def test_the_daemon_logs_a_warning_when_it_sets_a_state_aside(tmp_path, mlflow_server):
    root = tmp_path / "runs"
    run = _synced_run(root, mlflow_server, "state-daemon")
    path = state_path(run.dir, mlflow_server.url)
    path.write_bytes(_truncate(path.read_bytes()))
    run.finish()
    log = tmp_path / "daemon.log"
    proc = start_daemon(root, mlflow_server.url, log)
    try:
        deadline = time.monotonic() + 120
        while load_state(run.dir, mlflow_server.url, run.run_id).status != "FINISHED":
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    aside = [x for x in lines if x["event"] == "state_set_aside"]
    assert len(aside) == 1 and aside[0]["level"] == "warning", lines
    assert "not valid JSON" in aside[0]["why"] and aside[0]["run"] == run.run_id
    assert not [x for x in lines if x["event"] == "sync_failed"], lines
    assert_synced(MlflowClient(mlflow_server.url), run.dir, run.run_id)
