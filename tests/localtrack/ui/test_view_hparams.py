"""/api/hparams/table over runs logged with the real writers: a row per add_hparams trial under
its run, config and summary merged in, metrics the trial left null taken from the scalars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

import localtrack
from localtrack._ui.views import _hparams_rows as rows


def run_id_of(run_dir: Path) -> str:
    return str(json.loads((run_dir / "localtrack-run.json").read_text())["run_id"])


def table(root: Path) -> dict:
    with localtrack.ui.serve(root, port=0) as handle:
        r = requests.get(
            f"http://127.0.0.1:{handle.port}/api/hparams/table",
            headers={"Authorization": f"token {handle.token}"},
        )
    assert r.status_code == 200, r.text
    return r.json()


def test_trials_config_and_summary_become_rows(tmp_path: Path) -> None:
    sweep = tmp_path / "p" / "sweep"
    with localtrack.SummaryWriter(str(sweep)) as w:
        w.add_hparams({"lr": 0.1, "opt": "adam"}, {"acc": 0.5})
        w.add_hparams({"lr": 0.01, "opt": "sgd"}, {"acc": 0.75}, run_name="low-lr")
    single = tmp_path / "p" / "single"
    with localtrack.SummaryWriter(str(single)) as w:
        w.add_hparams({"lr": 0.3, "flag": True}, {"acc": float("nan")})
    run = localtrack.init(project="p", name="wb", dir=str(tmp_path), config={"lr": 1e-3, "seed": 7})
    run.log({"loss": 2.0}, step=0)
    run.log({"loss": 1.5}, step=1)
    run.finish()
    localtrack.SummaryWriter(str(tmp_path / "p" / "bare")).close()  # no hparams: no row

    answer = table(tmp_path)
    by_run: dict[str, list[dict]] = {}
    for row in answer["rows"]:
        by_run.setdefault(row["run_id"], []).append(row)
    assert len(by_run) == 3
    two = by_run[run_id_of(sweep)]
    assert [(r["trial"], r["index"], r["trials"]) for r in two] == [
        (None, 0, 2),  # the default name (a timestamp) is no name
        ("low-lr", 1, 2),
    ]
    assert two[0]["hparams"] == {"lr": 0.1, "opt": "adam"}
    assert two[1]["metrics"] == {"acc": 0.75}
    (one,) = by_run[run_id_of(single)]
    assert one["hparams"] == {"lr": 0.3, "flag": "true"}
    assert one["metrics"] == {"acc": "NaN"}
    wb = next(rs for rid, rs in by_run.items() if rid not in (run_id_of(sweep), run_id_of(single)))
    assert wb[0]["source"] == "config"
    assert wb[0]["hparams"] == {"lr": 1e-3, "seed": 7}
    assert wb[0]["metrics"]["loss"] == 1.5  # the automatic summary: the last value
    assert answer["hparams"] == ["flag", "lr", "opt", "seed"]
    assert answer["kinds"]["lr"] == "number" and answer["kinds"]["opt"] == "category"
    assert answer["kinds"]["flag"] == "category"


@pytest.mark.parametrize(
    ("name", "wall", "kept"),
    [
        ("1764629000.123", 1764629000.5, None),
        ("", 1764629000.5, None),
        ("lr=0.1", 1764629000.5, "lr=0.1"),
        ("1234567890", 1764629000.5, "1234567890"),  # a number far from the call's time
    ],
)
def test_a_trial_keeps_only_a_name_the_caller_gave(
    name: str, wall: float, kept: str | None
) -> None:
    assert rows.trial_name(name, wall) == kept


def test_a_null_metric_takes_the_last_scalar_value() -> None:
    stored = rows.Stored(trials={"r": [rows.Trial(None, 3, {"lr": 1}, {"acc": None, "f1": 0.2})]})
    answer = rows.table(["r"], stored, {"r": {"acc": 0.9}})
    assert answer["rows"][0]["metrics"] == {"acc": 0.9, "f1": 0.2}
    assert answer["metrics"] == ["acc", "f1"]
