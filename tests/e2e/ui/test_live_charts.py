"""Live updates in a real browser: while a training logs (the real writer, in a child
process), the open chart gains its new points without a reload, asking only for rows after
the last x it holds; a new tag and a new run appear by themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TRAIN = """
    import sys, time, localtrack
    w = localtrack.SummaryWriter(sys.argv[1], flush_secs=0.5)
    for step in range(2000):
        w.add_scalar("loss", step * 0.5, step)
        if step >= {extra_from}:
            w.add_scalar("extra/metric", step * 2.0, step)
        if step == 2:
            w.flush()
            print("ready", flush=True)
        time.sleep(0.2)
"""


def train(run_dir: Path, extra_from: int = 10**9) -> subprocess.Popen[str]:
    """A training that logs `loss` = step / 2 every 0.2 s (and `extra/metric` from a step on)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(TRAIN.format(extra_from=extra_from)), str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=30)[1]
    return proc


@pytest.fixture
def trainings() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.communicate(timeout=30)


def run_id_of(run_dir: Path) -> str:
    marker = json.loads((run_dir / "localtrack-run.json").read_text(encoding="utf-8"))
    return str(marker["run_id"])


LAST_X = """([tag, runId]) => {
    const s = window.localtrack.series.get(tag);
    const run = s && s.get(runId);
    return run && run.x.length ? run.x[run.x.length - 1] : -1;
}"""


def test_a_live_training_shows_new_points_tags_and_runs_without_a_reload(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any, trainings: list[subprocess.Popen[str]]
) -> None:
    first_dir = tmp_path / "live" / "first"
    trainings.append(train(first_dir, extra_from=15))
    first = run_id_of(first_dir)
    series_urls: list[str] = []
    page.on("request", lambda r: series_urls.append(r.url) if "/api/series?" in r.url else None)

    page.goto(ui(tmp_path).url)
    page.wait_for_selector("[data-testid=chart][data-tag=loss][data-state=drawn]")
    page.evaluate("() => { window.__sameDocument = true; }")
    held = page.evaluate(LAST_X, ["loss", first])
    assert held >= 2

    # New points arrive on the open chart; the page is the same document (no reload).
    page.wait_for_function(
        f"args => ({LAST_X})(args) >= {held + 5}", arg=["loss", first], timeout=30_000
    )
    assert page.evaluate("() => window.__sameDocument") is True
    assert any("after=" in url for url in series_urls)  # only the rows after the last x held
    data = page.evaluate(
        """([runId]) => { const s = window.localtrack.series.get('loss').get(runId);
                          return [Array.from(s.x), Array.from(s.y)]; }""",
        [first],
    )
    assert data[0] == [float(s) for s in range(len(data[0]))]  # no point lost or doubled
    assert data[1] == [s * 0.5 for s in range(len(data[0]))]

    # A tag logged from step 15 on gets its own chart by itself.
    page.wait_for_selector(
        '[data-testid=chart][data-tag="extra/metric"][data-state=drawn]', timeout=30_000
    )

    # A second training started now appears in the panel, selected (latest five), and charted.
    second_dir = tmp_path / "live" / "second"
    trainings.append(train(second_dir))
    second = run_id_of(second_dir)
    page.wait_for_selector(f'[data-testid=run-row][data-run-id="{second}"]', timeout=30_000)
    assert (
        page.locator(
            f'[data-testid=run-row][data-run-id="{second}"] [data-testid=run-status]'
        ).text_content()
        == "running"
    )
    # One row per run, each at its own place (the list redraws rows whose run changed).
    page.wait_for_function("() => document.querySelectorAll('[data-testid=run-row]').length === 2")
    tops = page.locator("[data-testid=run-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.runId, r.getBoundingClientRect().top])"
    )
    assert sorted(t[0] for t in tops) == sorted([first, second])
    assert tops[0][1] != tops[1][1]
    page.wait_for_selector(
        f'[data-testid=chart][data-tag=loss] [data-testid=legend-value][data-run-id="{second}"]',
        timeout=30_000,
    )
    page.wait_for_function(f"args => ({LAST_X})(args) >= 4", arg=["loss", second], timeout=30_000)
    assert page.evaluate("() => window.__sameDocument") is True
    screenshot(page, "scalars-live")


def test_polling_pauses_while_the_tab_is_hidden(
    tmp_path: Path, ui: Any, page: Any, trainings: list[subprocess.Popen[str]]
) -> None:
    run_dir = tmp_path / "live" / "run"
    trainings.append(train(run_dir))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/live?" in r.url else None)
    page.goto(ui(tmp_path).url)
    page.wait_for_selector("[data-testid=chart][data-tag=loss][data-state=drawn]")
    page.wait_for_function("() => document.querySelector('#live').dataset.state === 'live'")

    page.evaluate(
        """() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                   document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    page.wait_for_timeout(600)  # a poll already on its way may still land
    before = len(polls)
    held = page.evaluate(LAST_X, ["loss", run_id_of(run_dir)])
    page.wait_for_timeout(2500)
    assert len(polls) == before  # no poll while hidden
    assert page.evaluate(LAST_X, ["loss", run_id_of(run_dir)]) == held

    page.evaluate(
        """() => { Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
                   document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    page.wait_for_function(
        f"args => ({LAST_X})(args) > {held}", arg=["loss", run_id_of(run_dir)], timeout=30_000
    )
    assert len(polls) > before
