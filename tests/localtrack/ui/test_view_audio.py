"""The audio view's endpoints over real HTTP, on clips logged with the real writer: every step
listed with its rate and length, one step's WAV file as stored, cacheable for its version."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import numpy as np
import pytest
import requests

import localtrack
from localtrack import ui

RATE = 8000


def sine(step: int) -> np.ndarray:
    t = np.arange(RATE // 4) / RATE
    return 0.5 * np.sin(2 * np.pi * 220 * (step + 1) * t)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    root = tmp_path_factory.mktemp("audio")
    writer = localtrack.SummaryWriter(str(root / "p" / "sound"))
    for step in range(0, 10, 2):
        writer.add_audio("voice", sine(step), step, sample_rate=RATE)
    writer.add_audio("stereo", np.stack([sine(0), -sine(0)]), 3, sample_rate=RATE)
    writer.close()
    plain = localtrack.SummaryWriter(str(root / "p" / "plain"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    handle = ui.serve(root=root, port=0, token=False)
    base = handle.url.rstrip("/")
    runs = {
        r["name"]: r["run_id"] for r in requests.get(base + "/api/runs", timeout=30).json()["runs"]
    }
    yield base, runs["sound"], runs["plain"]
    handle.stop()


def samples(body: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(body)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return wav.getframerate(), frames.reshape(-1, wav.getnchannels()).T / 32767


def test_tags_and_steps_list_only_runs_with_audio(served: tuple[str, str, str]) -> None:
    base, sound, plain = served
    tags = requests.get(base + "/api/audio/tags", {"runs": f"{sound},{plain}"}, timeout=30).json()
    assert [t["tag"] for t in tags["tags"]] == ["stereo", "voice"]
    assert tags["tags"][1]["runs"] == [
        {"run_id": sound, "steps": 5, "first_step": 0, "last_step": 8}
    ]
    assert requests.get(base + "/api/audio/tags", {"runs": plain}, timeout=30).json() == {
        "tags": []
    }
    info = requests.get(base + "/api/audio/steps", {"run": sound, "tag": "voice"}, timeout=30)
    body = info.json()
    assert body["step"] == [0, 2, 4, 6, 8]
    assert set(body["sample_rate"]) == {RATE} and set(body["num_samples"]) == {RATE // 4}
    assert set(body["channels"]) == {1}


def test_audio_is_the_logged_clip_as_wav(served: tuple[str, str, str]) -> None:
    base, sound, _ = served
    v = requests.get(base + "/api/audio/steps", {"run": sound, "tag": "voice"}, timeout=30).json()
    for step in (0, 6):
        got = requests.get(
            base + "/api/audio/audio",
            {"run": sound, "tag": "voice", "step": step, "v": v["version"]},
            timeout=30,
        )
        assert got.headers["Content-Type"] == "audio/wav"
        assert "immutable" in got.headers["Cache-Control"]
        rate, pcm = samples(got.content)
        assert rate == RATE
        np.testing.assert_allclose(pcm[0], sine(step), atol=1 / 32767)
    got = requests.get(
        base + "/api/audio/audio", {"run": sound, "tag": "stereo", "step": 3}, timeout=30
    )
    assert got.headers["Cache-Control"] == "no-cache"
    _, pcm = samples(got.content)
    np.testing.assert_allclose(pcm, np.stack([sine(0), -sine(0)]), atol=1 / 32767)


def test_a_step_not_logged_and_bad_parameters(served: tuple[str, str, str]) -> None:
    base, sound, _ = served
    missing = requests.get(
        base + "/api/audio/audio", {"run": sound, "tag": "voice", "step": 3}, timeout=30
    )
    assert missing.status_code == 404 and "step 3" in missing.json()["error"]
    assert (
        requests.get(
            base + "/api/audio/audio", {"run": sound, "tag": "voice"}, timeout=30
        ).status_code
        == 400
    )
    assert (
        requests.get(base + "/api/audio/steps", {"run": "../x", "tag": "v"}, timeout=30).status_code
        == 400
    )
