"""The video view's endpoints over real HTTP, on clips logged with the real writer: every step
listed with its fps and frame size, one step's raw frames as arrays-v1, exactly as logged."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import requests

import localtrack
from localtrack import ui
from localtrack._ui.views._arrays_wire import unpack


def clip(step: int, t: int = 4) -> np.ndarray:
    """(1, T, 3, 6, 8) uint8, different at every step and frame."""
    rng = np.random.default_rng(step)
    return rng.integers(0, 256, (1, t, 3, 6, 8), dtype=np.uint8)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    root = tmp_path_factory.mktemp("video")
    writer = localtrack.SummaryWriter(str(root / "p" / "clips"))
    for step in (0, 5, 10):
        writer.add_video("rollout", clip(step), step, fps=8)
    writer.add_video("gray", np.full((2, 3, 1, 4, 4), 0.5), 1, fps=2.5)  # a batch of 2, floats
    writer.close()
    plain = localtrack.SummaryWriter(str(root / "p" / "plain"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    handle = ui.serve(root=root, port=0, token=False)
    base = handle.url.rstrip("/")
    listed = requests.get(base + "/api/runs", timeout=30).json()["runs"]
    runs = {r["name"]: r["run_id"] for r in listed}
    yield base, runs["clips"], runs["plain"]
    handle.stop()


def test_tags_and_steps_list_only_runs_with_video(served: tuple[str, str, str]) -> None:
    base, clips, plain = served
    tags = requests.get(base + "/api/video/tags", {"runs": f"{clips},{plain}"}, timeout=30)
    assert [t["tag"] for t in tags.json()["tags"]] == ["gray", "rollout"]
    assert requests.get(base + "/api/video/tags", {"runs": plain}, timeout=30).json() == {
        "tags": []
    }
    info = requests.get(base + "/api/video/steps", {"run": clips, "tag": "rollout"}, timeout=30)
    body = info.json()
    assert body["step"] == [0, 5, 10] and body["fps"] == [8.0, 8.0, 8.0]
    assert (body["frames"], body["height"], body["width"], body["channels"]) == (
        [4] * 3,
        [6] * 3,
        [8] * 3,
        [3] * 3,
    )


def test_frames_are_the_logged_pixels(served: tuple[str, str, str]) -> None:
    base, clips, _ = served
    got = requests.get(
        base + "/api/video/frames", {"run": clips, "tag": "rollout", "step": 5}, timeout=30
    )
    assert got.headers["X-Localtrack-Format"] == "arrays-v1"
    header, arrays = unpack(got.content)
    assert (header["step"], header["fps"], header["frames"]) == (5, 8.0, 4)
    np.testing.assert_array_equal(arrays["frames"], clip(5)[0].transpose(0, 2, 3, 1))
    header, arrays = unpack(
        requests.get(
            base + "/api/video/frames", {"run": clips, "tag": "gray", "step": 1}, timeout=30
        ).content
    )
    # the batch of two tiled side by side, floats in [0, 1] scaled to uint8
    assert arrays["frames"].shape == (3, 4, 8, 1) and header["fps"] == 2.5
    assert (arrays["frames"] == 128).all()


def test_a_step_not_logged_and_bad_parameters(served: tuple[str, str, str]) -> None:
    base, clips, _ = served
    missing = requests.get(
        base + "/api/video/frames", {"run": clips, "tag": "rollout", "step": 3}, timeout=30
    )
    assert missing.status_code == 404 and "step 3" in missing.json()["error"]
    no_step = requests.get(base + "/api/video/frames", {"run": clips, "tag": "x"}, timeout=30)
    assert no_step.status_code == 400
    unknown = requests.get(base + "/api/video/steps", {"run": clips, "tag": "nope"}, timeout=30)
    assert unknown.status_code == 404
