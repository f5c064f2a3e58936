"""Each run's report as the MLflow artifact `localtrack/report.html`: it holds the run's
values, is not uploaded again while the run is unchanged, and is refreshed once it changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient

import localtrack
from localtrack._ui.report.packing import unpack

pytestmark = pytest.mark.mlflow
DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def report_of(html: str) -> dict:
    found = DATA.search(html)
    assert found, "the report holds no data block"
    return json.loads(found.group(1))


def server_file(server_dir: Path, artifact_uri: str, path: str) -> Path:
    """Where the server's artifact store keeps one of the run's artifacts."""
    location = artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
    return server_dir / "artifacts" / location / path


def test_the_report_artifact_holds_the_run_and_is_refreshed_only_on_change(
    tmp_path: Path, mlflow_server
) -> None:
    log_dir = tmp_path / "rep" / "exp1"
    w = localtrack.SummaryWriter(log_dir)
    rng = np.random.default_rng(0)
    for step in range(4):
        w.add_scalar("loss", 1.0 / (step + 1) + 1e-9, step)
        w.add_histogram("weights/fc1", rng.normal(size=500), step)
        w.add_text("notes", f"epoch {step}: <i>fine</i>", step)
    w.add_image("samples", rng.integers(0, 256, (3, 8, 8), dtype=np.uint8), 3)
    w.add_hparams({"lr": 0.05, "opt": "sgd"}, {"hp/best": 0.875})
    w.close()
    args = ["sync", "--once", "--root", str(tmp_path / "rep"), "--uri", mlflow_server.url]
    assert cli(args) == 0

    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    state = load_state(log_dir, mlflow_server.url, run_id)
    client = MlflowClient(mlflow_server.url)
    rid = state.mlflow_run_id
    assert "localtrack/report.html" in [a.path for a in client.list_artifacts(rid, "localtrack")]
    html = Path(client.download_artifacts(rid, "localtrack/report.html", str(tmp_path / "dl")))
    report = report_of(html.read_text(encoding="utf-8"))
    assert [r["run_id"] for r in report["runs"]] == [run_id]
    (loss,) = [c for c in report["scalars"] if c["tag"] == "loss"]
    assert unpack(loss["series"][0]["x"]).tolist() == [0, 1, 2, 3]
    assert unpack(loss["series"][0]["y"]).tolist() == [1.0 / (s + 1) + 1e-9 for s in range(4)]
    assert [h["tag"] for h in report["histograms"]] == ["weights/fc1"]
    assert len(report["histograms"][0]["ridges"]) == 4
    assert [i["text"] for i in report["texts"][0]["items"]] == [
        f"epoch {s}: <i>fine</i>" for s in range(4)
    ]
    (row,) = report["hparams"]["rows"]
    assert row["hparams"] == {"lr": 0.05, "opt": "sgd"} and row["metrics"]["hp/best"] == 0.875
    assert [(i["tag"], i["step"]) for i in report["images"]] == [("samples", 3)]
    assert "<i>" not in html.read_text(encoding="utf-8").split('id="report-data">')[1][:100_000]

    # Unchanged: a second sync uploads nothing again (the server's file is untouched).
    stored = server_file(mlflow_server.dir, state.artifact_uri, "localtrack/report.html")
    before = stored.stat().st_mtime_ns
    uploaded_at = state.artifacts_at["localtrack/report.html"]
    assert cli(args) == 0
    assert stored.stat().st_mtime_ns == before
    again = load_state(log_dir, mlflow_server.url, run_id)
    assert again.artifacts_at["localtrack/report.html"] == uploaded_at

    # Changed (a later writer logs one more step): the report is made and uploaded again.
    w = localtrack.SummaryWriter(log_dir)
    w.add_scalar("loss", 0.01, 10)
    w.close()
    assert cli(args) == 0
    assert stored.stat().st_mtime_ns != before
    report = report_of(stored.read_text(encoding="utf-8"))
    (loss,) = [c for c in report["scalars"] if c["tag"] == "loss"]
    assert unpack(loss["series"][0]["x"]).tolist() == [0, 1, 2, 3, 10]
    assert unpack(loss["series"][0]["y"])[-1] == 0.01


def test_a_live_runs_report_waits_a_minute_and_the_finished_one_goes_at_once(
    tmp_path: Path, mlflow_server
) -> None:
    log_dir = tmp_path / "live" / "exp1"
    args = ["sync", "--once", "--root", str(tmp_path / "live"), "--uri", mlflow_server.url]
    w = localtrack.SummaryWriter(log_dir)
    w.add_scalar("loss", 1.0, 0)
    w.flush()
    assert cli(args) == 0
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    state = load_state(log_dir, mlflow_server.url, run_id)
    stored = server_file(mlflow_server.dir, state.artifact_uri, "localtrack/report.html")
    first = stored.read_bytes()
    assert unpack(report_of(first.decode())["scalars"][0]["series"][0]["y"]).tolist() == [1.0]

    w.add_scalar("loss", 0.5, 1)  # changed while live, within the minute: not made again
    w.flush()
    assert cli(args) == 0
    assert stored.read_bytes() == first

    w.close()  # finished: made again at once, with every point
    assert cli(args) == 0
    report = report_of(stored.read_text(encoding="utf-8"))
    assert unpack(report["scalars"][0]["series"][0]["y"]).tolist() == [1.0, 0.5]
    assert report["runs"][0]["status"] == "finished"


def test_no_report_uploads_the_data_without_the_report(tmp_path: Path, mlflow_server) -> None:
    log_dir = tmp_path / "plain" / "exp1"
    with localtrack.SummaryWriter(log_dir) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
    root = str(tmp_path / "plain")
    assert cli(["sync", "--once", "--no-report", "--root", root, "--uri", mlflow_server.url]) == 0
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    rid = load_state(log_dir, mlflow_server.url, run_id).mlflow_run_id
    client = MlflowClient(mlflow_server.url)
    assert [m.value for m in client.get_metric_history(rid, "loss")] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert "localtrack/report.html" not in [
        a.path for a in client.list_artifacts(rid, "localtrack")
    ]
    # without the option, the next pass adds it: the data is already there
    assert cli(["sync", "--once", "--root", root, "--uri", mlflow_server.url]) == 0
    assert "localtrack/report.html" in [a.path for a in client.list_artifacts(rid, "localtrack")]
