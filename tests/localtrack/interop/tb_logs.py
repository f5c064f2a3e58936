"""Event files written by torch's own SummaryWriter with every method, and what was logged."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

T0 = 1_700_000_000.25


def write_every_method(logdir: Path) -> dict[str, Any]:
    """One run `logdir/exp` logged with each torch SummaryWriter method; returns the values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    logged: dict[str, Any] = {"scalars": [], "histograms": {}, "texts": {}}
    w = SummaryWriter(str(logdir / "exp"))
    for step in range(20):  # the seed's snippet (README), then the rest
        loss = 1.0 / (step + 1)
        w.add_scalar("Loss/train", loss, step, walltime=T0 + step)
        logged["scalars"].append(("Loss/train", step, T0 + step, loss))
    w.add_scalar("new_style", 0.5, 3, walltime=T0 + 30, new_style=True)
    w.add_scalar("double", 1 / 3, 4, walltime=T0 + 31, new_style=True, double_precision=True)
    w.add_scalar("negative_step", -2.5, -7, walltime=T0 + 32)
    w.add_scalar("big_step", math.inf, 2**40, walltime=T0 + 33)
    w.add_scalar("zero_step", 0.0, 0, walltime=T0 + 34)
    w.add_scalar("ünïcode/τ", float("nan"), 5, walltime=T0 + 35)
    logged["scalars"] += [
        ("new_style", 3, T0 + 30, 0.5),
        ("double", 4, T0 + 31, 1 / 3),
        ("negative_step", -7, T0 + 32, -2.5),
        ("big_step", 2**40, T0 + 33, math.inf),
        ("zero_step", 0, T0 + 34, 0.0),
        ("ünïcode/τ", 5, T0 + 35, math.nan),
    ]
    w.add_scalars("group", {"a": 1.0, "b": 2.0}, 6, walltime=T0 + 36)
    weights = rng.normal(size=1000)
    w.add_histogram("weights", weights, 1, walltime=T0 + 40)
    logged["histograms"]["weights"] = weights
    w.add_histogram_raw(
        "raw_hist", 0.0, 3.0, 6, 9.0, 17.0, [1.0, 2.0, 3.0], [1, 2, 3], 2, walltime=T0 + 41
    )
    img = rng.random((3, 8, 10)).astype(np.float32)
    w.add_image("image", img, 1, walltime=T0 + 50)
    w.add_images("batch", rng.random((4, 3, 6, 6)), 2, walltime=T0 + 51)
    fig = plt.figure(figsize=(1, 1))
    plt.plot([0, 1], [1, 0])
    w.add_figure("figure", fig, 3, walltime=T0 + 52)
    w.add_image_with_boxes(
        "boxes", img, torch.tensor([[1, 1, 5, 5]]), 4, walltime=T0 + 53, labels=["cat"]
    )
    w.add_text("note", "hello **markdown**", 1, walltime=T0 + 60)
    logged["texts"]["note/text_summary"] = "hello **markdown**"
    labels = rng.integers(0, 2, 100)
    preds = rng.random(100)
    w.add_pr_curve("pr", labels, preds, 1, num_thresholds=11, walltime=T0 + 70)
    logged["pr"] = (labels, preds)
    w.add_pr_curve_raw(
        "pr_raw", [5, 3, 1], [4, 2, 0], [0, 2, 4], [0, 2, 4], [0.5, 0.6, 1.0], [1.0, 0.6, 0.2],
        2, num_thresholds=3, walltime=T0 + 71,
    )  # fmt: skip
    sound = np.sin(np.linspace(0, 100, 800)) * 0.5
    w.add_audio("audio", sound, 1, sample_rate=8000, walltime=T0 + 80)
    logged["audio"] = sound
    vertices = rng.random((1, 4, 3)).astype(np.float32)
    colors = rng.integers(0, 255, (1, 4, 3))
    faces = np.array([[[0, 1, 2], [1, 2, 3]]])
    w.add_mesh("mesh", vertices, colors, faces, {"camera": {"fov": 75}}, 1, walltime=T0 + 90)
    logged["mesh"] = (vertices, colors, faces)
    w.add_custom_scalars({"cat": {"losses": ["Multiline", ["Loss/train", "new_style"]]}})
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with warnings.catch_warnings():  # torch 2.13 deprecates the jit tracing add_graph uses
        warnings.simplefilter("ignore", DeprecationWarning)
        w.add_graph(model, torch.zeros(1, 3))
    mat = rng.random((6, 4)).astype(np.float32)
    label_img = torch.from_numpy(rng.random((6, 3, 4, 4)).astype(np.float32))
    w.add_embedding(mat, metadata=list("abcdef"), label_img=label_img, global_step=3, tag="emb")
    logged["embedding"] = (mat, list("abcdef"), label_img.numpy())
    w.add_hparams({"lr": 0.1, "opt": "adam", "bn": True}, {"hp/acc": 0.75}, run_name="trial")
    w.close()
    return logged
