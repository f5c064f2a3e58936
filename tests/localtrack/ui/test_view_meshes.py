"""The Meshes view's endpoints over real HTTP, on meshes logged with the real writer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

import localtrack
from localtrack._ui.views._arrays_wire import unpack

VERTICES = np.array([[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]], np.float32)
COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]], np.uint8)
FACES = np.array([[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]], np.int32)


def run_id_of(run_dir: Path) -> str:
    return str(json.loads((run_dir / "localtrack-run.json").read_text())["run_id"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    root = tmp_path_factory.mktemp("meshes")
    w = localtrack.SummaryWriter(root / "exp" / "shapes")
    w.add_mesh("tetra", VERTICES[None], COLORS[None], FACES[None], global_step=0)
    w.add_mesh("tetra", 2 * VERTICES[None], COLORS[None], FACES[None], global_step=5)
    pair = np.stack([VERTICES, VERTICES + 10])
    w.add_mesh("pair", pair, config_dict={"camera": {"fov": 60}}, global_step=2)
    w.close()
    other = localtrack.SummaryWriter(root / "exp" / "scalars-only")
    other.add_scalar("loss", 1.0, 0)
    other.close()
    handle = localtrack.ui.serve(root=root, port=0, token=None)
    try:
        yield handle, run_id_of(root / "exp" / "shapes"), run_id_of(root / "exp" / "scalars-only")
    finally:
        handle.stop()


def get(handle: Any, path: str, **params: Any) -> requests.Response:
    return requests.get(handle.url.split("?")[0].rstrip("/") + path, params=params, timeout=30)


def test_tags_list_only_runs_that_logged_meshes_with_every_step(served: Any) -> None:
    handle, shapes, plain = served
    body = get(handle, "/api/meshes/tags").json()
    assert body == {
        "tags": [
            {"tag": "pair", "runs": [{"run_id": shapes, "steps": [2]}]},
            {"tag": "tetra", "runs": [{"run_id": shapes, "steps": [0, 5]}]},
        ]
    }
    assert get(handle, "/api/meshes/tags", runs=plain).json() == {"tags": []}


def test_mesh_answer_holds_the_logged_arrays(served: Any) -> None:
    handle, shapes, _ = served
    res = get(handle, "/api/meshes/mesh", run=shapes, tag="tetra", step=0)
    assert res.headers["X-Localtrack-Format"] == "arrays-v1"
    header, arrays = unpack(res.content)
    assert (header["vertex_count"], header["face_count"], header["batch"]) == (4, 4, 1)
    assert header["step"] == 0 and header["bounds"] == [[-1, -1, -1], [1, 1, 1]]
    np.testing.assert_array_equal(arrays["vertices"][0], VERTICES)
    np.testing.assert_array_equal(arrays["colors"][0], COLORS)
    np.testing.assert_array_equal(arrays["faces"][0], FACES)
    latest, arrays = unpack(get(handle, "/api/meshes/mesh", run=shapes, tag="tetra").content)
    assert latest["step"] == 5
    np.testing.assert_array_equal(arrays["vertices"][0], 2 * VERTICES)


def test_a_batch_without_colours_or_faces_and_its_config(served: Any) -> None:
    handle, shapes, _ = served
    header, arrays = unpack(get(handle, "/api/meshes/mesh", run=shapes, tag="pair").content)
    assert header["batch"] == 2 and header["face_count"] == 0
    assert header["config"] == {"camera": {"fov": 60}}
    assert sorted(arrays) == ["vertices"]
    np.testing.assert_array_equal(arrays["vertices"][1], VERTICES + 10)


def test_unknown_step_and_bad_parameters(served: Any) -> None:
    handle, shapes, _ = served
    missing = get(handle, "/api/meshes/mesh", run=shapes, tag="tetra", step=3)
    assert missing.status_code == 404 and "step 3" in missing.json()["error"]
    assert get(handle, "/api/meshes/mesh", run="../x", tag="tetra").status_code == 400
    assert get(handle, "/api/meshes/mesh", run=shapes).status_code == 400
