"""Images as the MLflow UI's per-step grid, other streams as per-tag Parquet artifacts."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient

import localtrack
from localtrack._store.segments import read_stream

pytestmark = pytest.mark.mlflow


def artifact_paths(client, run_id, path):
    out = []
    for a in client.list_artifacts(run_id, path):
        out += artifact_paths(client, run_id, a.path) if a.is_dir else [a.path]
    return out


def test_images_histograms_and_texts_land_as_artifacts_idempotently(tmp_path, mlflow_server):
    log_dir = tmp_path / "art" / "exp1"
    w = localtrack.SummaryWriter(log_dir)
    rng = np.random.default_rng(0)
    for step in range(3):
        w.add_image("samples/input", rng.random((3, 40, 30)), step)
        w.add_image("big", rng.random((3, 300, 500)), step)
        w.add_histogram("weights/fc1", rng.normal(size=1000), step)
        w.add_text("notes", f"step **{step}**", step)
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    args = ["sync", "--once", "--root", str(tmp_path), "--uri", mlflow_server.url]
    assert cli(args) == 0

    client = MlflowClient(mlflow_server.url)
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    state = load_state(log_dir, mlflow_server.url, run_id)
    rid = state.mlflow_run_id
    run = client.get_run(rid)
    assert run.data.tags["mlflow.loggedImages"] == "True"
    images = artifact_paths(client, rid, "images")
    pattern = re.compile(
        r"images/(samples~input|big)\+step\+(\d)\+timestamp\+(\d+)\+[0-9a-f-]{36}(\.png|\+compressed\.(png|webp))"
    )
    assert all(pattern.fullmatch(p) for p in images), images
    assert len(images) == 2 * 2 * 3
    assert sum(p.endswith("+compressed.webp") for p in images) == 3  # the big ones, 256 px

    local = read_stream(log_dir, "histograms")  # every segment: big snapshots seal early
    hist = client.download_artifacts(
        rid, "localtrack/histograms/weights/fc1.parquet", str(tmp_path / "dl")
    )
    remote = pq.read_table(hist)
    assert remote["step"].to_pylist() == [0, 1, 2]
    assert remote["bucket_counts"].to_pylist() == local.sort_by("step")["bucket_counts"].to_pylist()
    texts = pq.read_table(
        client.download_artifacts(rid, "localtrack/texts/notes.parquet", str(tmp_path / "dl2"))
    )
    assert texts["text"].to_pylist() == ["step **0**", "step **1**", "step **2**"]

    # Again, and with the state lost: the very same files, none added.
    before = sorted(artifact_paths(client, rid, ""))
    assert cli(args) == 0
    for p in (log_dir / "sync").iterdir():
        p.unlink()
    assert cli(args) == 0
    assert sorted(artifact_paths(client, rid, "")) == before
    first = next(p for p in images if "compressed" not in p)
    png = client.download_artifacts(rid, first, str(tmp_path / "dl3"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_each_hparams_trial_is_a_nested_run_with_its_params_and_metrics(tmp_path, mlflow_server):
    log_dir = tmp_path / "hp" / "search"
    with localtrack.SummaryWriter(log_dir) as w:
        for i in range(5):
            w.add_hparams(
                {"lr": 0.1 * (i + 1), "opt": "sgd", "bs": 32, "nesterov": True},
                {"hparam/accuracy": 0.5 + i / 10},
                run_name=f"trial-{i}",
                global_step=i,
            )
    sync = ["sync", "--once", "--root", str(tmp_path), "--uri", mlflow_server.url]
    assert cli(sync) == 0
    client = MlflowClient(mlflow_server.url)
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    from sync_store import assert_synced

    rid = assert_synced(client, log_dir, run_id)
    parent = client.get_run(rid)
    assert parent.data.params == {}  # the trials' hparams are theirs, not the parent's

    def nested():
        runs = client.search_runs(
            [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{rid}'", run_view_type=3
        )
        return sorted(runs, key=lambda r: r.info.run_name)

    trials = nested()
    assert [r.info.run_name for r in trials] == [f"trial-{i}" for i in range(5)]
    for i, r in enumerate(trials):
        assert r.data.params == {"lr": repr(0.1 * (i + 1)), "opt": "sgd", "bs": "32",
                                 "nesterov": "true"}  # fmt: skip
        assert r.info.status == "FINISHED"
        assert r.data.tags["localtrack.hparams_of"] == run_id
        history = client.get_metric_history(r.info.run_id, "hparam/accuracy")
        assert [(m.step, m.value) for m in history] == [(i, 0.5 + i / 10)]

    # A lost sync state never duplicates a trial: they are found by their tags.
    for f in (log_dir / "sync").glob("*.json"):
        f.unlink()
    assert cli(sync) == 0
    again = nested()
    assert [r.info.run_id for r in again] == [r.info.run_id for r in trials]
    for r in again:
        assert len(client.get_metric_history(r.info.run_id, "hparam/accuracy")) == 1


def test_tables_tensors_onnx_graphs_and_boxes_land_as_artifacts(tmp_path, mlflow_server):
    log_dir = tmp_path / "more" / "exp2"
    model_file = tmp_path / "net.onnx"
    model_file.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(range(64)))
    with localtrack.SummaryWriter(log_dir) as w:
        for step in range(2):
            w.add_tensor("act", np.arange(6, dtype=np.float32).reshape(2, 3) * step, step)
            w.add_image_with_boxes("det", np.zeros((3, 20, 30)), [[2, 3, 10, 12]], step)
        w.add_onnx_graph(str(model_file))
    run = localtrack.init(project="more", name="tbl", dir=str(tmp_path))
    run.log({"preds": localtrack.Table(columns=["x", "y"], data=[[1, "a"], [2, "b"]])})
    run.finish()
    assert cli(["sync", "--once", "--root", str(tmp_path), "--uri", mlflow_server.url]) == 0

    client = MlflowClient(mlflow_server.url)

    def remote_table(run_dir, path):
        run_id = json.loads((run_dir / "localtrack-run.json").read_text())["run_id"]
        rid = load_state(run_dir, mlflow_server.url, run_id).mlflow_run_id
        return pq.read_table(client.download_artifacts(rid, path, str(tmp_path / "dl")))

    tensors = remote_table(log_dir, "localtrack/tensors/act.parquet")
    assert tensors["step"].to_pylist() == [0, 1]
    last = tensors["tensor"].to_pylist()[1]
    data = np.frombuffer(last["data"], last["dtype"]).reshape(last["shape"])
    assert data.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    boxes = remote_table(log_dir, "localtrack/boxes/det.parquet")
    assert boxes.num_rows == 2
    onnx = remote_table(log_dir, "localtrack/onnx_graphs/net.parquet")
    assert onnx["data"].to_pylist() == [model_file.read_bytes()]
    (table_dir,) = [p for p in (tmp_path / "more").iterdir() if p.name != "exp2"]
    tables = remote_table(table_dir, "localtrack/tables/preds.parquet")
    assert json.loads(tables["data"].to_pylist()[0]) == [[1, "a"], [2, "b"]]
