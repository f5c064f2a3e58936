"""The images view's endpoints over images logged with the real writer: every step listed
with its size and caption, one image per request as stored, cacheable for its version."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from PIL import Image as PILImage

import localtrack
from localtrack import ui


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("images")
    writer = localtrack.SummaryWriter(str(root / "p" / "r"))
    for step in range(0, 100, 2):
        img = np.full((3, 8, 12), step, dtype=np.uint8)
        writer.add_image("grid", img, step)
    writer.add_image("grid", np.full((3, 8, 12), 255, dtype=np.uint8), 50)  # step 50 again
    writer.close()
    handle = ui.serve(root=root, port=0, token=False)
    base = handle.url.rstrip("/")
    run = requests.get(base + "/api/runs", timeout=30).json()["runs"][0]["run_id"]
    yield base, run
    handle.stop()


def test_steps_lists_every_step_once_with_size(served: tuple[str, str]) -> None:
    base, run = served
    answer = requests.get(base + "/api/images/steps", {"run": run, "tag": "grid"}, timeout=30)
    info = answer.json()
    assert info["step"] == list(range(0, 100, 2))
    assert set(info["width"]) == {12} and set(info["height"]) == {8}
    tags = requests.get(base + "/api/images/tags", {"runs": run}, timeout=30).json()["tags"]
    assert tags == [
        {"tag": "grid", "runs": [{"run_id": run, "steps": 50, "first_step": 0, "last_step": 98}]}
    ]


def test_image_is_the_stored_png_of_that_step_and_the_last_one_logged(
    served: tuple[str, str],
) -> None:
    base, run = served
    version = requests.get(base + "/api/images/steps", {"run": run, "tag": "grid"}, timeout=30)
    v = version.json()["version"]
    for step, value in ((10, 10), (50, 255), (98, 98)):
        got = requests.get(
            base + "/api/images/image",
            {"run": run, "tag": "grid", "step": step, "v": v},
            timeout=30,
        )
        assert got.headers["Content-Type"] == "image/png"
        assert "immutable" in got.headers["Cache-Control"]
        pixels = np.asarray(PILImage.open(io.BytesIO(got.content)))
        assert pixels.shape == (8, 12, 3) and (pixels == value).all()
    stale = requests.get(
        base + "/api/images/image", {"run": run, "tag": "grid", "step": 10, "v": "old"}, timeout=30
    )
    assert stale.headers["Cache-Control"] == "no-cache"


def test_a_step_not_logged_is_404(served: tuple[str, str]) -> None:
    base, run = served
    got = requests.get(
        base + "/api/images/image", {"run": run, "tag": "grid", "step": 3}, timeout=30
    )
    assert got.status_code == 404
    assert "step 3" in got.json()["error"]
