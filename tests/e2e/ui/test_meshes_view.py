"""The Meshes view in a real browser (software WebGL under --disable-gpu): torch's tetrahedron
from the SummaryWriter docs, logged with the real writer, drawn with its logged colours."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import localtrack

# torch.utils.tensorboard.SummaryWriter.add_mesh's example
VERTICES = [[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]
COLORS = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]
FACES = [[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]
# step 1: a square pyramid in mid tones (an sRGB conversion would change them)
PYRAMID = [[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1], [0, 1.5, 0]]
PYRAMID_COLORS = [[200, 120, 40], [40, 160, 200], [120, 60, 180], [90, 200, 90], [230, 230, 230]]
PYRAMID_FACES = [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [0, 2, 1], [0, 3, 2]]


def run_id_of(run_dir: Path) -> str:
    return str(json.loads((run_dir / "localtrack-run.json").read_text())["run_id"])


def write_store(root: Path) -> tuple[str, str]:
    w = localtrack.SummaryWriter(root / "exp" / "shapes")
    w.add_mesh(
        "my_mesh",
        vertices=torch.as_tensor(VERTICES, dtype=torch.float).unsqueeze(0),
        colors=torch.as_tensor(COLORS, dtype=torch.int).unsqueeze(0),
        faces=torch.as_tensor(FACES, dtype=torch.int).unsqueeze(0),
        global_step=0,
    )
    w.add_mesh(
        "my_mesh",
        vertices=torch.as_tensor(PYRAMID, dtype=torch.float).unsqueeze(0),
        colors=torch.as_tensor(PYRAMID_COLORS, dtype=torch.int).unsqueeze(0),
        faces=torch.as_tensor(PYRAMID_FACES, dtype=torch.int).unsqueeze(0),
        global_step=1,
    )
    w.add_mesh("cloud", vertices=torch.rand(1, 500, 3), global_step=3)
    w.close()
    plain = localtrack.SummaryWriter(root / "exp" / "plain")
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    return run_id_of(root / "exp" / "shapes"), run_id_of(root / "exp" / "plain")


def open_meshes(page: Any, handle: Any, runs: list[str], extra: str = "") -> None:
    page.goto(handle.url.replace("/?", f"/?view=meshes&runs={','.join(runs)}{extra}&"))
    page.wait_for_selector("[data-testid=mesh-viewer][data-state=drawn]")


def face_pixels(page: Any, colors: list[list[int]]) -> tuple[list[float], set[int]]:
    """Samples what the page shows on a grid of pixel centres over the mesh canvas: for each
    one inside a face (not near its edges), the logged vertex colours mixed by the point's
    barycentric coordinates against the screenshot's pixel. Returns each point's worst
    channel error and the faces seen."""
    box = page.locator("[data-testid=mesh-canvas]").bounding_box()
    pixels = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
    xs = np.linspace(box["x"] + 4, box["x"] + box["width"] - 4, 48).astype(int) + 0.5
    ys = np.linspace(box["y"] + 4, box["y"] + box["height"] - 4, 36).astype(int) + 0.5
    points = [[float(x), float(y)] for y in ys for x in xs]
    hits = page.evaluate("pts => pts.map(([x, y]) => window.localtrack.meshes.pick(x, y))", points)
    logged = np.asarray(colors, dtype=float)
    errors, faces = [], set()
    for (x, y), hit in zip(points, hits, strict=True):
        if hit is None or min(hit["barycoord"]) < 0.08:
            continue
        expected = np.asarray(hit["barycoord"]) @ logged[hit["vertices"]]
        got = pixels[int(y), int(x)].astype(float)
        errors.append(float(np.abs(got - expected).max()))
        faces.add(hit["face"])
    return errors, faces


def test_tetrahedron_is_drawn_with_its_logged_colours(
    tmp_path: Path, ui: Any, page: Any, page_errors: list[str], screenshot: Any
) -> None:
    shapes, plain = write_store(tmp_path)
    handle = ui(tmp_path)
    open_meshes(page, handle, [shapes, plain], "&mesh_tag=my_mesh&mesh_step=0")

    counts = page.locator("[data-testid=mesh-counts]")
    assert counts.text_content() == "4 vertices · 4 faces"
    assert counts.get_attribute("data-vertices") == "4"
    assert counts.get_attribute("data-faces") == "4"
    hook = page.evaluate("({...window.localtrack.meshes, pick: null, project: null})")
    assert hook["glError"] == 0
    assert hook["vertexCount"] == 4 and hook["faceCount"] == 4
    assert hook["colors"] == [c for rgb in COLORS for c in rgb]

    errors, faces = face_pixels(page, COLORS)
    assert len(errors) > 100
    assert len(faces) >= 2  # a tetrahedron seen from three-quarters shows two or three faces
    # within a few levels of 255 everywhere (a face seen edge-on changes fast across a pixel)
    assert np.median(errors) <= 2 and max(errors) <= 8, (np.median(errors), max(errors))
    screenshot(page, "meshes-view")

    # only the run and tags with meshes are listed: my_mesh and cloud of "shapes"
    rows = page.locator("[data-testid=series-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.tag, r.dataset.runId])"
    )
    assert rows == [["cloud", shapes], ["my_mesh", shapes]]
    assert not [e for e in page_errors if "GL" in e or "WebGL" in e or "three" in e.lower()]


def test_step_slider_reaches_every_step_and_the_counts_follow(
    tmp_path: Path, ui: Any, page: Any, page_errors: list[str]
) -> None:
    shapes, _ = write_store(tmp_path)
    handle = ui(tmp_path)
    open_meshes(page, handle, [shapes], "&mesh_tag=my_mesh&mesh_step=0")
    slider = page.locator("[data-testid=mesh-step]")
    assert slider.get_attribute("max") == "1"
    assert page.locator("[data-testid=mesh-step-value]").text_content() == "0"
    slider.fill("1")
    page.wait_for_selector("[data-testid=mesh-counts][data-step='1']")
    page.wait_for_selector("[data-testid=mesh-viewer][data-state=drawn]")
    counts = page.locator("[data-testid=mesh-counts]")
    assert counts.text_content() == "5 vertices · 6 faces"
    errors, faces = face_pixels(page, PYRAMID_COLORS)
    assert len(errors) > 100 and len(faces) >= 2
    # mid tones come out as logged: no sRGB conversion on the way (that would be ~40 levels)
    assert np.median(errors) <= 2 and max(errors) <= 8, (np.median(errors), max(errors))

    page.locator("[data-testid=series-row][data-tag=cloud]").click()
    page.wait_for_selector("[data-testid=mesh-counts][data-step='3']")
    assert counts.text_content() == "500 vertices · 0 faces"
    assert page.evaluate("window.localtrack.meshes.glError") == 0
    assert not [e for e in page_errors if "GL" in e or "WebGL" in e]
