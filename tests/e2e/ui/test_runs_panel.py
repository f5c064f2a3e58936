"""The runs panel in a real browser: the runs a user logged, with the status each really ended
in, the filters, the default selection of the latest five, one colour per run, and a list of
10,000 runs that keeps only the rows on screen in the DOM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import localtrack

ROW = "[data-testid=run-row]"
LOSS = "[data-testid=chart][data-tag=loss]"


def run_id_of(run_dir: Path) -> str:
    marker = json.loads((run_dir / "localtrack-run.json").read_text(encoding="utf-8"))
    return str(marker["run_id"])


def row(run_id: str) -> str:
    return f'{ROW}[data-run-id="{run_id}"]'


def child(code: str) -> subprocess.Popen[str]:
    """A Python child process running `code` (the writer of one run)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def write_runs_of_every_status(root: Path, children: list[subprocess.Popen[str]]) -> dict[str, str]:
    """Runs that finished, failed (an exception; SIGTERM), crashed (SIGKILL), one still running."""
    done = root / "demo" / "done"
    with localtrack.SummaryWriter(str(done)) as w:
        for step in range(10):
            w.add_scalar("loss", 1.0 / (step + 1), step)
    raising = child(f"""
        import localtrack
        run = localtrack.init(project="demo", name="raising", dir={str(root)!r})
        run.log({{"loss": 0.5}}, step=0)
        raise RuntimeError("diverged")
    """)
    terminated = child(f"""
        import os, signal, localtrack
        w = localtrack.SummaryWriter({str(root / "demo" / "term")!r})
        w.add_scalar("loss", 0.25, 0)
        os.kill(os.getpid(), signal.SIGTERM)
    """)
    killed = child(f"""
        import os, signal, localtrack
        w = localtrack.SummaryWriter({str(root / "demo" / "killed")!r})
        w.add_scalar("loss", 0.75, 0)
        w.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    running = child(f"""
        import time, localtrack
        w = localtrack.SummaryWriter({str(root / "demo" / "alive")!r})
        w.add_scalar("loss", 0.125, 0)
        w.flush()
        print("ready", flush=True)
        time.sleep(300)
    """)
    children.extend([raising, terminated, killed, running])
    for proc in (raising, terminated, killed):
        proc.wait(timeout=120)
    assert running.stdout is not None
    assert running.stdout.readline().strip() == "ready", running.stderr
    by_name = {p.name: run_id_of(p) for p in (root / "demo").iterdir() if p.is_dir()}
    return {
        by_name["done"]: "finished",
        by_name[next(n for n in by_name if n not in ("done", "term", "killed", "alive"))]: "failed",
        by_name["term"]: "failed",
        by_name["killed"]: "crashed",
        by_name["alive"]: "running",
    }


def test_every_run_is_listed_with_the_status_it_ended_in(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any, children: list[subprocess.Popen[str]]
) -> None:
    expected = write_runs_of_every_status(tmp_path, children)
    page.goto(ui(tmp_path).url)
    page.wait_for_selector(ROW)
    assert page.locator("[data-testid=run-count]").text_content() == "5 runs"
    for run_id, status in expected.items():
        assert (
            page.locator(row(run_id)).locator("[data-testid=run-status]").text_content() == status
        )
    assert (
        page.locator(row(next(iter(expected)))).locator("[data-testid=run-name]").text_content()
        == "done"
    )
    screenshot(page, "runs-panel-statuses")

    page.select_option("[data-testid=status-filter]", "failed")
    page.wait_for_function(
        "document.querySelector('[data-testid=run-count]').textContent === '2 runs'"
    )
    shown = page.locator(ROW).evaluate_all("rows => rows.map(r => r.dataset.runId)")
    assert sorted(shown) == sorted(i for i, s in expected.items() if s == "failed")
    assert "status=failed" in page.url

    page.select_option("[data-testid=status-filter]", "")
    page.fill("[data-testid=run-filter]", "^(kill|aliv)")
    page.wait_for_function(
        "document.querySelector('[data-testid=run-count]').textContent === '2 runs'"
    )
    statuses = page.locator(f"{ROW} [data-testid=run-status]").all_text_contents()
    assert sorted(statuses) == ["crashed", "running"]
    assert "q=" in page.url


def swatch_colours(page: Any, ids: list[str]) -> dict[str, str]:
    return {
        i: page.locator(row(i))
        .locator(".swatch")
        .evaluate("e => getComputedStyle(e).backgroundColor")
        for i in ids
    }


def test_latest_five_are_selected_and_a_checkbox_adds_a_run(
    tmp_path: Path, ui: Any, page: Any
) -> None:
    ids = []
    for i in range(7):
        run_dir = tmp_path / "proj" / f"r{i}"
        with localtrack.SummaryWriter(str(run_dir)) as w:
            w.add_scalar("loss", float(i), 0)
        ids.append(run_id_of(run_dir))
        time.sleep(0.01)  # distinct start times: the newest is the last written
    page.goto(ui(tmp_path).url)
    page.wait_for_selector(ROW)
    checked = page.locator(f"{ROW}:has(input:checked)").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"
    )
    assert sorted(checked) == sorted(ids[2:])
    page.wait_for_selector("[data-testid=chart][data-tag=loss][data-state=drawn]")
    legend = page.locator("[data-testid=chart][data-tag=loss] [data-testid=legend-value]")
    assert sorted(legend.evaluate_all("els => els.map(e => e.dataset.runId)")) == sorted(ids[2:])
    # The five selected by default have five different colours, the same after a reload.
    colours = swatch_colours(page, ids)
    assert len({colours[i] for i in ids[2:]}) == 5
    page.reload()
    page.wait_for_selector(ROW)
    assert swatch_colours(page, ids) == colours

    page.locator(row(ids[0])).locator("input[type=checkbox]").check()
    assert f"runs={ids[0]}" in page.url or f",{ids[0]}" in page.url
    page.wait_for_selector(f'{LOSS} [data-testid=legend-value][data-run-id="{ids[0]}"]')
    # One colour per run, the same in the panel and in the chart's legend.
    panel = (
        page.locator(row(ids[0]))
        .locator(".swatch")
        .evaluate("e => getComputedStyle(e).backgroundColor")
    )
    in_chart = page.locator(f'{LOSS} .legend-item:has([data-run-id="{ids[0]}"]) .swatch').evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert panel == in_chart


def write_many_runs(root: Path, n: int) -> None:
    """`n` runs as markers only (the runs listing counts a marker without events as a run)."""
    from localtrack._store.marker import make_marker

    now = time.time()
    for i in range(n):
        run_dir = root / "many" / f"run{i:05d}"
        run_dir.mkdir(parents=True)
        marker = dict(make_marker(f"gen{i:05d}", "many", run_dir.name, "tensorboard"))
        marker["created_at"] = now - 3600 - (n - i)
        (run_dir / "localtrack-run.json").write_text(json.dumps(marker), encoding="utf-8")


def test_ten_thousand_runs_keep_only_the_rows_on_screen(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    shm = Path("/dev/shm")
    root = Path(tmp_path)
    if shm.is_dir() and os.access(shm, os.W_OK):
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="localtrack-10k-", dir=shm))
    try:
        write_many_runs(root, 10_000)
        page.goto(ui(root).url)
        page.wait_for_selector(ROW, timeout=60_000)
        assert page.locator("[data-testid=run-count]").text_content() == "10000 runs"
        assert page.locator(ROW).count() < 80
        assert page.locator(row("gen09999")).count() == 1  # the newest run is on top

        page.locator(".run-list").evaluate("list => { list.scrollTop = list.scrollHeight; }")
        page.wait_for_selector(row("gen00000"), timeout=60_000)
        assert page.locator(ROW).count() < 80
        assert page.locator(row("gen09999")).count() == 0

        page.fill("[data-testid=run-filter]", "run0421[0-9]")
        page.wait_for_function(
            "document.querySelector('[data-testid=run-count]').textContent === '10 runs'",
            timeout=60_000,
        )
        names = page.locator(f"{ROW} [data-testid=run-name]").all_text_contents()
        assert sorted(names) == [f"run0421{i}" for i in range(10)]
        screenshot(page, "runs-panel-10k")
    finally:
        if root != tmp_path:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def test_an_empty_root_says_how_runs_get_there(tmp_path: Path, ui: Any, page: Any) -> None:
    page.goto(ui(tmp_path).url)
    page.wait_for_selector(".empty-state:not([hidden])")
    assert page.locator("[data-testid=run-count]").text_content() == "0 runs"
    text = str(page.locator(".empty-state").text_content())
    assert str(tmp_path) in text and "SummaryWriter" in text
