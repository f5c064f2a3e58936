"""LocaltrackTracker with a real Accelerator on the CPU: by instance and by its registered name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

accelerate = pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")

from accelerate.state import AcceleratorState, PartialState  # noqa: E402

from localtrack._store.runs import run_status  # noqa: E402
from localtrack._store.segments import read_stream  # noqa: E402
from localtrack.integrations.accelerate import LocaltrackTracker  # noqa: E402


def rows(run_dir: Path, stream: str) -> list[dict]:
    table = read_stream(run_dir, stream)
    return [] if table is None else table.to_pylist()


@pytest.fixture(autouse=True)
def fresh_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()


def train(accelerator) -> None:
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    for step in range(3):
        loss = model(torch.randn(2, 4)).pow(2).mean()
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"loss": loss.item(), "lr": {"group0": 0.1}}, step=step)
    accelerator.log({"note": "done"}, step=3)
    accelerator.end_training()


def test_log_with_a_tracker_instance(tmp_path):
    tracker = LocaltrackTracker("acc", logging_dir=tmp_path)
    accelerator = accelerate.Accelerator(cpu=True, log_with=[tracker])
    accelerator.init_trackers("ignored-for-instances", config={"lr": 0.1, "epochs": 3})
    assert accelerator.get_tracker("localtrack").tracker is tracker.run
    train(accelerator)
    run_dir = Path(tracker.run.dir)
    assert run_dir.parent == tmp_path / "acc"
    assert run_status(run_dir) == "finished"
    got = sorted((r["tag"], r["step"]) for r in rows(run_dir, "scalars"))
    assert got == [("loss", 0), ("loss", 1), ("loss", 2)] + [("lr/group0", s) for s in range(3)]
    assert [(r["tag"], r["step"], r["text"]) for r in rows(run_dir, "texts")] == [
        ("note", 3, "done")
    ]
    config = {r["key"]: json.loads(r["value"]) for r in rows(run_dir, "config")}
    assert config == {"lr": 0.1, "epochs": 3}


def test_log_with_the_registered_name(tmp_path):
    accelerator = accelerate.Accelerator(cpu=True, log_with="localtrack")
    accelerator.init_trackers(
        "acc-by-name", config={"lr": 0.2}, init_kwargs={"localtrack": {"dir": tmp_path}}
    )
    tracker = accelerator.get_tracker("localtrack", unwrap=False)
    assert isinstance(tracker, LocaltrackTracker)
    train(accelerator)
    (run_dir,) = (tmp_path / "acc-by-name").iterdir()
    assert run_status(run_dir) == "finished"
    assert {r["tag"] for r in rows(run_dir, "scalars")} == {"loss", "lr/group0"}
