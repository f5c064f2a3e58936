"""The scalars view in a real browser, against runs logged with the real writer: a chart per tag
in sections by prefix, the values under the hover, TensorBoard's smoothing, a spike in a
million points, zoom at full resolution, the tag filter, and a URL that reopens the view."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import localtrack

STEPS = 50


def chart(tag: str) -> str:
    return f'[data-testid=chart][data-tag="{tag}"]'


def drawn(page: Any, tag: str) -> None:
    """Wait until the chart of `tag` is drawn (scrolled to first: only charts on screen fetch)."""
    page.locator(chart(tag)).scroll_into_view_if_needed()
    page.wait_for_selector(f"{chart(tag)}[data-state=drawn]")


def run_id_of(run_dir: Path) -> str:
    marker = json.loads((run_dir / "localtrack-run.json").read_text(encoding="utf-8"))
    return str(marker["run_id"])


def value_a(step: int) -> float:
    return 1.0 + (step % 7) * 0.25


def value_b(step: int) -> float:
    return step * 0.5


def tb_smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's classic smoothing (vz_line_chart2 resetSmoothing), written out in Python."""
    if all(v == values[0] for v in values):
        return list(values)
    last, accumulated, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        accumulated += 1
        out.append(last / (1 - weight**accumulated if weight != 1 else 1))
    return out


@pytest.fixture
def two_runs(tmp_path: Path) -> dict[str, str]:
    """Runs a and b: Loss/train and Loss/test, Accuracy/val and lr, at known values."""
    ids = {}
    for name, value in (("a", value_a), ("b", value_b)):
        run_dir = tmp_path / "exp" / name
        with localtrack.SummaryWriter(str(run_dir)) as w:
            for step in range(STEPS):
                w.add_scalar("Loss/train", value(step), step)
                w.add_scalar("lr", 0.1 / (step + 1), step)
                if step % 5 == 0:
                    w.add_scalar("Loss/test", value(step) + 0.5, step)
                    w.add_scalar("Accuracy/val", step / STEPS, step)
        ids[name] = run_id_of(run_dir)
    return ids


def test_a_chart_per_tag_in_sections_by_prefix(
    tmp_path: Path, two_runs: dict[str, str], ui: Any, page: Any, screenshot: Any
) -> None:
    page.goto(ui(tmp_path).url)
    drawn(page, "Loss/train")
    groups = page.locator("[data-testid=tag-group]").evaluate_all(
        "gs => gs.map(g => [g.dataset.group, [...g.querySelectorAll('[data-testid=chart]')]"
        ".map(c => c.dataset.tag)])"
    )
    assert groups == [
        ["Accuracy", ["Accuracy/val"]],
        ["Loss", ["Loss/test", "Loss/train"]],
        ["lr", ["lr"]],
    ]
    # Only the charts on screen have fetched; the one below the fold waits to be scrolled to.
    assert page.locator(chart("lr")).get_attribute("data-state") == "idle"
    for tag in ("Loss/train", "Loss/test", "Accuracy/val", "lr"):
        drawn(page, tag)
    page.locator(".content").evaluate("el => { el.scrollTop = 0; }")
    screenshot(page, "scalars-view")

    page.click("[data-testid=tag-group][data-group=Loss] [data-testid=tag-group-toggle]")
    assert page.locator(chart("Loss/train")).is_hidden()
    assert page.locator(chart("Accuracy/val")).is_visible()
    assert "collapsed=Loss" in page.url
    page.click("[data-testid=tag-group][data-group=Loss] [data-testid=tag-group-toggle]")
    assert page.locator(chart("Loss/train")).is_visible()


def hover(page: Any, tag: str, step: float) -> None:
    x, y = page.evaluate(
        """([tag, step]) => {
            const u = window.localtrack.charts.get(tag);
            const box = u.over.getBoundingClientRect();
            // The last step sits on the plot's right edge: stay a pixel inside it.
            return [box.left + Math.min(u.valToPos(step, 'x'), box.width - 1), box.top + box.height / 2];
        }""",
        [tag, step],
    )
    page.mouse.move(x, y)


def legend_value(page: Any, tag: str, run_id: str) -> str:
    return str(
        page.locator(chart(tag))
        .locator(f'[data-testid=legend-value][data-run-id="{run_id}"]')
        .text_content()
    )


def test_hover_shows_each_runs_logged_value(
    tmp_path: Path, two_runs: dict[str, str], ui: Any, page: Any, screenshot: Any
) -> None:
    page.goto(ui(tmp_path).url)
    drawn(page, "Loss/train")
    a, b = two_runs["a"], two_runs["b"]
    for step in (3, 17, 30, 49):
        hover(page, "Loss/train", step)
        page.wait_for_function(
            "([sel, text]) => document.querySelector(sel).textContent === text",
            arg=[f"{chart('Loss/train')} .legend-x", f"step {step}"],
        )
        assert float(legend_value(page, "Loss/train", a)) == value_a(step)
        assert float(legend_value(page, "Loss/train", b)) == value_b(step)
    screenshot(page, "scalars-hover")
    # A sparser tag: its own points under the hover.
    drawn(page, "Loss/test")
    hover(page, "Loss/test", 25)
    assert float(legend_value(page, "Loss/test", a)) == value_a(25) + 0.5
    assert float(legend_value(page, "Loss/test", b)) == value_b(25) + 0.5


def test_smoothing_is_tensorboards_debiased_ema(tmp_path: Path, ui: Any, page: Any) -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, math.nan, 9.0, 2.0, math.inf, 6.0, 5.0, 3.0, 5.0, 8.0]
    run_dir = tmp_path / "exp" / "smooth"
    with localtrack.SummaryWriter(str(run_dir)) as w:
        for step, v in enumerate(values):
            w.add_scalar("noisy", v, step)
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    page.goto(ui(tmp_path).url)
    drawn(page, "noisy")
    assert page.locator("[data-testid=smoothing]").input_value() == "0.6"
    data = page.evaluate("() => window.localtrack.charts.get('noisy').data.map(a => Array.from(a))")
    assert data[0] == [float(i) for i in finite]
    assert data[1] == [values[i] for i in finite]
    expected = tb_smooth(values, 0.6)
    assert data[2] == pytest.approx([expected[i] for i in finite], rel=1e-12)
    assert page.locator(chart("noisy")).get_attribute("data-nonfinite") == "2"
    # The page's own function on the raw sequence, NaN and inf included.
    raw = page.evaluate(
        "() => Array.from(window.localtrack.smooth([3, 1, 4, NaN, 1, Infinity, 5, 9], 0.6)).map(String)"
    )
    assert raw == [
        str(v) if math.isfinite(v) else {"nan": "NaN", "inf": "Infinity"}[str(v)]
        for v in tb_smooth([3, 1, 4, math.nan, 1, math.inf, 5, 9], 0.6)
    ]

    page.locator("[data-testid=smoothing]").evaluate(
        "el => { el.value = '0.9'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function("() => location.search.includes('smooth=0.9')")
    page.wait_for_function(
        "([v]) => Math.abs(window.localtrack.charts.get('noisy').data[2][1] - v) < 1e-9",
        arg=[tb_smooth(values, 0.9)[1]],
    )
    data = page.evaluate("() => window.localtrack.charts.get('noisy').data.map(a => Array.from(a))")
    assert data[2] == pytest.approx([tb_smooth(values, 0.9)[i] for i in finite], rel=1e-12)

    page.locator("[data-testid=smoothing]").evaluate(
        "el => { el.value = '0'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function("() => window.localtrack.charts.get('noisy').data.length === 2")


def test_a_spike_in_a_million_points_is_drawn_and_zoom_is_full_resolution(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    n, spike_step, spike = 1_000_000, 777_777, 1000.0
    values = np.random.default_rng(7).normal(0.0, 1.0, n)
    values[spike_step] = spike
    run_dir = tmp_path / "big" / "million"
    with localtrack.SummaryWriter(str(run_dir)) as w:
        for step, v in enumerate(values.tolist()):
            w.add_scalar("signal", v, step)
    run_id = run_id_of(run_dir)
    page.goto(ui(tmp_path).url.replace("/?", "/?smooth=0&"))
    page.wait_for_selector(f"{chart('signal')}[data-state=drawn]", timeout=60_000)
    drawn_data = page.evaluate(
        """() => { const d = window.localtrack.charts.get('signal').data;
                   return {n: d[0].length, max: Math.max(...d[1]), xmax: d[0][d[0].length - 1]}; }"""
    )
    assert drawn_data["n"] < 20_000  # reduced on the server, about the chart's width
    assert drawn_data["max"] == spike
    assert drawn_data["xmax"] == n - 1
    band_max = page.evaluate(
        f"() => Math.max(...window.localtrack.series.get('signal').get('{run_id}').bandMax)"
    )
    assert band_max == spike
    screenshot(page, "scalars-spike")

    # Drag around the spike twice; the second range is small enough to come back whole.
    for half_width in (40_000, 600):
        box = page.evaluate(
            """([lo, hi]) => { const u = window.localtrack.charts.get('signal');
                const r = u.over.getBoundingClientRect();
                return [r.left + u.valToPos(lo, 'x'), r.left + u.valToPos(hi, 'x'), r.top + r.height / 2]; }""",
            [spike_step - half_width, spike_step + half_width],
        )
        page.mouse.move(box[0], box[2])
        page.mouse.down()
        page.mouse.move((box[0] + box[1]) / 2, box[2], steps=4)
        page.mouse.move(box[1], box[2], steps=4)
        page.mouse.up()
        page.wait_for_function(
            "([w]) => { const d = window.localtrack.charts.get('signal').data[0];"
            " return d[d.length - 1] - d[0] <= 2.2 * w; }",
            arg=[half_width],
            timeout=30_000,
        )
    zoomed = page.evaluate(
        f"""() => {{ const s = window.localtrack.series.get('signal').get('{run_id}');
                     return {{reduced: s.meta.reduced, x: Array.from(s.x), y: Array.from(s.y)}}; }}"""
    )
    assert zoomed["reduced"] is False
    lo, hi = int(zoomed["x"][0]), int(zoomed["x"][-1])
    assert lo <= spike_step <= hi
    assert zoomed["x"] == [float(s) for s in range(lo, hi + 1)]  # every point, no sample
    assert zoomed["y"] == values[lo : hi + 1].tolist()

    page.dblclick(f"{chart('signal')} .u-over")
    page.wait_for_function(
        "([n]) => { const d = window.localtrack.charts.get('signal').data[0]; return d[d.length - 1] === n - 1 && d[0] === 0; }",
        arg=[n],
        timeout=30_000,
    )


def test_tag_filter_and_the_url_reopen_the_same_view(
    tmp_path: Path, two_runs: dict[str, str], ui: Any, page: Any, screenshot: Any
) -> None:
    page.goto(ui(tmp_path).url)
    drawn(page, "Loss/train")
    page.fill("[data-testid=tag-filter]", "^loss/")
    page.wait_for_function("() => location.search.includes('tags=')")
    assert page.locator(chart("Loss/train")).is_visible()
    assert page.locator(chart("Loss/test")).is_visible()
    assert page.locator(chart("Accuracy/val")).is_hidden()
    assert page.locator(chart("lr")).is_hidden()
    assert page.locator("[data-testid=tag-group][data-group=Accuracy]").is_hidden()

    a = two_runs["a"]
    page.locator(
        f'[data-testid=run-row][data-run-id="{two_runs["b"]}"] input[type=checkbox]'
    ).uncheck()
    page.select_option("[data-testid=x-axis]", "wall")
    page.check("[data-testid=log-y]")
    page.uncheck("[data-testid=ignore-outliers]")
    page.wait_for_function("() => location.search.includes('outliers=0')")
    drawn(page, "Loss/train")
    page.wait_for_function("() => window.localtrack.charts.get('Loss/train').data[0][0] > 1e9")
    link = page.url

    page.goto("about:blank")
    page.goto(link)
    drawn(page, "Loss/train")
    assert page.locator("[data-testid=tag-filter]").input_value() == "^loss/"
    assert page.locator("[data-testid=x-axis]").input_value() == "wall"
    assert page.locator("[data-testid=log-y]").is_checked()
    assert not page.locator("[data-testid=ignore-outliers]").is_checked()
    assert page.locator(chart("Accuracy/val")).is_hidden()
    checked = page.locator("[data-testid=run-row]:has(input:checked)").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"
    )
    assert checked == [a]
    data = page.evaluate("() => window.localtrack.charts.get('Loss/train').data")
    assert len(data) == 3 and data[0][0] > 1e9  # one run (raw, smoothed), x in wall time
    assert page.evaluate("() => window.localtrack.charts.get('Loss/train').scales.y.distr") == 3
    screenshot(page, "scalars-url-state")


def test_downloads_are_the_full_resolution_rows(
    tmp_path: Path, two_runs: dict[str, str], ui: Any, page: Any
) -> None:
    page.goto(ui(tmp_path).url)
    drawn(page, "Loss/train")
    href = (
        page.locator(chart("Loss/train"))
        .locator("[data-testid=download-csv]")
        .get_attribute("href")
    )
    answer = page.request.get(page.url.split("/?")[0].rstrip("/") + href)
    assert answer.ok
    rows = list(csv.DictReader(io.StringIO(answer.text())))
    assert len(rows) == 2 * STEPS
    by_run = {(r["run_id"], int(r["step"])): float(r["value"]) for r in rows}
    assert by_run[(two_runs["a"], 12)] == value_a(12)
    assert by_run[(two_runs["b"], 49)] == value_b(49)
    href = (
        page.locator(chart("Loss/train"))
        .locator("[data-testid=download-parquet]")
        .get_attribute("href")
    )
    answer = page.request.get(page.url.split("/?")[0].rstrip("/") + href)
    assert answer.ok and answer.body()[:4] == b"PAR1"


def test_many_runs_overlaid_each_on_its_own_x(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    """30 runs whose M4 points fall at different steps are drawn faceted (uPlot mode 2, one x
    per run, no join of mostly empty columns), and the hover still gives each logged value."""
    logged: dict[str, np.ndarray] = {}
    for k in range(30):
        run_dir = tmp_path / "sweep" / f"r{k:02d}"
        values = k + np.random.default_rng(k).integers(0, 64, 3000) / 8
        with localtrack.SummaryWriter(str(run_dir)) as w:
            for step, v in enumerate(values.tolist()):
                w.add_scalar("loss", v, step)
        logged[run_id_of(run_dir)] = values
    ids = ",".join(logged)
    page.goto(ui(tmp_path).url.replace("/?", f"/?runs={ids}&"))
    drawn(page, "loss")
    shape = page.evaluate(
        "() => { const u = window.localtrack.charts.get('loss');"
        " return [u.mode, u.data.length, u.data[0], u.data[1].length]; }"
    )
    assert shape == [2, 1 + 2 * 30, None, 2]  # raw and smoothed line of each run, each [x, y]
    for frac in (0.3, 0.71):
        x, y = page.evaluate(
            """([frac]) => { const u = window.localtrack.charts.get('loss');
                const box = u.over.getBoundingClientRect();
                return [box.left + box.width * frac, box.top + box.height / 2]; }""",
            [frac],
        )
        page.mouse.move(x, y)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=chart][data-tag=loss] .legend-x').textContent.startsWith('step')"
        )
        shown = page.locator(f"{chart('loss')} [data-testid=legend-value]").evaluate_all(
            "els => els.map(e => [e.dataset.runId, e.dataset.x, e.textContent])"
        )
        assert len(shown) == 30
        for run_id, step, text in shown:
            assert float(text) == logged[run_id][int(float(step))]
    screenshot(page, "scalars-overlay-30-runs")
