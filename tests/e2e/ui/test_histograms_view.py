"""The histograms view in a real browser: one ridge per logged step (Offset), and the
server's percentile bands drawn over every step (Distributions), for histograms logged with
the real SummaryWriter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import localtrack

STEPS = list(range(0, 60, 5))  # 12 steps


def log_histograms(root: Path) -> None:
    writer = localtrack.SummaryWriter(str(root / "vision" / "resnet"))
    rng = np.random.default_rng(0)
    for step in STEPS:
        writer.add_histogram("layer1/weight", rng.normal(step / 20, 1 + step / 60, 2000), step)
        writer.add_histogram("layer1/bias", rng.uniform(-1, 1 + step / 30, 300), step)
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()


def open_view(page: Any, handle: Any, extra: str = "") -> None:
    page.goto(handle.url.replace("/?", f"/?view=histograms{extra}&"))
    page.wait_for_selector("[data-testid=histograms-view]")


def card(tag: str) -> str:
    return f"[data-testid=histograms-card][data-tag='{tag}']"


def test_offset_draws_one_ridge_per_logged_step(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_histograms(tmp_path)
    open_view(page, ui(tmp_path))
    page.wait_for_selector(f"{card('layer1/weight')}[data-state=drawn]")
    canvas = page.locator(f"{card('layer1/weight')} [data-testid=histogram-offset]")
    assert canvas.get_attribute("data-ridges") == str(len(STEPS))
    assert canvas.get_attribute("data-steps") == str(len(STEPS))
    # only the tags that have histograms: the scalar tag is not listed
    tags = page.locator("[data-testid=histograms-tag]").evaluate_all(
        "s => s.map(x => x.dataset.tag)"
    )
    assert tags == ["layer1/bias", "layer1/weight"]
    slider = page.locator(f"{card('layer1/weight')} [data-testid=step-slider]")
    assert slider.get_attribute("data-step") == str(STEPS[-1])
    slider.focus()
    page.keyboard.press("Home")
    assert slider.get_attribute("data-step") == str(STEPS[0])
    canvas.hover()
    screenshot(page, "histograms-offset")


def test_distributions_draw_the_servers_bands_at_every_step(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_histograms(tmp_path)
    open_view(page, ui(tmp_path), "&mode=distribution")
    page.wait_for_selector(f"{card('layer1/weight')}[data-state=drawn]")
    assert page.locator(f"{card('layer1/weight')}").get_attribute("data-points") == str(len(STEPS))
    drawn = page.locator(f"{card('layer1/weight')} .uplot").count()
    assert drawn == 1
    page.locator(f"{card('layer1/weight')} .u-over").hover()
    legend = page.locator(f"{card('layer1/weight')} .chart-legend")
    assert "median" in legend.text_content()
    screenshot(page, "histograms-distributions")
