"""Compare and aggregate in the scalars view, in a real browser: grouping six runs by lr draws a
line per lr whose mean and min/max band equal numpy's over the logged values; the choice is
in the URL, so a reload keeps it; median and ± std follow the toolbar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import localtrack

STEPS = 30
LRS = (0.1, 0.03)
SEEDS = (0, 1, 2)


def value(lr: float, seed: int, step: int) -> float:
    return 2.0 / (1 + lr * 20 * step) + 0.1 * seed + ((step * (seed + 2)) % 5) * 0.02


@pytest.fixture
def seeds(tmp_path: Path) -> list[str]:
    ids = []
    for lr in LRS:
        for seed in SEEDS:
            run = localtrack.init(
                project="seeds",
                name=f"lr{lr}-s{seed}",
                dir=str(tmp_path),
                config={"lr": lr, "seed": seed},
            )
            for step in range(STEPS):
                run.log({"train/loss": value(lr, seed, step)}, step=step)
            run.finish()
            ids.append(run.id)
    return ids


def shown(v: float) -> str:
    """A value as the page writes it (format.js formatValue, for values near 1)."""
    return repr(float(f"{v:.6g}"))


def aggregate(page: Any) -> dict[str, Any]:
    return page.evaluate("() => window.localtrack.aggregates.get('train/loss')")


def wait_drawn(page: Any, stat: str, band: str) -> None:
    page.wait_for_function(
        """([stat, band]) => {
            const a = window.localtrack.aggregates && window.localtrack.aggregates.get('train/loss');
            const c = document.querySelector('[data-testid=aggregate-chart][data-tag="train/loss"]');
            return a && a.stat === stat && a.band === band && c && c.dataset.state === 'drawn';
        }""",
        arg=[stat, band],
    )


def test_grouping_by_lr_draws_numpys_mean_and_band_per_group_and_stays_in_the_url(
    tmp_path: Path, seeds: list[str], ui: Any, page: Any, screenshot: Any
) -> None:
    handle = ui(tmp_path)
    page.goto(handle.url + "&runs=" + ",".join(seeds))
    page.wait_for_selector('[data-testid=chart][data-tag="train/loss"][data-state=drawn]')
    page.wait_for_selector("[data-testid=group-by] option[value=lr]", state="attached")
    page.select_option("[data-testid=group-by]", "lr")
    wait_drawn(page, "mean", "minmax")
    assert "groupby=lr" in page.url
    assert page.locator("[data-testid=chart]").count() == 0  # the per-run charts gave way

    def check(stat: str, band: str) -> None:
        groups = {g["value"]: g for g in aggregate(page)["groups"]}
        assert sorted(groups) == sorted(LRS)
        for lr in LRS:
            g = groups[lr]
            assert g["x"] == list(range(STEPS))
            values = np.array([[value(lr, s, step) for s in SEEDS] for step in range(STEPS)])
            center = values.mean(axis=1) if stat == "mean" else np.median(values, axis=1)
            np.testing.assert_allclose(g["y"], center, rtol=1e-12)
            if band == "minmax":
                np.testing.assert_allclose(g["lo"], values.min(axis=1), rtol=1e-12)
                np.testing.assert_allclose(g["hi"], values.max(axis=1), rtol=1e-12)
            else:
                std = values.std(axis=1)
                np.testing.assert_allclose(g["lo"], center - std, rtol=1e-12)
                np.testing.assert_allclose(g["hi"], center + std, rtol=1e-12)

    check("mean", "minmax")
    names = page.locator("[data-testid=aggregate-chart] .legend-name").all_text_contents()
    assert names == ["lr=0.03 (3)", "lr=0.1 (3)"]
    screenshot(page, "scalars_grouped")

    page.select_option("[data-testid=agg-stat]", "median")
    page.select_option("[data-testid=agg-band]", "std")
    wait_drawn(page, "median", "std")
    check("median", "std")
    assert "agg=median" in page.url and "band=std" in page.url

    page.goto(handle.url + "&" + page.url.split("?", 1)[1])  # a link reopens the grouping
    wait_drawn(page, "median", "std")
    check("median", "std")
    assert page.locator("[data-testid=group-by]").input_value() == "lr"

    # hovering shows each group's value at that step
    box = page.locator("[data-testid=aggregate-chart] .u-over").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    value_text = page.locator(
        f"[data-testid=agg-legend-value][data-group='{json.dumps(0.1)}']"
    ).text_content()
    first = np.array([value(0.1, s, 0) for s in SEEDS])
    center, std = float(np.median(first)), float(first.std())
    assert value_text == f"{shown(center)} [{shown(center - std)}, {shown(center + std)}]"

    page.select_option("[data-testid=group-by]", "")
    page.wait_for_selector('[data-testid=chart][data-tag="train/loss"][data-state=drawn]')
    assert "groupby" not in page.url
