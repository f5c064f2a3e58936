"""`localtrack sync --once` against a real MLflow server: what lands where, once."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from localtrack_daemon import encode
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from sync_store import Store, assert_synced, mlflow_runs

pytestmark = pytest.mark.mlflow


def sync_once(root, server, *extra: str) -> int:
    return cli(["sync", "--once", "--root", str(root), "--uri", server.url, "--grace", "0", *extra])


def test_scalars_config_and_status_land_once(tmp_path, mlflow_server, capsys):
    run = Store(tmp_path, project="once-basic", name="otter-1")
    run.scalars([("Loss/train", s, 1.0 / (s + 1)) for s in range(2500)])
    run.scalars(
        [
            ("odd", 0, math.nan),
            ("odd", 1, math.inf),
            ("odd", 2, -math.inf),
            ("odd", -5, 0.5),
            ("odd", 2**63 - 1, 1e300),
            ("loss@val (ema)", 3, 2.0),
            ("ключ/точность", 1, -0.0),
        ]
    )
    run.config(
        {"lr": 0.001, "opt": "adam", "model/layers": [1, 2], "long": "x" * 7000, "имя": "сеть"}
    )
    run.finish()

    assert sync_once(tmp_path, mlflow_server) == 0
    assert "points sent" in capsys.readouterr().err
    client = MlflowClient(mlflow_server.url)
    rid = assert_synced(client, run.dir, run.run_id)
    got = client.get_run(rid)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "otter-1"
    marker = json.loads((run.dir / "localtrack-run.json").read_text())
    assert got.info.start_time == int(marker["created_at"] * 1000)
    assert got.info.end_time == run.clock_us // 1000  # the finish event's time
    assert got.data.tags["localtrack.host"] and got.data.tags["mlflow.source.name"] == "train.py"
    assert got.data.params["lr"] == "0.001" and got.data.params["opt"] == "adam"
    assert got.data.params["model/layers"] == "[1, 2]"
    assert got.data.params["имя"] == "сеть"
    neg_zero = client.get_metric_history(rid, "ключ/точность")[0].value
    assert neg_zero == 0.0  # MLflow itself drops the sign of -0.0
    assert got.data.params["long"] == "x" * 6000
    assert got.data.tags["localtrack.truncated_params"] == "long"
    mapped = encode.mlflow_key("loss@val (ema)")
    assert json.loads(got.data.tags["localtrack.key_map"]) == {"loss@val (ema)": mapped}
    assert [a.path for a in client.list_artifacts(rid, "localtrack")] == [
        "localtrack/key_map.json",
        "localtrack/report.html",  # the run's report (test_sync_report.py)
    ]
    assert client.get_experiment(got.info.experiment_id).name == "once-basic"

    # Again: nothing new is sent, nothing doubles.
    before = load_state(run.dir, mlflow_server.url, run.run_id).points
    assert sync_once(tmp_path, mlflow_server) == 0
    assert load_state(run.dir, mlflow_server.url, run.run_id).points == before
    assert_synced(client, run.dir, run.run_id)


def test_new_points_after_a_sync_are_added_and_status_follows(tmp_path, mlflow_server):
    run = Store(tmp_path, project="once-grow")
    run.scalars([("a", s, float(s)) for s in range(10)] + [("x@1", 0, 1.0)])
    run.touch_lease()
    assert sync_once(tmp_path, mlflow_server) == 0
    client = MlflowClient(mlflow_server.url)
    rid = assert_synced(client, run.dir, run.run_id)
    assert client.get_run(rid).info.status == "KILLED"  # no live writer, grace 0: crashed
    run.scalars([("a", s, float(s)) for s in range(10, 20)] + [("y#2", 0, 2.0)])
    run.finish("failed")
    assert sync_once(tmp_path, mlflow_server) == 0
    assert_synced(client, run.dir, run.run_id)
    got = client.get_run(rid)
    assert got.info.status == "FAILED"
    assert set(json.loads(got.data.tags["localtrack.key_map"])) == {"x@1", "y#2"}


def test_usb_copy_syncs_only_what_is_new_and_never_a_second_run(tmp_path, mlflow_server):
    first = tmp_path / "node"
    run = Store(first, project="once-usb")
    run.scalars([("a", s, float(s)) for s in range(1500)])
    run.config({"lr": 0.1})
    assert sync_once(first, mlflow_server) == 0
    sent = load_state(run.dir, mlflow_server.url, run.run_id).points

    usb = tmp_path / "usb"
    shutil.copytree(first, usb)
    copy = usb / "once-usb" / run.run_id
    run.dir = copy
    run.scalars([("a", s, float(s)) for s in range(1500, 1700)])
    run.finish()
    assert sync_once(usb, mlflow_server) == 0
    assert load_state(copy, mlflow_server.url, run.run_id).points == sent + 200
    client = MlflowClient(mlflow_server.url)
    assert_synced(client, copy, run.run_id)

    # A copy without its sync state (lost, or copied before any sync): still one run, no doubles.
    bare = tmp_path / "bare"
    shutil.copytree(usb, bare, ignore=shutil.ignore_patterns("sync"))
    assert sync_once(bare, mlflow_server) == 0
    assert_synced(client, bare / "once-usb" / run.run_id, run.run_id)
    assert client.get_run(mlflow_runs(client, run.run_id)[0].info.run_id).info.status == "FINISHED"


def test_compaction_between_syncs_sends_no_row_twice(tmp_path, mlflow_server):
    from sync_store import compact

    run = Store(tmp_path, project="once-compact")
    for i in range(6):
        run.scalars([("c", i * 10 + j, float(j)) for j in range(10)])
    assert sync_once(tmp_path, mlflow_server) == 0
    for i in range(6, 9):
        run.scalars([("c", i * 10 + j, float(j)) for j in range(10)])
    assert compact(run.dir) == 9
    assert sync_once(tmp_path, mlflow_server) == 0
    assert load_state(run.dir, mlflow_server.url, run.run_id).points == 90
    assert_synced(MlflowClient(mlflow_server.url), run.dir, run.run_id)


def test_a_changed_param_needs_a_person_and_blocks_no_other_run(tmp_path, mlflow_server, capsys):
    bad = Store(tmp_path, project="once-conflict")
    bad.config({"lr": 0.1})
    assert sync_once(tmp_path, mlflow_server) == 0
    bad.config({"lr": 0.2})
    bad.scalars([("a", 0, 1.0)])
    good = Store(tmp_path, project="once-conflict")
    good.scalars([("a", 0, 1.0)])
    sync_once(tmp_path, mlflow_server)
    client = MlflowClient(mlflow_server.url)
    assert_synced(client, good.dir, good.run_id)
    assert_synced(client, bad.dir, bad.run_id)  # its metrics still went up
    capsys.readouterr()
    assert cli(["sync", "--status", "--root", str(tmp_path), "--uri", mlflow_server.url]) == 1
    lines = capsys.readouterr().out.splitlines()
    line = next(x for x in lines if bad.run_id in x)
    assert "needs a person" in line and "'lr'" in line
    assert "synced" in next(x for x in lines if good.run_id in x)
