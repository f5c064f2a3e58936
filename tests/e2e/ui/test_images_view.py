"""The images view in a real browser: the image at step k is the logged one, pixel for pixel
(decoded from the page's <img> through a canvas), with its caption and size, and the slider
reaches every logged step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import localtrack

STEPS = 30
H, W = 24, 40


def logged_image(step: int) -> np.ndarray:
    """(H, W, 3) uint8, different at every step."""
    rng = np.random.default_rng(step)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    img[:4, :, 0] = step * 8
    return img


def log_images(root: Path) -> None:
    run = localtrack.init(project="gan", name="dcgan", dir=str(root))
    for step in range(STEPS):
        pixels = logged_image(step)
        run.log({"samples": localtrack.Image(pixels, caption=f"epoch {step} <b>x</b>")}, step=step)
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()


PIXELS_JS = """img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(0, 0, c.width, c.height).data);
}"""


def shown_pixels(page: Any) -> np.ndarray:
    flat = page.locator("[data-testid=image]").evaluate(PIXELS_JS)
    return np.array(flat, dtype=np.uint8).reshape(H, W, 4)[:, :, :3]


def wait_shown(page: Any, step: int) -> None:
    page.wait_for_selector(f"[data-testid=images-card][data-state=shown] img[data-step='{step}']")


def test_the_image_at_each_step_has_the_logged_pixels(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_images(tmp_path)
    page.goto(ui(tmp_path).url.replace("/?", "/?view=images&"))
    wait_shown(page, STEPS - 1)
    tags = page.locator("[data-testid=images-tag]").evaluate_all("s => s.map(x => x.dataset.tag)")
    assert tags == ["samples"]
    np.testing.assert_array_equal(shown_pixels(page), logged_image(STEPS - 1))
    assert (
        page.locator("[data-testid=image-caption]").text_content() == f"epoch {STEPS - 1} <b>x</b>"
    )
    assert page.locator("[data-testid=image-size]").text_content() == f"{W}×{H} px · {STEPS} steps"

    slider = page.locator("[data-testid=step-slider]")
    slider.focus()
    page.keyboard.press("Home")
    wait_shown(page, 0)
    np.testing.assert_array_equal(shown_pixels(page), logged_image(0))
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    wait_shown(page, 7)
    assert page.locator("[data-testid=step-readout]").text_content() == "step 7"
    np.testing.assert_array_equal(shown_pixels(page), logged_image(7))
    assert page.locator("[data-testid=image-caption]").text_content() == "epoch 7 <b>x</b>"
    screenshot(page, "images")

    page.locator("[data-testid=images-card] .image-frame").click()
    full = page.locator("[data-testid=image-full]")
    full.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=image-full]').complete")
    assert full.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [W, H]
    screenshot(page, "images-full-size")
    page.keyboard.press("Escape")
    assert page.locator("[data-testid=lightbox]").count() == 0


def test_served_png_is_the_stored_file(tmp_path: Path, ui: Any, page: Any) -> None:
    log_images(tmp_path)
    stored = localtrack.sql(
        "SELECT data FROM images WHERE step = 12", root=str(tmp_path)
    ).fetchall()[0][0]
    page.goto(ui(tmp_path).url.replace("/?", "/?view=images&"))
    wait_shown(page, STEPS - 1)
    page.locator("[data-testid=step-slider]").fill("12")
    wait_shown(page, 12)
    served = page.locator("[data-testid=image]").evaluate(
        "async img => Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))"
    )
    assert bytes(served) == bytes(stored)
