"""The PR curves view's endpoints: every logged step, and one step's curve as logged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import localtrack
from localtrack._writer.histograms import pr_curve_payload
from tests.localtrack.ui.media_views_http import serve_query


def test_steps_and_the_curve_of_a_step(tmp_path: Path) -> None:
    writer = localtrack.SummaryWriter(str(tmp_path / "p" / "r"))
    rng = np.random.default_rng(2)
    logged = {}
    for step in (3, 6):
        labels, preds = rng.integers(0, 2, 100), rng.uniform(0, 1, 100)
        writer.add_pr_curve("pr", labels, preds, step, num_thresholds=11)
        logged[step] = pr_curve_payload(labels, preds, 11, None)
    writer.close()
    steps, run = serve_query(tmp_path, "/api/pr_curves/steps", {"tag": "pr"})
    assert steps["step"] == [3, 6]
    curve, _ = serve_query(tmp_path, "/api/pr_curves/curve", {"tag": "pr", "step": "6"}, run)
    for name in ("thresholds", "precision", "recall", "tp", "fp", "tn", "fn"):
        assert curve[name] == pytest.approx(logged[6][name]), name
