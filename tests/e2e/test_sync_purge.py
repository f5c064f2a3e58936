"""purge_step through `localtrack sync --once` to a real MLflow server: purged points are not sent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from localtrack_daemon.cli import main as cli
from localtrack_daemon.remote import Remote
from localtrack_daemon.state import load_state
from localtrack_daemon.upload import RunUpload
from mlflow import MlflowClient
from sync_store import mlflow_runs

import localtrack
from localtrack._query import connect

pytestmark = pytest.mark.mlflow


def sync_once(root: Path, server) -> int:
    return cli(["sync", "--once", "--root", str(root), "--uri", server.url, "--grace", "0"])


def write(
    run_dir: Path, purge_step: int | None, steps: range, offset: float, every: int = 0
) -> None:
    """One SummaryWriter that logs `loss` at `steps` (and an image and a histogram at every
    `every`-th step) and closes."""
    w = localtrack.SummaryWriter(run_dir, purge_step=purge_step)
    for s in steps:
        w.add_scalar("loss", s + offset, s)
        if every and s % every == 0:
            w.add_image("sample", np.full((3, 4, 4), s, np.uint8), s)
            w.add_histogram("weights", np.arange(4.0) + offset, s)
    w.close()


def purging_writer(root: Path) -> str:
    (row,) = connect(root).sql("SELECT DISTINCT purged_by FROM _purges").fetchall()
    return str(row[0])


def visible(root: Path) -> Counter[tuple[int, int, float]]:
    """(step, timestamp ms, value) of every point the scalars view shows."""
    rows = (
        connect(root)
        .sql("SELECT step, (epoch_us(wall_time) // 1000)::BIGINT, value FROM scalars")
        .fetchall()
    )
    return Counter((int(s), int(t), float(v)) for s, t, v in rows)


def remote(client: MlflowClient, rid: str) -> Counter[tuple[int, int, float]]:
    return Counter((m.step, m.timestamp, m.value) for m in client.get_metric_history(rid, "loss"))


def run_of(client: MlflowClient, run_dir: Path):
    run_id = json.loads((run_dir / "localtrack-run.json").read_text())["run_id"]
    (found,) = mlflow_runs(client, run_id)
    return run_id, found.info.run_id


def test_points_a_purge_hides_are_never_sent(tmp_path: Path, mlflow_server) -> None:
    run_dir = tmp_path / "purge-once" / "run"
    write(run_dir, None, range(100), 0.0, every=20)  # crashed at 99 ...
    write(run_dir, 50, range(50, 150), 0.5, every=20)  # ... resumed from the step-50 checkpoint
    resumed = purging_writer(tmp_path)
    assert sync_once(tmp_path, mlflow_server) == 0

    client = MlflowClient(mlflow_server.url)
    run_id, rid = run_of(client, run_dir)
    held = remote(client, rid)
    assert held == visible(tmp_path)  # exactly what the views show: one curve
    assert sorted(s for s, _, _ in held) == list(range(150))
    assert {v for s, _, v in held if s >= 50} == {s + 0.5 for s in range(50, 150)}
    tags = client.get_run(rid).data.tags
    assert tags["localtrack.purged_steps"] == "50"
    assert tags[f"localtrack.purge.{resumed}"] == "step=50 points_on_remote=0"
    # Every row is handled, hidden ones included: a second pass sends nothing.
    points = load_state(run_dir, mlflow_server.url, run_id).points
    assert points == 150
    assert sync_once(tmp_path, mlflow_server) == 0
    assert load_state(run_dir, mlflow_server.url, run_id).points == points
    assert remote(client, rid) == held
    # Images and the per-tag tables leave out what the purge hides too.
    images = [
        a.path
        for a in client.list_artifacts(rid, "images")
        if a.path.endswith(".png") and "+compressed" not in a.path
    ]
    image_steps = sorted(int(p.split("+step+")[1].split("+")[0]) for p in images)
    assert image_steps == [0, 20, 40, 60, 80, 100, 120, 140]
    local = client.download_artifacts(rid, "localtrack/histograms/weights.parquet", str(tmp_path))
    table = pq.read_table(local)
    assert table["step"].to_pylist() == image_steps
    assert table["writer"].to_pylist().count(resumed) == 5


def test_points_sent_before_the_purge_stay_and_are_reported(tmp_path: Path, mlflow_server) -> None:
    run_dir = tmp_path / "purge-late" / "run"
    write(run_dir, None, range(100), 0.0)
    assert sync_once(tmp_path, mlflow_server) == 0  # the first writer's points are up
    write(run_dir, 50, range(50, 150), 0.5)
    resumed = purging_writer(tmp_path)
    logged: list[tuple[str, dict[str, object]]] = []
    remote_ = Remote(mlflow_server.url)
    try:  # one pass as the daemon runs it, to see its log (sync --once is quiet)
        RunUpload(run_dir, remote_, log=lambda e, **f: logged.append((e, f)), grace_s=0).sync()
    finally:
        remote_.close()

    client = MlflowClient(mlflow_server.url)
    _, rid = run_of(client, run_dir)
    held = remote(client, rid)
    # MLflow cannot delete a metric point: steps 50..99 hold both writers' values there.
    assert sum(held.values()) == 200
    assert held - visible(tmp_path) == Counter(
        {k: 1 for k in held if k[0] in range(50, 100) and k[2] == k[0]}
    )
    tags = client.get_run(rid).data.tags
    assert tags["localtrack.purged_steps"] == "50"
    assert tags[f"localtrack.purge.{resumed}"] == "step=50 points_on_remote=50"
    warned = [f for e, f in logged if e == "purged_points_on_remote"]
    assert [(w["step"], w["points"]) for w in warned] == [(50, 50)]

    # Counted once: a later pass sends nothing and leaves the tag as it is.
    assert sync_once(tmp_path, mlflow_server) == 0
    assert remote(client, rid) == held
    assert client.get_run(rid).data.tags[f"localtrack.purge.{resumed}"].endswith("=50")
