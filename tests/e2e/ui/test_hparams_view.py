"""The Hparams view in a real browser, over trials logged with the real SummaryWriter: the
table shows the logged values under the runs' names, sorts, and brushing an axis of the
parallel coordinates selects exactly the runs that pass, which the scalars view then shows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import localtrack

DROPOUT = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
OPTIMIZERS = ["adam", "sgd", "adam", "sgd", "adam", "sgd"]


def run_id_of(run_dir: Path) -> str:
    marker = json.loads((run_dir / "localtrack-run.json").read_text(encoding="utf-8"))
    return str(marker["run_id"])


def accuracy(i: int) -> float:
    return 0.61 + 0.05 * i - 0.013 * (i % 2)


@pytest.fixture
def sweep(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Six runs, each one add_hparams trial without a run_name (TensorBoard would file it under
    a sub-run named by the time), and a loss curve."""
    runs = {}
    for i, (dropout, opt) in enumerate(zip(DROPOUT, OPTIMIZERS, strict=True)):
        run_dir = tmp_path / "sweep" / f"trial-{i}"
        lr = 10.0 ** -(i % 3 + 2)
        with localtrack.SummaryWriter(str(run_dir)) as w:
            for step in range(10):
                w.add_scalar("loss", (1 + dropout) / (step + 1), step)
            w.add_hparams(
                {"lr": lr, "dropout": dropout, "optimizer": opt, "layers": 2 + i % 2},
                {"hparam/accuracy": accuracy(i)},
            )
        runs[f"trial-{i}"] = {
            "run_id": run_id_of(run_dir),
            "lr": lr,
            "dropout": dropout,
            "optimizer": opt,
            "layers": 2 + i % 2,
            "hparam/accuracy": accuracy(i),
        }
    return runs


def open_view(page: Any, handle: Any) -> None:
    page.goto(handle.url + "&view=hparams")
    page.wait_for_selector("[data-testid=hp-row]")
    page.wait_for_selector("[data-testid=pc-axis][data-key=dropout]")


def table_rows(page: Any) -> list[dict[str, Any]]:
    """What the table shows, row by row in screen order: name, run id, values by column."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=hp-row]')]
            .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
            .map((r) => ({
              name: r.querySelector('[data-testid=hp-run-name]').textContent,
              run_id: r.dataset.runId,
              cells: Object.fromEntries([...r.querySelectorAll('[data-testid=hp-cell]')]
                .map((c) => [c.dataset.key, {text: c.textContent, value: c.dataset.value}])),
            }))"""
    )


def test_table_shows_the_logged_values_under_run_names_and_sorts(
    tmp_path: Path, sweep: dict[str, dict[str, Any]], ui: Any, page: Any, screenshot: Any
) -> None:
    handle = ui(tmp_path)
    open_view(page, handle)
    rows = table_rows(page)
    assert sorted(r["name"] for r in rows) == sorted(sweep)  # run names, no timestamp sub-runs
    for r in rows:
        logged = sweep[r["name"]]
        assert r["run_id"] == logged["run_id"]
        assert float(r["cells"]["lr"]["value"]) == logged["lr"]
        assert float(r["cells"]["dropout"]["value"]) == logged["dropout"]
        assert json.loads(r["cells"]["optimizer"]["value"]) == logged["optimizer"]
        assert r["cells"]["optimizer"]["text"] == logged["optimizer"]
        assert int(r["cells"]["layers"]["text"]) == logged["layers"]
        assert float(r["cells"]["hparam/accuracy"]["value"]) == logged["hparam/accuracy"]
    screenshot(page, "hparams_view")

    page.click("[data-testid=hp-sort][data-key='hparam/accuracy']")
    page.wait_for_selector("[data-testid=hp-sort][data-key='hparam/accuracy'] >> text=▲")
    ascending = [r["name"] for r in table_rows(page)]
    assert ascending == sorted(sweep, key=lambda n: sweep[n]["hparam/accuracy"])
    page.click("[data-testid=hp-sort][data-key='hparam/accuracy']")
    page.wait_for_selector("[data-testid=hp-sort][data-key='hparam/accuracy'] >> text=▼")
    assert [r["name"] for r in table_rows(page)] == ascending[::-1]
    assert "hpsort=hparam%2Faccuracy" in page.url and "hpdesc=1" in page.url

    page.fill("[data-testid=hparams-filter]", "dropout>=0.3")
    page.wait_for_function("document.querySelectorAll('[data-testid=hp-row]').length === 3")
    assert sorted(r["name"] for r in table_rows(page)) == ["trial-3", "trial-4", "trial-5"]


def hit_box(page: Any, key: str) -> dict[str, float]:
    """The on-screen box of the drag target of `key`'s axis, once the axis is where it is drawn.

    The chart lays itself out again when its card gets its width; the box is read only when the
    point at its centre really is that axis's target, so a drag lands on it.
    """
    handle = page.wait_for_function(
        """(key) => {
            const sel = `[data-testid=pc-axis][data-key='${key}'] [data-testid=pc-axis-hit]`;
            const hit = document.querySelector(sel);
            if (!hit) return null;
            let r = hit.getBoundingClientRect();
            if (r.top < 0 || r.bottom > window.innerHeight) {
                hit.scrollIntoView({block: "center"});
                r = hit.getBoundingClientRect();
            }
            const x = r.x + r.width / 2;
            const top = document.elementFromPoint(x, r.y + 1);
            const bottom = document.elementFromPoint(x, r.y + r.height - 1);
            return top === hit && bottom === hit ? {x: r.x, y: r.y, width: r.width, height: r.height} : null;
        }""",
        arg=key,
    )
    box: dict[str, float] = handle.json_value()
    return box


def brush(page: Any, key: str, hi: float, lo: float) -> None:
    """Drag along the axis of `key` from value `hi` down to value `lo` (a linear axis)."""
    axis = page.locator(f"[data-testid=pc-axis][data-key='{key}']")
    assert axis.get_attribute("data-scale") == "linear"
    a, b = float(axis.get_attribute("data-lo")), float(axis.get_attribute("data-hi"))
    box = hit_box(page, key)

    def y(v: float) -> float:
        return box["y"] + box["height"] * (1 - (v - a) / (b - a))

    x = box["x"] + box["width"] / 2
    page.mouse.move(x, y(hi))
    page.mouse.down()
    page.mouse.move(x, (y(hi) + y(lo)) / 2, steps=4)
    page.mouse.move(x, y(lo), steps=4)
    page.mouse.up()


def selected(page: Any) -> list[str]:
    return page.evaluate("() => window.localtrack.app.selected()")


def test_brushing_an_axis_selects_exactly_the_matching_runs_and_scalars_follow(
    tmp_path: Path, sweep: dict[str, dict[str, Any]], ui: Any, page: Any, screenshot: Any
) -> None:
    handle = ui(tmp_path)
    open_view(page, handle)
    brush(page, "dropout", hi=0.35, lo=0.15)
    want = {v["run_id"] for v in sweep.values() if 0.15 <= v["dropout"] <= 0.35}
    assert len(want) == 2
    page.wait_for_function("(n) => window.localtrack.app.selected().length === n", arg=len(want))
    assert set(selected(page)) == want
    checked = page.eval_on_selector_all(
        "[data-testid=run-row] input[type=checkbox]:checked",
        "boxes => boxes.map((b) => b.closest('[data-testid=run-row]').dataset.runId)",
    )
    assert set(checked) == want  # the runs panel shows the brushed runs ticked

    # a second axis narrows the selection: only adam among them
    opt = page.locator("[data-testid=pc-axis][data-key=optimizer]")
    cats = json.loads(opt.get_attribute("data-categories"))
    assert cats == ["adam", "sgd"]
    box = hit_box(page, "optimizer")
    x = box["x"] + box["width"] / 2
    bottom = box["y"] + box["height"]  # "adam" sits at the bottom, "sgd" at the top
    page.mouse.move(x, bottom - 2)
    page.mouse.down()
    page.mouse.move(x, bottom - box["height"] * 0.3, steps=5)
    page.mouse.up()
    want = {
        v["run_id"]
        for v in sweep.values()
        if 0.15 <= v["dropout"] <= 0.35 and v["optimizer"] == "adam"
    }
    assert len(want) == 1
    page.wait_for_function("(n) => window.localtrack.app.selected().length === n", arg=1)
    assert set(selected(page)) == want
    lit = page.eval_on_selector_all("path.pc-line.pc-on", "ps => ps.map((p) => p.dataset.rowId)")
    assert {r.split(":")[0] for r in lit} == want
    screenshot(page, "hparams_brushed")

    page.click("#tab-scalars")
    page.wait_for_selector('[data-testid=chart][data-tag="loss"][data-state=drawn]')
    shown = page.evaluate("() => [...window.localtrack.series.get('loss').keys()]")
    assert set(shown) == want
    (run,) = want
    name = next(n for n, v in sweep.items() if v["run_id"] == run)
    ys = page.evaluate("(id) => Array.from(window.localtrack.series.get('loss').get(id).y)", run)
    dropout = sweep[name]["dropout"]
    assert all(math.isclose(y, (1 + dropout) / (s + 1)) for s, y in enumerate(ys))
