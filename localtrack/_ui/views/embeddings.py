"""The Embeddings view, a projector-lite: `add_embedding` rows projected by PCA on the server.

`/api/embeddings/tags` lists the runs and tags that hold embeddings, with their steps and the
matrix's size; `/api/embeddings/projection` sends one row's points on its first 2 or 3
principal components (arrays-v1, float64, `_pca.py`), with the share of variance each one
carries and the metadata columns (for colouring and hover labels) in the header;
`/api/embeddings/sprite` sends the row's `label_img` thumbnails tiled in one PNG, which the
page cuts a hovered point's thumbnail from. The page draws the points on a canvas (no SVG
element per point), so 10,000 and more stay fluid.
"""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb
import numpy as np

from localtrack._query.views import ident
from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest, NotFound, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _arrays_wire as wire
from localtrack._ui.views._pca import pca
from localtrack._ui.views._tagged_rows import row_request, runs_asked, stream_tags, tensor
from localtrack._writer.images import encode_png, to_uint8

VIEW = View("embeddings", "Embeddings", 61, "js/views/embeddings.js")
STREAM = "embeddings"
ANSWERS = AnswerCache(64 * 2**20)
SIZE = "max(mat.shape[1]) AS points, max(mat.shape[2]) AS dims"


def tags_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    return json_answer({"tags": stream_tags(cur, STREAM, runs_asked(snap, query), SIZE)})


def read_row(
    cur: duckdb.DuckDBPyConnection, run: str, tag: str, step: int | None, columns: str
) -> dict[str, Any]:
    """`columns` (SQL) of the row at (run, tag, step), or of the latest step; the last one
    sealed when a step was logged twice."""
    where = "run_id = $run AND tag = $tag" + ("" if step is None else " AND step = $step")
    args: dict[str, Any] = {"run": run, "tag": tag}
    if step is not None:
        args["step"] = step
    result = cur.execute(
        f"SELECT step, {columns} FROM {ident(STREAM)} WHERE {where} "
        "ORDER BY step DESC, wall_time DESC, seq DESC LIMIT 1",
        args,
    )
    names = [d[0] for d in result.description]
    found = result.fetchone()
    if found is None:
        at = "" if step is None else f" at step {step}"
        raise NotFound(f"run {run} has no embeddings for tag {tag!r}{at}")
    return dict(zip(names, found, strict=True))


def metadata_columns(metadata: str | None, header: str | None, n: int) -> dict[str, Any] | None:
    """``{"columns": [names], "values": [[one per point] per column]}`` of a row's metadata:
    with a header, each row a list of its columns; without, one `label` column."""
    if not metadata:
        return None
    rows = json.loads(metadata)
    if not isinstance(rows, list) or len(rows) != n:
        return None
    names = json.loads(header) if header else None
    if isinstance(names, list) and names:
        width = len(names)
        values = [
            [r[i] if isinstance(r, list) and i < len(r) else None for r in rows]
            for i in range(width)
        ]
        return {"columns": [str(c) for c in names], "values": values}
    return {"columns": ["label"], "values": [rows]}


def sprite_layout(shape: list[int]) -> dict[str, int]:
    """Cells of the thumbnails' sprite: each image shrunk by a whole factor to at most 64 px
    (32 px past 2,500 images), `cols` × `rows` of them."""
    n, _, h, w = (int(v) for v in shape)
    limit = 64 if n <= 2500 else 32
    stride = max(1, math.ceil(max(h, w) / limit))
    cols = max(1, math.ceil(math.sqrt(n)))
    return {
        "count": n,
        "stride": stride,
        "cell_h": -(-h // stride),
        "cell_w": -(-w // stride),
        "cols": cols,
        "rows": max(1, -(-n // cols)),
    }


def projection_answer(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]
) -> Answer:
    run, tag, step = row_request(query)
    dims = p.integer(query.get("dims"), "dims", 3, 2, 3)
    files = tuple(snap.streams.get(STREAM, {}).get(run, ()))
    key = ("projection", run, tag, step, dims, files)
    body = ANSWERS.get(key)  # without a step: the latest of exactly these files
    if body is None:
        row = read_row(
            cur,
            run,
            tag,
            step,
            "mat, metadata, metadata_header, label_img.shape AS image_shape",
        )
        mat = tensor(row["mat"])
        if mat is None or mat.ndim != 2:
            raise BadRequest(f"the embedding of {tag!r} at step {row['step']} has no 2-d matrix")
        projected = pca(mat, dims)
        shape = row["image_shape"]
        header = {
            "run_id": run,
            "tag": tag,
            "step": row["step"],
            "points": int(mat.shape[0]),
            "dims": int(mat.shape[1]),
            "components": dims,
            "explained": projected.explained.tolist(),
            "metadata": metadata_columns(row["metadata"], row["metadata_header"], mat.shape[0]),
            "images": sprite_layout(shape) if shape and len(shape) == 4 else None,
        }
        body = wire.pack(header, {"coords": projected.coords.astype(np.float64)})
        ANSWERS.put(key, body)
    return wire.answer(body)


def sprite_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag, step = row_request(query)
    files = tuple(snap.streams.get(STREAM, {}).get(run, ()))
    key = ("sprite", run, tag, step, files)
    body = ANSWERS.get(key)  # without a step: the latest of exactly these files
    if body is None:
        row = read_row(cur, run, tag, step, "label_img")
        images = tensor(row["label_img"])
        if images is None or images.ndim != 4:
            raise NotFound(f"the embedding of {tag!r} at step {row['step']} has no label_img")
        body = encode_png(sprite(images))
        ANSWERS.put(key, body)
    return Answer(200, body, "image/png", [("Cache-Control", "no-cache")])


def sprite(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) thumbnails (floats in [0, 1], as add_embedding takes them) tiled row by
    row into one (rows·h, cols·w, C) uint8 image, C 1, 3 or 4 (else the first channel)."""
    layout = sprite_layout(list(images.shape))
    s = layout["stride"]
    cells = images[:, :, ::s, ::s]
    if cells.shape[1] not in (1, 3, 4):
        cells = cells[:, :1]
    cells = to_uint8(np.ascontiguousarray(cells.transpose(0, 2, 3, 1)))
    n, h, w, c = cells.shape
    rows, cols = layout["rows"], layout["cols"]
    out = np.zeros((rows * cols, h, w, c), np.uint8)
    out[:n] = cells
    tiled: np.ndarray = out.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4)
    return tiled.reshape(rows * h, cols * w, c)


QUERIES = {
    "/api/embeddings/tags": tags_answer,
    "/api/embeddings/projection": projection_answer,
    "/api/embeddings/sprite": sprite_answer,
}
