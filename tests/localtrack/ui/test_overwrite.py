"""The dashboard shows a W&B run's key logged twice at one step once, with its last value."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

import localtrack
from localtrack._ui.wire import decode_series


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("overwrite")
    run = localtrack.init(project="wb", name="twice", dir=str(root))
    for step in range(5):
        run.log({"loss": 10.0 + step}, step=step)
        run.log({"loss": float(step)}, step=step)  # W&B keeps this one
    run.finish()
    with localtrack.SummaryWriter(root / "tb" / "both") as w:  # TensorBoard keeps both
        for step in range(5):
            w.add_scalar("loss", 10.0 + step, step)
            w.add_scalar("loss", float(step), step)
    return root


@pytest.fixture(scope="module")
def dashboard(store: Path) -> Iterator[tuple[str, requests.Session, dict[str, str]]]:
    with localtrack.ui.serve(store, port=0) as handle:
        http = requests.Session()
        http.headers["Authorization"] = f"token {handle.token}"
        base = f"http://127.0.0.1:{handle.port}"
        runs = {r["name"]: r["run_id"] for r in http.get(base + "/api/runs").json()["runs"]}
        yield base, http, runs


def test_chart_and_downloads_keep_the_last_value_of_a_wandb_run(dashboard) -> None:
    base, http, runs = dashboard
    r = http.get(base + "/api/series", params={"tag": "loss", "runs": runs["twice"], "width": 800})
    head, (cols,) = decode_series(r.content)
    assert head["series"][0]["points"] == 5
    assert np.array_equal(cols["x"], np.arange(5)) and np.array_equal(cols["y"], np.arange(5.0))
    rows = list(
        csv.DictReader(
            io.StringIO(
                http.get(
                    base + "/api/series.csv", params={"tag": "loss", "runs": runs["twice"]}
                ).text
            )
        )
    )
    assert [(int(x["step"]), float(x["value"])) for x in rows] == [(s, float(s)) for s in range(5)]
    page = http.get(base + "/api/run", params={"id": runs["twice"]}).json()
    (loss,) = page["scalars"]
    assert (loss["points"], loss["last"], loss["max"]) == (5, 4.0, 4.0)


def test_runs_panel_and_localtrack_runs_show_the_last_value(dashboard, store, capsys) -> None:
    base, http, _ = dashboard
    panel = {r["name"]: r for r in http.get(base + "/api/runs").json()["runs"]}
    assert panel["twice"]["last_step"] == 4
    from localtrack._cli.main import main

    assert main(["--root", str(store), "runs", "--name", "twice", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["last_step"], row["loss"]) == (4, 4.0)


def test_a_tensorboard_run_keeps_both_points(dashboard) -> None:
    base, http, runs = dashboard
    r = http.get(base + "/api/series", params={"tag": "loss", "runs": runs["both"], "width": 800})
    head, (cols,) = decode_series(r.content)
    assert head["series"][0]["points"] == 10
    assert sorted(cols["y"].tolist()) == sorted([10.0 + s for s in range(5)] + list(range(5)))
