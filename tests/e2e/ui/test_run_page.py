"""The run page in a real browser: what a run was started with (config, metadata), what it
ended with (summary, status, exit code) and every scalar tag with its last/min/max, for runs
logged with the real writer."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import localtrack


def run_id_of(run_dir: Path) -> str:
    marker = json.loads((run_dir / "localtrack-run.json").read_text(encoding="utf-8"))
    return str(marker["run_id"])


def table(page: Any, testid: str) -> dict[str, list[str]]:
    """A run page table as {first cell: the other cells}."""
    rows = page.locator(f"[data-testid={testid}] tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    return {row[0]: row[1:] for row in rows}


def open_run(page: Any, handle: Any, run_id: str) -> None:
    page.goto(handle.url.replace("/?", f"/?view=run&run={run_id}&"))
    page.wait_for_selector("[data-testid=run-page]")


def test_run_page_shows_config_summary_metadata_and_scalars(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    run = localtrack.init(
        project="vision",
        name="resnet-sweep",
        dir=str(tmp_path),
        config={"lr": 0.1, "model": {"depth": 18, "name": "resnet"}},
        tags=["baseline"],
    )
    for step in range(20):
        run.log({"train/loss": 2.0 - step * 0.1, "train/acc": step / 20}, step=step)
    run.summary["best_acc"] = 0.95
    run.finish()
    run_id = run_id_of(next((tmp_path / "vision").iterdir()))

    handle = ui(tmp_path)
    open_run(page, handle, run_id)
    page.wait_for_selector("[data-testid=run-config] tbody tr")
    assert page.locator(".run-title").text_content() == "resnet-sweep"
    assert (
        page.locator("[data-testid=run-page] [data-testid=run-status]").text_content() == "finished"
    )

    config = table(page, "run-config")
    assert config["lr"] == ["0.1"]
    assert config["model/depth"] == ["18"]
    assert config["model/name"] == ["resnet"]

    summary = table(page, "run-summary")
    assert summary["best_acc"] == ["0.95"]

    metadata = table(page, "run-metadata")
    assert metadata["host"] == [socket.gethostname()]
    assert metadata["python"] == [platform.python_version()]
    assert metadata["world_size"] == ["1"]
    assert metadata["argv"] == [" ".join(sys.argv)]

    scalars = table(page, "run-scalars")
    # tag: points, last step, last, min, max
    assert scalars["train/loss"] == ["20", "19", "0.1", "0.1", "2"]
    assert scalars["train/acc"] == ["20", "19", "0.95", "0", "0.95"]
    screenshot(page, "run-page")

    # A tag links back to the scalars view of this run.
    page.click("[data-testid=run-scalars] a:text-is('train/loss')")
    page.wait_for_selector('[data-testid=chart][data-tag="train/loss"][data-state=drawn]')
    assert page.locator('[data-testid=chart][data-tag="train/acc"]').is_hidden()


def test_a_failed_run_shows_its_exit_code_and_the_panel_opens_it(
    tmp_path: Path, ui: Any, page: Any
) -> None:
    code = f"""
        import localtrack
        w = localtrack.SummaryWriter({str(tmp_path / "exp" / "broken")!r})
        w.add_scalar("loss", 1.5, 0)
        raise ValueError("diverged")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    run_id = run_id_of(tmp_path / "exp" / "broken")

    page.goto(ui(tmp_path).url)
    page.click(f'[data-testid=run-row][data-run-id="{run_id}"] [data-testid=run-name]')
    page.wait_for_selector("[data-testid=run-page] .exit-code")
    assert f"run={run_id}" in page.url
    assert (
        page.locator("[data-testid=run-page] [data-testid=run-status]").text_content() == "failed"
    )
    assert page.locator("[data-testid=run-page] .exit-code").text_content() == "exit code 1"
    assert table(page, "run-scalars")["loss"] == ["1", "0", "1.5", "1.5", "1.5"]
    assert table(page, "run-metadata")["argv"] == ["-c"]
