"""The video view: per (run, tag), the clip logged at one step played on a canvas at its
logged fps, with a slider over every step.

`add_video` stores raw uint8 frames (T, H, W, C) (docs/FORMAT.md, `video`), so no encoder or
decoder is involved: `/api/video/steps` lists every step with its fps and frame size (read
from the tensor's shape, not its bytes), and `/api/video/frames` sends one step's frames as
arrays-v1, which the page wraps without a copy and paints frame by frame. Answers are kept in
a 64 MB LRU keyed by the run's file names.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from localtrack._ui.answer import Answer, NotFound, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _arrays_wire as wire
from localtrack._ui.views import _stream_rows as rows
from localtrack._ui.views._tagged_rows import tensor

VIEW = View("video", "Video", 25, "js/views/video.js")
STREAM = "video"
CLIPS = AnswerCache(64 * 2**20)


def steps_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    source = rows.source_sql(snap, STREAM, (run,))
    if source is None:
        raise NotFound(f"run {run!r} has no {STREAM}")
    found = cur.sql(
        f"SELECT step, fps, frames.shape AS shape FROM {source} "
        f"WHERE run_id = $run AND tag = $tag {rows.LAST_PER_STEP} ORDER BY step",
        params={"run": run, "tag": tag},
    ).fetchall()
    if not found:
        raise NotFound(f"run {run!r} has no {STREAM} tag {tag!r}")
    shapes = [list(shape) for _, _, shape in found]
    return json_answer(
        {
            "run_id": run,
            "tag": tag,
            "version": rows.version(snap, STREAM, run),
            "step": [step for step, _, _ in found],
            "fps": [fps for _, fps, _ in found],
            "frames": [s[0] for s in shapes],
            "height": [s[1] for s in shapes],
            "width": [s[2] for s in shapes],
            "channels": [s[3] for s in shapes],
        }
    )


def clip_body(row: dict[str, Any], run: str, tag: str, step: int) -> bytes:
    frames = tensor(row["frames"])
    if frames is None or frames.ndim != 4:
        frames = np.zeros((0, 0, 0, 3), np.uint8)
    t, h, w, c = frames.shape
    header = {
        "run_id": run,
        "tag": tag,
        "step": step,
        "fps": row["fps"],
        "frames": t,
        "height": h,
        "width": w,
        "channels": c,
    }
    return wire.pack(header, {"frames": frames.astype(np.uint8, copy=False)})


def frames_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    key = (run, tag, step, rows.version(snap, STREAM, run))
    body = CLIPS.get(key)
    if body is None:
        table = rows.rows(snap, cur, STREAM, run, tag, ("fps", "frames"), step=step)
        row = {name: table.column(name)[0].as_py() for name in ("fps", "frames")}
        body = clip_body(row, run, tag, step)
        CLIPS.put(key, body)
    return wire.answer(body)


QUERIES = {
    "/api/video/tags": rows.tags_answer(STREAM),
    "/api/video/steps": steps_answer,
    "/api/video/frames": frames_answer,
}
