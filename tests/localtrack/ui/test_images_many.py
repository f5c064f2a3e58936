"""Many large images in one run, logged fast and compacted (as a long training leaves them):
every step's image comes back as logged while a page asks for a step and its neighbours at
once, and no Parquet row group of the run holds more than about ROW_GROUP_BYTES."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import requests
from PIL import Image as PILImage

import localtrack
from localtrack import ui
from localtrack._cli.main import main as cli
from localtrack._store.segments import ROW_GROUP_BYTES

STEPS = 240
SIDE = 256


def image(step: int) -> np.ndarray:
    """A 256×256 RGB image that PNG cannot shrink much (about 190 kB), different per step."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    return np.stack([(xx + step) % 256, (yy + 3 * step) % 256, ((xx ^ yy) + step) % 256]).astype(
        np.uint8
    )


def test_every_image_of_a_compacted_run_comes_back_under_concurrent_requests(
    tmp_path: Path,
) -> None:
    writer = localtrack.SummaryWriter(str(tmp_path / "p" / "r"))
    for step in range(STEPS):
        writer.add_image("grid", image(step), step)
    writer.close()
    assert cli(["--root", str(tmp_path), "compact"]) == 0
    files = list((tmp_path / "p" / "r" / "images").glob("*.parquet"))
    groups = [f.row_group(i) for p in files for f in [pq.ParquetFile(p).metadata]
              for i in range(f.num_row_groups)]  # fmt: skip
    assert sum(g.num_rows for g in groups) == STEPS
    assert max(g.total_byte_size for g in groups) < 1.5 * ROW_GROUP_BYTES

    handle = ui.serve(root=tmp_path, port=0, token=False)
    try:
        base = handle.url.rstrip("/")
        run = requests.get(base + "/api/runs", timeout=30).json()["runs"][0]["run_id"]
        info = requests.get(base + "/api/images/steps", {"run": run, "tag": "grid"}, timeout=30)
        version = info.json()["version"]

        def fetch(step: int) -> tuple[int, int, bytes]:
            q = {"run": run, "tag": "grid", "step": step, "v": version}
            got = requests.get(base + "/api/images/image", q, timeout=120)
            return step, got.status_code, got.content

        order = [s for k in range(0, STEPS, 7) for s in (k, k + 1, k - 1, k + 2) if 0 <= s < STEPS]
        with ThreadPoolExecutor(8) as pool:  # a move and its prefetches, several moves at once
            answers = list(pool.map(fetch, order))
        for step, status, body in answers:
            assert status == 200, (step, body[:200])
            pixels = np.asarray(PILImage.open(io.BytesIO(body)))
            assert np.array_equal(pixels, image(step).transpose(1, 2, 0)), step
    finally:
        handle.stop()
