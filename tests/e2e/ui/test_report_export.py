"""`localtrack ui --export`: one HTML file that shows the logged values with every network
request refused (headless Chromium, offline, every URL but the file itself aborted).

What a user checks: the chart holds the logged steps and values (exactly, for a series that
fits unreduced), the hover readout says them, a spike among 100k points is still there (M4,
the very reduction `/api/series` answers), the hparams table shows the logged hparams and
metrics, the image's pixels are the logged ones, and one run's full report (the sync
daemon's) shows its histograms, texts (as text: the logged <script> never runs), PR curve and
mesh.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import localtrack
from localtrack._cli.main import main as cli
from localtrack._store.marker import read_marker
from localtrack._ui.m4 import SeriesRequest
from localtrack._ui.report.export import run_report
from localtrack._ui.report.gather import WIDTH
from localtrack._ui.report.store import open_snapshot
from localtrack._ui.scalars import series_body
from localtrack._ui.wire import decode_series

STEPS = 300
H, W = 10, 14


@pytest.fixture
def offline(browser: Any) -> Iterator[Callable[[Path], Any]]:
    """`offline(file)`: a page showing `file` with the network off and every other request
    aborted; at teardown, fails if the page asked for anything, raised, or opened a dialog."""
    problems: list[str] = []
    contexts: list[Any] = []

    def open_file(path: Path) -> Any:
        url = path.resolve().as_uri()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.set_offline(True)

        def route(r: Any) -> None:
            if r.request.url == url:
                r.continue_()
            else:
                problems.append(f"request: {r.request.url}")
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]")
        return page

    try:
        yield open_file
    finally:
        for context in contexts:
            context.close()
    assert not problems, problems


def loss(run: int, step: int) -> float:
    return 1.0 / (step + 1) + 0.1 * run + math.sin(step) * 1e-3  # float64, not float32-exact


def logged_image(run: int) -> np.ndarray:
    """(3, H, W) uint8, CHW as add_image takes it."""
    return np.random.default_rng(run).integers(0, 256, (3, H, W), dtype=np.uint8)


def log_runs(root: Path) -> list[str]:
    ids = []
    for run in range(2):
        w = localtrack.SummaryWriter(root / f"exp{run}")
        for step in range(STEPS):
            w.add_scalar("loss/train", loss(run, step), step)
        w.add_scalar("acc", np.float32(0.5 + run / 4), 7)
        w.add_image("samples", logged_image(run), 40 + run)
        w.add_image("samples", np.zeros((3, H, W), np.uint8), 3)  # an earlier step: not shown
        w.add_hparams(
            {"lr": 0.001 * (run + 1), "optimizer": f"adam{run}"}, {"hp/score": 0.75 + run}
        )
        w.close()
        ids.append(read_marker(root / f"exp{run}")["run_id"])
    return ids


def test_the_report_shows_the_logged_values_offline(tmp_path: Path, offline: Any) -> None:
    root = tmp_path / "runs"
    ids = log_runs(root)
    out = tmp_path / "report.html"
    assert cli(["ui", "--root", str(root), "--export", str(out)]) == 0
    page = offline(out)

    for run, run_id in enumerate(ids):
        held = page.evaluate(
            "([t, r]) => window.localtrackReport.series(t, r)", ["loss/train", run_id]
        )
        assert held["reduced"] is False
        assert held["x"] == list(range(STEPS))
        assert held["y"] == [loss(run, s) for s in range(STEPS)]
        acc = page.evaluate("([t, r]) => window.localtrackReport.series(t, r)", ["acc", run_id])
        assert acc["x"] == [7] and acc["y"] == [float(np.float32(0.5 + run / 4))]
    charts = page.locator("[data-testid=report-chart][data-state=drawn]")
    assert sorted(charts.evaluate_all("cs => cs.map(c => c.dataset.tag)")) == [
        "acc",
        "hp/score",
        "loss/train",
    ]

    # the hover readout names the step under the cursor and each run's value there
    plot = page.locator("[data-testid=report-chart][data-tag='loss/train'] .u-over")
    box = plot.bounding_box()
    plot.hover(position={"x": box["width"] * 0.5, "y": box["height"] / 2})
    card = page.locator("[data-testid=report-chart][data-tag='loss/train']")
    step = int(card.locator(".legend-step").inner_text().removeprefix("step "))
    for run, run_id in enumerate(ids):
        shown = card.locator(f"[data-testid=legend-value][data-run-id='{run_id}']").inner_text()
        assert float(shown) == pytest.approx(loss(run, step), rel=1e-5)

    table = page.locator("[data-testid=report-hparams]")
    header = table.locator("th").all_inner_texts()
    assert header[1:] == ["run", "lr", "optimizer", "hp/score"]
    rows = [r.locator("td").all_inner_texts()[1:] for r in table.locator("tbody tr").all()]
    assert sorted(rows) == [["exp0", "0.001", "adam0", "0.75"], ["exp1", "0.002", "adam1", "1.75"]]

    for run, run_id in enumerate(ids):
        img = page.locator(f"[data-testid=report-image][data-run-id='{run_id}'][data-tag=samples]")
        flat = img.evaluate(
            """img => {
              const c = document.createElement('canvas');
              c.width = img.naturalWidth; c.height = img.naturalHeight;
              const g = c.getContext('2d');
              g.drawImage(img, 0, 0);
              return Array.from(g.getImageData(0, 0, c.width, c.height).data);
            }"""
        )
        pixels = np.array(flat, dtype=np.uint8).reshape(H, W, 4)
        assert (pixels[:, :, :3] == logged_image(run).transpose(1, 2, 0)).all()
        assert (pixels[:, :, 3] == 255).all()
        note = img.evaluate("i => i.closest('figure').querySelector('figcaption').textContent")
        assert note.startswith(f"step {40 + run} (last of 2 steps)")  # the last step's image


def test_a_spike_among_100k_points_is_kept_as_the_server_reduces(
    tmp_path: Path, offline: Any
) -> None:
    root = tmp_path / "runs"
    n, spike_at = 100_000, 61_234
    values = np.random.default_rng(1).random(n)
    values[spike_at] = 1000.0
    w = localtrack.SummaryWriter(root / "big")
    for step in range(n):
        w.add_scalar("loss", float(values[step]), step)
    w.close()
    run_id = read_marker(root / "big")["run_id"]
    out = tmp_path / "big.html"
    assert cli(["ui", "--root", str(root), "--export", str(out), "big", "--tags", "^loss$"]) == 0
    page = offline(out)
    held = page.evaluate("([t, r]) => window.localtrackReport.series(t, r)", ["loss", run_id])
    assert held["reduced"] is True and held["points"] == n
    assert len(held["x"]) <= 4 * WIDTH
    top = int(np.argmax(held["y"]))
    assert held["y"][top] == 1000.0 and held["x"][top] == spike_at

    # the same reduction as the dashboard's /api/series at the report's width
    snap = open_snapshot(root)
    try:
        cur = snap.con.cursor()
        body = series_body(snap, cur, SeriesRequest(tag="loss", runs=(run_id,), width=WIDTH))
        cur.close()
    finally:
        snap.close()
    _, (served,) = decode_series(body)
    assert held["x"] == served["x"].tolist() and held["y"] == served["y"].tolist()


def test_one_runs_report_shows_its_other_streams(tmp_path: Path, offline: Any) -> None:
    run_dir = tmp_path / "runs" / "media"
    w = localtrack.SummaryWriter(run_dir)
    rng = np.random.default_rng(0)
    for step in range(5):
        w.add_histogram("weights", rng.normal(size=500) + step, step)
        w.add_text("notes", f"step {step} <script>alert('x')</script> <b>bold</b>", step)
        w.add_scalar("loss", 1.0 / (step + 1), step)
    labels = rng.integers(0, 2, 200)
    w.add_pr_curve("pr", labels, np.clip(labels * 0.6 + rng.random(200) * 0.5, 0, 1), 4)
    vertices = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], np.float32)
    colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], np.uint8)
    faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], np.int32)
    w.add_mesh("tetra", vertices, colors=colors, faces=faces, global_step=2)
    w.close()
    run_id = read_marker(run_dir)["run_id"]
    out = tmp_path / "one.html"
    out.write_bytes(run_report(run_dir, run_id))
    page = offline(out)
    assert (
        page.locator("[data-testid=report-histogram][data-tag=weights]").get_attribute(
            "data-ridges"
        )
        == "5"
    )
    texts = page.locator("[data-testid=report-text][data-tag=notes] pre").all_inner_texts()
    assert texts[0] == "step 4 <script>alert('x')</script> <b>bold</b>"  # as text, newest first
    assert len(texts) == 5
    assert (
        page.locator("[data-testid=report-text] b, [data-testid=report-text] script").count() == 0
    )
    assert page.locator("[data-testid=report-pr-curve][data-tag=pr] polyline").count() == 1
    mesh = page.locator("[data-testid=report-mesh][data-tag=tetra]")
    assert (mesh.get_attribute("data-vertices"), mesh.get_attribute("data-faces")) == ("4", "4")
    assert mesh.locator("polygon").count() == 4
    held = page.evaluate("([t, r]) => window.localtrackReport.series(t, r)", ["loss", run_id])
    assert held["y"] == [1.0 / (s + 1) for s in range(5)]


def test_errors_name_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    w = localtrack.SummaryWriter(root / "only")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    out = tmp_path / "r.html"
    assert cli(["ui", "--root", str(root), "--export", str(out), "nosuchrun"]) == 1
    assert "no run 'nosuchrun'" in capsys.readouterr().err
    assert cli(["ui", "--root", str(root), "--export", str(out), "--tags", "^acc"]) == 1
    err = capsys.readouterr().err
    assert "no tag of these runs matches --tags '^acc'" in err and "loss" in err
    assert cli(["ui", "--root", str(root), "--export", str(out), "--tags", "("]) == 1
    assert "not a valid regular expression" in capsys.readouterr().err
    assert cli(["ui", "--root", str(root), "only"]) == 2
    assert "go with --export" in capsys.readouterr().err
    assert cli(["ui", "--root", str(tmp_path / "empty"), "--export", str(out)]) == 1
    assert "no runs under" in capsys.readouterr().err
    assert not out.exists()
