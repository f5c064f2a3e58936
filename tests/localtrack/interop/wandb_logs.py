"""A W&B run logged by the real wandb package, offline, and what was logged (run as a script).

`python wandb_logs.py OUT_DIR` runs in its own process (wandb starts its service process and
patches the interpreter), with WANDB_MODE=offline; it writes OUT_DIR/logged.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    import wandb

    rng = np.random.default_rng(3)
    pixels = (rng.random((8, 10, 3)) * 255).astype(np.uint8)
    weights = rng.normal(size=200)
    logged: dict = {"rows": [], "pixels": pixels.tolist(), "weights": weights.tolist()}
    config = {"lr": 0.01, "net": {"depth": 4, "act": "relu"}, "opt": "adam"}
    run = wandb.init(
        project="wbproj",
        name="trial-1",
        config=config,
        tags=["baseline", "seed3"],
        notes="first try",
        group="sweep-a",
        job_type="train",
    )
    logged["run_id"] = run.id
    for step in range(6):
        before = time.time()
        run.log({"loss": 1 / (step + 1), "acc": step / 10, "nested": {"x": step * 2}})
        logged["rows"].append({"step": step, "before": before, "after": time.time()})
    run.config.update({"batch": 32})
    before = time.time()
    run.log({"img": wandb.Image(pixels, caption="a cat"), "hist": wandb.Histogram(weights)})
    logged["media"] = {"step": 6, "before": before, "after": time.time()}
    run.log({"loss": 0.05}, step=10)
    run.summary["best"] = 0.9
    run.finish()
    logged["config"] = {**config, "batch": 32}
    (out / "logged.json").write_text(json.dumps(logged))


def resume(out: Path, run_id: str) -> None:
    """The same W&B run resumed by another process: a second log, in its own folder."""
    import wandb

    run = wandb.init(project="wbproj", id=run_id, resume="allow")
    for step in (100, 101):
        run.log({"loss": step / 1000}, step=step)
    run.finish()


if __name__ == "__main__":
    if len(sys.argv) > 2:
        resume(Path(sys.argv[1]), sys.argv[2])
    else:
        main(Path(sys.argv[1]))
