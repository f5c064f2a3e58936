"""What a user sees in MLflow's own UI after a sync, read off the page in headless Chromium.

The sync tests check the same facts through MlflowClient; this one opens MLflow's React UI
(served by the real `mlflow server` of the session) the way a team member would: the run page
names who created the run and its script, lists each add_hparams trial as a child run, and
shows the last logged value of a metric.
"""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

import localtrack
from localtrack._cli.main import main as cli

TRIALS = 3
STEPS = 20


SCRIPT = f"""
import sys
import localtrack

with localtrack.SummaryWriter(sys.argv[1]) as w:
    for step in range({STEPS}):
        w.add_scalar("loss/train", 1.0 / (step + 1), step)
    for i in range({TRIALS}):
        w.add_hparams(
            {{"lr": 0.1 * (i + 1), "opt": "sgd"}},
            {{"hparam/accuracy": 0.5 + i / 10}},
            run_name=f"trial-{{i}}",
            global_step=i,
        )
"""


def log_search(tmp_path: Path, log_dir: Path) -> None:
    """The training a user runs: a script of their own, in its own process."""
    script = tmp_path / "search_lr.py"
    script.write_text(SCRIPT)
    subprocess.run([sys.executable, str(script), str(log_dir)], check=True, timeout=120)


def open_page(browser: Any, blocked: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)
    return context.new_page()


def test_mlflow_ui_shows_the_user_script_trials_and_metrics(
    tmp_path, mlflow_server, browser, screenshot
):
    log_dir = tmp_path / "runs" / "search"
    log_search(tmp_path, log_dir)
    assert (
        cli(["sync", "--once", "--root", str(tmp_path / "runs"), "--uri", mlflow_server.url]) == 0
    )
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    client = MlflowClient(mlflow_server.url)
    (parent,) = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        f"tags.`localtrack.run_id` = '{run_id}'",
    )
    exp_id, rid = parent.info.experiment_id, parent.info.run_id

    blocked: list[str] = []
    page = open_page(browser, blocked)
    page.goto(f"{mlflow_server.url}/#/experiments/{exp_id}/runs/{rid}")
    # The child runs load after the page: wait for the last trial's name.
    page.get_by_text(f"trial-{TRIALS - 1}").first.wait_for(timeout=60_000)
    screenshot(page, "mlflow-run-page")
    lines = [line.strip() for line in page.inner_text("body").splitlines() if line.strip()]

    def after(label: str) -> str:
        return lines[lines.index(label) + 1]

    assert after("Created by") == getpass.getuser()
    assert after("Source") == "search_lr.py"  # the script, not the folder it ran in
    # The children are the trials, by their run_name, nested under the writer's run.
    children = " ".join(
        lines[lines.index("Child runs") + 1 : lines.index("Child runs") + 1 + TRIALS]
    )
    assert sorted(c.strip(", ") for c in children.split()) == [f"trial-{i}" for i in range(TRIALS)]
    assert after("loss/train") == "0.05"  # the last logged value, 1 / 20

    assert blocked == []


def test_mlflow_previews_the_report_with_its_charts(tmp_path, mlflow_server, browser):
    """MLflow's artifact view shows localtrack/report.html in a sandboxed frame (allow-scripts):
    the report's chart is drawn there, with the logged values, and nothing off loopback is
    asked for by the report."""
    from localtrack_daemon.state import load_state

    log_dir = tmp_path / "view" / "exp1"
    with localtrack.SummaryWriter(log_dir) as w:
        for step in range(20):
            w.add_scalar("loss", 2.0 - step / 10, step)
    root = str(tmp_path / "view")
    assert cli(["sync", "--once", "--root", root, "--uri", mlflow_server.url]) == 0
    run_id = json.loads((log_dir / "localtrack-run.json").read_text())["run_id"]
    state = load_state(log_dir, mlflow_server.url, run_id)
    blocked: list[str] = []
    page = open_page(browser, blocked)
    page.goto(
        f"{mlflow_server.url}/#/experiments/{state.experiment_id}/runs/{state.mlflow_run_id}"
        "/artifacts/localtrack/report.html"
    )
    frame = page.frame_locator("iframe.mlflow-html-iframe")
    chart = frame.locator("[data-testid=report-chart][data-tag=loss][data-state=drawn]")
    chart.wait_for(timeout=60_000)
    held = frame.locator("body").evaluate(
        "(b, r) => window.localtrackReport.series('loss', r)", run_id
    )
    assert held["y"] == [2.0 - s / 10 for s in range(20)]
    assert blocked == []
