"""The PR curves view in a real browser: hovering the curve shows a logged threshold with
the precision, recall and counts logged for it, at the step the slider is on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import localtrack
from localtrack._writer.histograms import pr_curve_payload

THRESHOLDS = 21


def logged_curves(root: Path) -> dict[int, dict[str, Any]]:
    writer = localtrack.SummaryWriter(str(root / "cls" / "logreg"))
    rng = np.random.default_rng(0)
    curves = {}
    for step in (0, 100, 200):
        labels = rng.integers(0, 2, 400)
        noise = rng.normal(0, 1.4 - step / 400, 400)
        predictions = np.clip(labels * 0.6 + 0.2 + noise * 0.3, 0, 1)
        writer.add_pr_curve("val/pr", labels, predictions, step, num_thresholds=THRESHOLDS)
        curves[step] = pr_curve_payload(labels, predictions, THRESHOLDS, None)
    writer.close()
    return curves


def shown(page: Any, card: str) -> dict[str, float]:
    cells = page.locator(f"{card} [data-testid=pr-legend] [data-field]").evaluate_all(
        "vs => vs.map(v => [v.dataset.field, v.textContent])"
    )
    return {k: float(v) for k, v in cells}


def check_hover(page: Any, card: str, curve: dict[str, Any], fraction: float) -> None:
    box = page.locator(f"{card} .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    page.wait_for_function(
        f"() => document.querySelector(`{card} [data-testid=pr-legend]`).dataset.threshold"
    )
    values = shown(page, card)
    i = int(np.argmin(np.abs(np.array(curve["thresholds"]) - values["threshold"])))
    assert values["threshold"] == pytest.approx(curve["thresholds"][i], abs=1e-9)
    for name in ("precision", "recall", "tp", "fp", "tn", "fn"):
        assert values[name] == pytest.approx(curve[name][i], rel=1e-5), name


def test_hover_shows_the_logged_values_at_a_threshold(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    curves = logged_curves(tmp_path)
    page.goto(ui(tmp_path).url.replace("/?", "/?view=pr_curves&"))
    card = "[data-testid=pr_curves-card][data-tag='val/pr']"
    page.wait_for_selector(f"{card}[data-state=drawn][data-step='200']")
    for fraction in (0.3, 0.6, 0.9):
        check_hover(page, card, curves[200], fraction)
    screenshot(page, "pr-curves")

    page.locator(f"{card} [data-testid=step-slider]").fill("0")
    page.wait_for_selector(f"{card}[data-state=drawn][data-step='0']")
    page.mouse.move(0, 0)
    check_hover(page, card, curves[0], 0.5)
