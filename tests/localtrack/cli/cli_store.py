"""Stores written by the real writer for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from localtrack._writer.summary_writer import SummaryWriter


def write_run(log_dir: Path, points: int = 50, fail: bool = False) -> None:
    """Loss/train = 1/(step+1) and Accuracy/val = step/100 at steps 0..points-1, plus a few
    histograms, images and texts."""
    writer = SummaryWriter(log_dir)
    for step in range(points):
        writer.add_scalar("Loss/train", 1.0 / (step + 1), step)
        writer.add_scalar("Accuracy/val", step / 100, step)
    writer.add_histogram("weights", np.arange(100, dtype=np.float64), 0)
    writer.add_image("sample", np.zeros((3, 8, 6), dtype=np.float32), 0)
    writer.add_text("notes", "hello **world**", 0)
    writer.add_hparams({"lr": 0.01, "optimizer": "adam"}, {"hparam/loss": 0.5})
    writer.close()
