"""The W&B-style API: init, log, config, summary, watch, finish, resume."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import localtrack
from localtrack import Histogram, Image, RunNotFoundError, UsageError
from localtrack._store.runs import run_status
from localtrack._store.segments import read_stream
from localtrack._writer.images import decode_png


def stream(run, name):
    table = read_stream(Path(run.dir), name)
    return [] if table is None else table.to_pylist()


def latest(run, name):
    rows = sorted(stream(run, name), key=lambda r: (r["wall_time"], r["seq"]))
    return {r["key"]: json.loads(r["value"]) for r in rows}


def test_the_issue_example(tmp_path):
    run = localtrack.init(project="my-test-project", config={"lr": 0.1}, dir=tmp_path)
    run.config.batch_size = 4
    for epoch in range(3):
        run.log({"accuracy": 0.5 + epoch / 10, "loss": 1.0 / (epoch + 1)})
    run.finish()
    assert run.dir == str(tmp_path / "my-test-project" / run.id)
    got = sorted((r["tag"], r["step"], r["value"]) for r in stream(run, "scalars"))
    assert got == [
        ("accuracy", 0, 0.5),
        ("accuracy", 1, 0.6),
        ("accuracy", 2, 0.7),
        ("loss", 0, 1.0),
        ("loss", 1, 0.5),
        ("loss", 2, 1 / 3),
    ]
    assert latest(run, "config") == {"lr": 0.1, "batch_size": 4}
    assert latest(run, "summary") == {"accuracy": 0.7, "loss": 1 / 3}
    assert run_status(tmp_path / "my-test-project" / run.id) == "finished"


def test_steps_follow_wandb(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"a": 1.0})  # step 0
    run.log({"b": 2.0}, commit=False)  # step 1, not committed
    run.log({"c": 3.0})  # still step 1
    run.log({"d": 4.0}, step=10)
    run.log({"e": 5.0})  # still step 10: log(step=N) does not commit (W&B)
    run.finish()
    got = {r["tag"]: r["step"] for r in stream(run, "scalars")}
    assert got == {"a": 0, "b": 1, "c": 1, "d": 10, "e": 10}


def test_nested_dicts_media_arrays_and_text(tmp_path):
    torch = pytest.importorskip("torch")
    run = localtrack.init(project="p", dir=tmp_path)
    img = np.zeros((4, 6, 3), dtype=np.uint8)
    img[0, 0] = [255, 0, 0]
    run.log(
        {
            "train": {"loss": 0.25, "acc": np.float64(0.75)},
            "weights": np.arange(100.0),
            "grad": torch.ones(10),
            "hist": Histogram([1, 2, 2, 3], num_bins=3),
            "sample": Image(img, caption="first"),
            "chw": Image(torch.zeros(3, 2, 5)),
            "note": "hello",
            "t": torch.tensor(2.5),
        }
    )
    run.finish()
    scalars = {r["tag"]: r["value"] for r in stream(run, "scalars")}
    assert scalars == {"train/loss": 0.25, "train/acc": 0.75, "t": 2.5}
    hists = {r["tag"]: r for r in stream(run, "histograms")}
    assert hists["weights"]["num"] == 100 and hists["grad"]["num"] == 10
    assert hists["hist"]["bucket_counts"] == [1.0, 2.0, 1.0]
    images = {r["tag"]: r for r in stream(run, "images")}
    assert np.array_equal(decode_png(images["sample"]["data"]), img)
    assert images["sample"]["caption"] == "first"
    assert (images["chw"]["height"], images["chw"]["width"]) == (2, 5)
    assert [r["text"] for r in stream(run, "texts")] == ["hello"]


def test_config_update_namespace_and_value_change(tmp_path):
    ns = argparse.Namespace(epochs=3, opt={"name": "adam", "beta": 0.9})
    run = localtrack.init(project="p", config=ns, dir=tmp_path)
    run.config.update({"lr": 0.1})
    run.config["dropout"] = 0.2
    assert run.config.lr == 0.1 and run.config["epochs"] == 3 and "dropout" in run.config
    with pytest.raises(UsageError, match="allow_val_change=True"):
        run.config.lr = 0.2
    run.config.update({"lr": 0.3}, allow_val_change=True)
    run.finish()
    assert latest(run, "config") == {
        "epochs": 3,
        "opt/name": "adam",
        "opt/beta": 0.9,
        "lr": 0.3,
        "dropout": 0.2,
    }


def test_module_level_functions_follow_the_current_run(tmp_path):
    with pytest.raises(UsageError, match="init"):
        localtrack.log({"x": 1})
    run = localtrack.init(project="p", dir=tmp_path, config={"a": 1})
    assert localtrack.run is run and localtrack.config.a == 1
    localtrack.log({"x": 1.0})
    localtrack.summary["best"] = 0.9
    localtrack.finish()
    assert localtrack.run is None
    assert [r["value"] for r in stream(run, "scalars")] == [1.0]
    assert latest(run, "summary")["best"] == 0.9


def test_context_manager_marks_failure(tmp_path):
    with pytest.raises(RuntimeError), localtrack.init(project="p", dir=tmp_path) as run:
        run.log({"x": 1.0})
        raise RuntimeError("boom")
    assert run_status(tmp_path / "p" / run.id) == "failed"
    assert [r["value"] for r in stream(run, "scalars")] == [1.0]


def test_resume_appends_to_the_same_run(tmp_path):
    first = localtrack.init(project="p", dir=tmp_path, id="abc123", config={"lr": 0.1})
    first.log({"loss": 1.0})
    first.log({"loss": 0.5})
    first.finish()
    again = localtrack.init(project="p", dir=tmp_path, id="abc123", resume="must")
    assert again.resumed and again.config.lr == 0.1 and again.step == 2
    again.log({"loss": 0.25})
    again.finish()
    assert sorted((r["step"], r["value"]) for r in stream(again, "scalars")) == [
        (0, 1.0),
        (1, 0.5),
        (2, 0.25),
    ]
    with pytest.raises(RunNotFoundError):
        localtrack.init(project="p", dir=tmp_path, id="nope", resume="must")
    with pytest.raises(UsageError, match="resume='allow'"):
        localtrack.init(project="p", dir=tmp_path, id="abc123", resume="never")


def test_watch_logs_gradients_and_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = localtrack.init(project="p", dir=tmp_path)
    run.watch(model, log="all", log_freq=2)
    for _ in range(4):
        loss = model(torch.randn(8, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss})
    run.finish()
    tags = [(r["tag"], r["step"]) for r in stream(run, "histograms")]
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for kind in ("parameters", "gradients"):
        for name in names:
            assert [s for t, s in tags if t == f"{kind}/{name}"] == [1, 3]
    weights = next(r for r in stream(run, "histograms") if r["tag"] == "parameters/0.weight")
    assert weights["num"] == 12
    with pytest.raises(UsageError, match="log must be"):
        localtrack.init(project="p", dir=tmp_path).watch(model, log="everything")
