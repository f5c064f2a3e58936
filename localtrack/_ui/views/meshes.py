"""The Meshes view: 3-D meshes of `add_mesh` (`meshes` rows), drawn in the page with three.js.

`/api/meshes/tags` lists the runs and tags that hold meshes, with their steps;
`/api/meshes/mesh` sends one row's vertices, vertex colours and faces as arrays-v1, with the
row's config (camera, lights, material: TensorBoard's `config_dict`) in the header.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import numpy as np

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _arrays_wire as wire
from localtrack._ui.views._tagged_rows import one_row, row_request, runs_asked, stream_tags, tensor

VIEW = View("meshes", "Meshes", 50, "js/views/meshes.js")
STREAM = "meshes"
ANSWERS = AnswerCache()


def tags_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    return json_answer({"tags": stream_tags(cur, STREAM, runs_asked(snap, query))})


def mesh_body(row: dict[str, Any], run: str, tag: str) -> bytes:
    """arrays-v1 of one `meshes` row: vertices (B, N, 3) float32, colors (B, N, 3) uint8 and
    faces (B, F, 3) uint32 when logged."""
    vertices = tensor(row["vertices"])
    if vertices is None:
        vertices = np.zeros((1, 0, 3), np.float32)
    arrays: dict[str, np.ndarray] = {"vertices": vertices.astype(np.float32, copy=False)}
    colors = tensor(row["colors"])
    if colors is not None:
        arrays["colors"] = colors.astype(np.uint8, copy=False)
    faces = tensor(row["faces"])
    if faces is not None:
        arrays["faces"] = faces.astype(np.uint32)
    finite = vertices[np.isfinite(vertices).all(axis=-1)]
    header = {
        "run_id": run,
        "tag": tag,
        "step": row["step"],
        "wall_time": row["wall_time"],
        "batch": int(vertices.shape[0]),
        "vertex_count": int(vertices.shape[1]),
        "face_count": 0 if faces is None else int(faces.shape[1]),
        "bounds": [finite.min(axis=0).tolist(), finite.max(axis=0).tolist()]
        if len(finite)
        else None,
        "config": json.loads(row["config"]) if row["config"] else None,
    }
    return wire.pack(header, arrays)


def mesh_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag, step = row_request(query)
    files = tuple(snap.streams.get(STREAM, {}).get(run, ()))
    key = (run, tag, step, files)
    body = ANSWERS.get(key) if step is not None else None
    if body is None:
        row = one_row(cur, STREAM, ("vertices", "colors", "faces", "config"), run, tag, step)
        body = mesh_body(row, run, tag)
        ANSWERS.put(key, body)
    return wire.answer(body)


QUERIES = {"/api/meshes/tags": tags_answer, "/api/meshes/mesh": mesh_answer}
