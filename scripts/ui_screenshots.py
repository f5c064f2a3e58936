"""Remake the README's dashboard screenshots (docs/img/ui-*.png) from a small made-up store.

Five runs of an MNIST-like sweep written by the real writer (one failed, one still
running while the pictures are taken), served by `localtrack ui`, shot in headless Chromium
at 1280×800. Needs Playwright (the `test` or `bench` extra) and /usr/bin/chromium.

    python scripts/ui_screenshots.py [--out docs/img] [--root /tmp/runs]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from bench_ui import CHROMIUM, CHROMIUM_ARGS

import localtrack
from localtrack import ui

RATES = (0.1, 0.03, 0.01, 0.003)
STEPS = 3000
# Run ids whose colours (an FNV-1a hash of the id into the page's palette, static/js/colors.js)
# are the palette's first five, far apart; random ids can share a colour.
IDS = ("mnist019", "mnist005", "mnist008", "mnist007", "mnist037")


def curves(lr: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = np.arange(STEPS, dtype=float)
    speed = 40 * lr**0.5
    loss = 2.3 * np.exp(-t * speed / STEPS * 4) + 0.08 / (lr * 30) ** 0.3
    train = loss * (1 + 0.15 * rng.standard_normal(STEPS))
    train[int(STEPS * 0.42)] *= 6 if lr == 0.1 else 1  # a spike, kept by the M4 reduction
    test = loss * 1.08 + 0.02 * np.sin(t / 90)
    acc = 1 - 0.9 * np.exp(-t * speed / STEPS * 3.5)
    return {
        "Loss/train": train,
        "Loss/test": test,
        "Accuracy/train": acc + 0.01 * rng.standard_normal(STEPS),
        "Accuracy/test": acc - 0.015,
        "lr": lr * 0.5 * (1 + np.cos(np.pi * t / STEPS)),
    }


def write_store(root: Path) -> localtrack.Run:
    """Four finished or failed runs, and a fifth that stays open (running) until closed."""
    rng = np.random.default_rng(7)
    for i, lr in enumerate(RATES):
        run = localtrack.init(
            project="mnist",
            name=f"resnet18-lr{lr:g}",
            id=IDS[i],
            config={"lr": lr, "batch_size": 128, "optimizer": {"name": "sgd", "momentum": 0.9}},
            dir=root,
            tags=["sweep"],
        )
        data = curves(lr, rng)
        last = STEPS if i != 3 else STEPS // 2
        for step in range(0, last, 5):
            run.log({k: float(v[step]) for k, v in data.items()}, step=step)
        run.summary["best_test_acc"] = float(data["Accuracy/test"][:last].max())
        run.finish(exit_code=1 if i == 3 else 0)
    live = localtrack.init(
        project="mnist",
        name="resnet34-lr0.03",
        id=IDS[4],
        config={"lr": 0.03, "batch_size": 256},
        dir=root,
    )
    data = curves(0.03, rng)
    for step in range(0, STEPS // 3, 5):
        live.log({k: float(v[step]) * 0.95 for k, v in data.items()}, step=step)
    return live


def shoot(url: str, out: Path, failed_run: str) -> None:
    from playwright.sync_api import sync_playwright

    base = url.split("?")[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.wait_for_selector("[data-testid=chart][data-state=drawn]", state="attached")
        page.wait_for_timeout(1000)  # let every chart on screen settle
        page.screenshot(path=str(out / "ui-scalars.png"))
        page.goto(base + "?" + urlencode({"tags": "^Loss", "logy": "1", "smooth": "0.9"}))
        page.fill("[data-testid=run-filter]", "resnet18")
        page.wait_for_selector("[data-testid=chart][data-state=drawn]", state="attached")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "ui-runs.png"))
        page.goto(base + "?" + urlencode({"view": "run", "run": failed_run}))
        page.wait_for_selector("[data-testid=run-page]")
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "ui-run-page.png"))
        browser.close()


def shrink(path: Path) -> None:
    """Quantise to 256 colours when Pillow is there (a UI needs no more); about half the size."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--root", type=Path, help="where the store goes (default: a temp folder)")
    parser.add_argument("--no-shrink", action="store_true", help="keep Chromium's full PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.root or Path(tempfile.mkdtemp(prefix="ui_shots_")) / "runs"
    if root.exists():
        shutil.rmtree(root)
    live = write_store(root)
    failed = localtrack.sql("SELECT run_id FROM runs WHERE status = 'failed'", root).fetchall()
    handle = ui.serve(root, port=0)
    try:
        shoot(handle.url, args.out, failed[0][0])
    finally:
        handle.stop()
        live.finish()
    for name in ("ui-scalars.png", "ui-runs.png", "ui-run-page.png"):
        if not args.no_shrink:
            shrink(args.out / name)
        print(args.out / name, (args.out / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
