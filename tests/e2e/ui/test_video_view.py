"""The video view in a real browser: a clip logged with the real writer is painted on a
canvas whose frame k has the logged pixels, play advances frames and pause holds one, and the
step slider reaches every logged step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import localtrack

STEPS = 4
T, H, W = 12, 30, 40


def logged_clip(step: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a ball crossing a gradient, its colour changing with the step."""
    yy, xx = np.mgrid[0:H, 0:W]
    frames = np.zeros((T, H, W, 3), np.uint8)
    for t in range(T):
        frames[t, ..., 0] = (xx * 255 // (W - 1)).astype(np.uint8)
        frames[t, ..., 1] = (yy * 160 // (H - 1)).astype(np.uint8)
        frames[t, ..., 2] = 90
        cx, cy = 4 + t * (W - 8) / (T - 1), H / 2 + 8 * np.sin(t / 2)
        ball = (xx - cx) ** 2 + (yy - cy) ** 2 <= 16
        frames[t][ball] = (255, 255 - 60 * step, 40 + 60 * step)
    return frames


def log_video(root: Path) -> None:
    w = localtrack.SummaryWriter(str(root / "rl" / "ppo"))
    for step in range(STEPS):
        batch = logged_clip(step).transpose(0, 3, 1, 2)[None]  # (N, T, C, H, W)
        w.add_video("rollout/episode", batch, step * 100, fps=6)
        w.add_scalar("reward", float(step), step * 100)
    w.close()
    plain = localtrack.SummaryWriter(str(root / "rl" / "no-video"))
    plain.add_scalar("reward", 0.0, 0)
    plain.close()


PIXELS_JS = """c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"""


def shown_frame(page: Any) -> np.ndarray:
    flat = page.locator("[data-testid=video-canvas]").evaluate(PIXELS_JS)
    rgba = np.array(flat, dtype=np.uint8).reshape(H, W, 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


def wait_frame(page: Any, step: int, frame: int) -> None:
    page.wait_for_selector(
        "[data-testid=video-card][data-state=shown] "
        f"[data-testid=video-canvas][data-step='{step}'][data-frame='{frame}']"
    )


def test_frame_k_has_the_logged_pixels_and_every_step_is_reached(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_video(tmp_path)
    page.goto(ui(tmp_path).url.replace("/?", "/?view=video&"))
    last = (STEPS - 1) * 100
    wait_frame(page, last, 0)
    assert page.locator("[data-testid=video-card]").count() == 1  # the run without video: none
    info = page.locator("[data-testid=video-info]").text_content()
    assert info == f"{W}×{H} px · {T} frames · 6 fps · {STEPS} steps"
    scrub = page.locator("[data-testid=video-frame-slider]")
    for k in (0, 5, T - 1):
        scrub.fill(str(k))
        wait_frame(page, last, k)
        np.testing.assert_array_equal(shown_frame(page), logged_clip(STEPS - 1)[k])
        counter = page.locator("[data-testid=video-frame-counter]").text_content()
        assert counter == f"frame {k + 1} / {T}"

    play = page.locator("[data-testid=video-play]")
    scrub.fill("0")
    play.click()
    page.wait_for_selector("[data-testid=video-card][data-playing='1']")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=video-canvas]').dataset.frame) >= 2"
    )
    play.click()
    page.wait_for_selector("[data-testid=video-card][data-playing='0']")
    held = page.locator("[data-testid=video-canvas]").get_attribute("data-frame")
    page.wait_for_timeout(400)  # more than two frames at 6 fps: a paused clip stays put
    assert page.locator("[data-testid=video-canvas]").get_attribute("data-frame") == held
    np.testing.assert_array_equal(shown_frame(page), logged_clip(STEPS - 1)[int(held or 0)])

    slider = page.locator("[data-testid=step-slider]")
    slider.focus()
    page.keyboard.press("Home")
    seen = [int(slider.get_attribute("data-step") or -1)]
    for _ in range(STEPS - 1):
        page.keyboard.press("ArrowRight")
        seen.append(int(slider.get_attribute("data-step") or -1))
    assert seen == [100 * s for s in range(STEPS)]
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    scrub.fill("7")
    wait_frame(page, 100, 7)
    np.testing.assert_array_equal(shown_frame(page), logged_clip(1)[7])
    page.mouse.move(0, 0)
    screenshot(page, "video")
