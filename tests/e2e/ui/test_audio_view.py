"""The audio view in a real browser: a sine logged with the real writer plays from an <audio>
element whose WAV file Chromium decodes back to the logged samples (within int16
quantisation), and the step slider reaches every logged step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import localtrack

RATE = 16000
STEPS = 6


def tone(step: int) -> np.ndarray:
    t = np.arange(RATE // 2) / RATE
    envelope = np.exp(-2 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 6 * t))
    return 0.9 * np.sin(2 * np.pi * 330 * (step + 1) * t) * envelope


def log_audio(root: Path) -> None:
    w = localtrack.SummaryWriter(str(root / "speech" / "tacotron"))
    for step in range(STEPS):
        w.add_audio("sample/tone", tone(step), step * 10, sample_rate=RATE)
        w.add_scalar("loss", 1.0 / (step + 1), step * 10)
    w.close()
    plain = localtrack.SummaryWriter(str(root / "speech" / "no-audio"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()


DECODE_JS = """async audio => {
  const bytes = await (await fetch(audio.currentSrc || audio.src)).arrayBuffer();
  const ctx = new OfflineAudioContext(1, 1, RATE);
  const buffer = await ctx.decodeAudioData(bytes);
  return {rate: buffer.sampleRate, channels: buffer.numberOfChannels,
          samples: Array.from(buffer.getChannelData(0))};
}""".replace("RATE", str(RATE))


def wait_shown(page: Any, step: int) -> None:
    page.wait_for_selector(
        f"[data-testid=audio-card][data-state=shown] [data-testid=audio-player][data-step='{step}']"
    )


def decoded(page: Any) -> np.ndarray:
    got = page.locator("[data-testid=audio-player]").evaluate(DECODE_JS)
    assert got["rate"] == RATE and got["channels"] == 1
    return np.asarray(got["samples"])


def assert_is_logged(samples: np.ndarray, logged: np.ndarray) -> None:
    """Within int16 quantisation: the writer truncates x * 32767 to an integer (one step) and
    decoders scale back by 32767 or 32768 (a part in 32768 more)."""
    assert samples.shape == logged.shape
    np.testing.assert_allclose(samples, logged, rtol=0, atol=2 / 32767)


def test_the_clip_at_each_step_decodes_to_the_logged_samples(
    tmp_path: Path, ui: Any, page: Any, screenshot: Any
) -> None:
    log_audio(tmp_path)
    page.goto(ui(tmp_path).url.replace("/?", "/?view=audio&"))
    page.wait_for_selector("[data-testid=audio-view]")
    # the default selection holds both runs; only the one with audio gets a card
    wait_shown(page, (STEPS - 1) * 10)
    cards = page.locator("[data-testid=audio-card]")
    assert cards.count() == 1
    assert page.locator("[data-testid=audio-tag]").evaluate_all(
        "s => s.map(x => x.dataset.tag)"
    ) == ["sample/tone"]
    assert_is_logged(decoded(page), tone(STEPS - 1))
    info = page.locator("[data-testid=audio-info]").text_content()
    assert info == f"16.0 kHz · mono · 500 ms · {STEPS} steps"

    slider = page.locator("[data-testid=step-slider]")
    slider.focus()
    page.keyboard.press("Home")
    wait_shown(page, 0)
    assert_is_logged(decoded(page), tone(0))
    seen = []
    for _ in range(STEPS - 1):
        page.keyboard.press("ArrowRight")
        seen.append(int(slider.get_attribute("data-step") or -1))
    assert seen == [10 * k for k in range(1, STEPS)]
    wait_shown(page, (STEPS - 1) * 10)
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_shown(page, 20)
    assert_is_logged(decoded(page), tone(2))
    assert page.locator("[data-testid=step-readout]").text_content() == "step 20"
    duration = page.locator("[data-testid=audio-player]").evaluate(
        "a => new Promise(r => a.readyState >= 1 ? r(a.duration)"
        " : a.addEventListener('loadedmetadata', () => r(a.duration)))"
    )
    assert abs(duration - 0.5) < 1e-3
    page.mouse.move(0, 0)
    page.locator("[data-testid=audio-tag]").click()
    screenshot(page, "audio")
