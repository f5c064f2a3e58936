"""The images view: per (run, tag), every logged step on a slider; one image sent per move.

`/api/images/steps` lists every step with its pixel size and caption (no image bytes), so the
slider is ready at once whatever the run holds (TensorBoard keeps 10 sampled steps). Each
move asks `/api/images/image` for one step: the PNG file as it is stored in its Parquet row,
read by DuckDB from this run's files only (the step statistics skip the other row groups),
and kept in a 64 MB LRU keyed by the run's file names, so moving back costs no read. The
version `v` in its URL names those files: an answer for the current version never changes
and may be cached by the browser for good.
"""

from __future__ import annotations

import duckdb

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _stream_rows as rows

VIEW = View("images", "Images", 21, "js/views/images.js")
STREAM = "images"
IMAGES = AnswerCache(64 * 2**20)
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif"}
FOREVER = "private, max-age=31536000, immutable"


def steps_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    table = rows.rows(snap, cur, STREAM, run, tag, ("width", "height", "channels", "caption"))
    return json_answer(
        {
            "run_id": run,
            "tag": tag,
            "version": rows.version(snap, STREAM, run),
            **{name: table.column(name).to_pylist() for name in table.column_names},
        }
    )


def image_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    version = rows.version(snap, STREAM, run)
    key = (run, tag, step, version)
    cached = IMAGES.get(key)
    if cached is None:
        table = rows.rows(snap, cur, STREAM, run, tag, ("format", "data"), step=step)
        fmt = table.column("format")[0].as_py() or "png"
        data = table.column("data")[0].as_py() or b""
        cached = fmt.encode() + b"\0" + data
        IMAGES.put(key, cached)
    fmt_bytes, _, body = cached.partition(b"\0")
    kind = CONTENT_TYPES.get(fmt_bytes.decode(), "application/octet-stream")
    caching = FOREVER if query.get("v") == version else "no-cache"
    return Answer(200, body, kind, [("Cache-Control", caching)])


QUERIES = {
    "/api/images/tags": rows.tags_answer(STREAM),
    "/api/images/steps": steps_answer,
    "/api/images/image": image_answer,
}
