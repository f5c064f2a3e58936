"""/api/aggregate over runs logged with the real writer: per group of a config key, the mean,
median, min/max and std at each step equal numpy's over the runs that logged that step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

import localtrack

STEPS = 40
LRS = (0.1, 0.01)
SEEDS = (0, 1, 2)


def value(lr: float, seed: int, step: int) -> float:
    return (1.0 + seed * 0.37) / (1 + lr * 10 * step) + ((step * (seed + 3)) % 7) * 0.01


def sparse(lr: float, seed: int) -> bool:
    """One run logs every other step only: the steps it lacks count the others only."""
    return lr == 0.01 and seed == 2


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agg")
    for lr in LRS:
        for seed in SEEDS:
            run = localtrack.init(
                project="agg",
                name=f"lr{lr}-s{seed}",
                dir=str(root),
                config={"lr": lr, "seed": seed},
            )
            for step in range(STEPS):
                if sparse(lr, seed) and step % 2:
                    continue
                run.log({"loss": value(lr, seed, step)}, step=step)
            run.log({"loss": float("nan")}, step=STEPS)  # left out of every statistic
            run.finish()
    with localtrack.SummaryWriter(str(root / "agg" / "no-config")) as w:  # no lr: its own group
        for step in range(STEPS):
            w.add_scalar("loss", 5.0, step)
    return root


@pytest.fixture(scope="module")
def get(root: Path) -> Iterator:
    with localtrack.ui.serve(root, port=0) as handle:
        s = requests.Session()
        s.headers["Authorization"] = f"token {handle.token}"

        def fetch(path: str, **params: object) -> dict:
            r = s.get(f"http://127.0.0.1:{handle.port}{path}", params=params)
            assert r.status_code == 200, r.text
            return r.json()

        yield fetch


def expected(lr: float, steps: range) -> list[list[float]]:
    """Per step: the values of the runs with this lr that logged it."""
    return [
        [value(lr, seed, s) for seed in SEEDS if not (sparse(lr, seed) and s % 2)] for s in steps
    ]


@pytest.mark.parametrize(("stat", "band"), [("mean", "minmax"), ("median", "std"), ("mean", "std")])
def test_each_step_holds_numpys_statistic_over_the_group(get, stat: str, band: str) -> None:
    answer = get("/api/aggregate", tag="loss", by="lr", stat=stat, band=band, width=800)
    groups = {json.dumps(g["value"]): g for g in answer["groups"]}
    assert list(groups) == ["0.01", "0.1", "null"]  # numbers in order, then the runs without
    assert len(groups["null"]["runs"]) == 1 and groups["null"]["y"] == [5.0] * STEPS
    for lr in LRS:
        g = groups[json.dumps(lr)]
        assert len(g["runs"]) == 3
        assert g["x"] == list(range(STEPS))  # the NaN at step STEPS is no point
        values = expected(lr, range(STEPS))
        assert g["n"] == [len(v) for v in values]
        center = [np.mean(v) if stat == "mean" else np.median(v) for v in values]
        np.testing.assert_allclose(g["y"], center, rtol=1e-12)
        if band == "minmax":
            np.testing.assert_allclose(g["lo"], [np.min(v) for v in values], rtol=1e-12)
            np.testing.assert_allclose(g["hi"], [np.max(v) for v in values], rtol=1e-12)
        else:
            std = [np.std(v) for v in values]
            np.testing.assert_allclose(g["lo"], np.subtract(center, std), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(g["hi"], np.add(center, std), rtol=1e-12, atol=1e-12)


def test_more_steps_than_columns_average_each_run_per_column_first(get) -> None:
    answer = get("/api/aggregate", tag="loss", by="seed", band="none", width=8)
    g = next(g for g in answer["groups"] if g["value"] == 2)
    # columns of 39/8 steps over [0, 39]: a run's points in a column are averaged, then the runs
    edges = [int(np.floor(s / 39 * 8)) if s < 39 else 7 for s in range(STEPS)]
    want_x, want_y = [], []
    for col in range(8):
        steps = [s for s in range(STEPS) if edges[s] == col]
        per_run = []
        for lr in LRS:
            mine = [value(lr, 2, s) for s in steps if not (sparse(lr, 2) and s % 2)]
            if mine:
                per_run.append(np.mean(mine))
        want_x.append(min(steps))
        want_y.append(np.mean(per_run))
    assert g["x"] == want_x
    np.testing.assert_allclose(g["y"], want_y, rtol=1e-12)
    assert g["lo"] == [] and g["hi"] == []


def test_keys_list_what_runs_can_be_grouped_by(get) -> None:
    keys = {k["key"]: k for k in get("/api/aggregate/keys")["keys"]}
    assert keys["lr"] == {"key": "lr", "runs": 6, "values": 2}
    assert keys["seed"] == {"key": "seed", "runs": 6, "values": 3}


def test_a_bad_request_is_refused(root: Path) -> None:
    with localtrack.ui.serve(root, port=0) as handle:
        r = requests.get(
            f"http://127.0.0.1:{handle.port}/api/aggregate",
            params={"tag": "loss", "by": "lr", "stat": "mode"},
            headers={"Authorization": f"token {handle.token}"},
        )
    assert r.status_code == 400 and "stat must be one of" in r.json()["error"]
