"""The images view: per (run, tag), every logged step on a slider; one image sent per move.

`/api/images/steps` lists every step with its pixel size and caption (no image bytes), so the
slider is ready at once whatever the run holds (TensorBoard keeps 10 sampled steps). Each
move asks `/api/images/image` for one step: the PNG file as it is stored in its Parquet row,
read by DuckDB from this run's files only (the step statistics skip the other row groups),
and kept in a 64 MB LRU keyed by the run's file names, so moving back costs no read. The
version `v` in its URL names those files: an answer for the current version never changes
and may be cached by the browser for good.

A read decodes the image column of whole row groups (a writer's segment holds every image of
a flush interval in one row group: 300 images of 256×256, 55 MB, when they come fast), and
the page asks for a step and its prefetched neighbours at once: two such reads together
passed the connection's 128 MB memory limit and answered 500. So one read runs at a time
(READERS), and it keeps the images of the steps around the one asked (AROUND): they come
from the same decoded row group at no extra cost, and they are the ones the slider's next
moves and its prefetches ask for.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict

import duckdb
import pyarrow as pa

from localtrack._ui.answer import Answer, NotFound, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _stream_rows as rows

VIEW = View("images", "Images", 21, "js/views/images.js")
STREAM = "images"
IMAGES = AnswerCache(64 * 2**20)
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif"}
FOREVER = "private, max-age=31536000, immutable"
READERS = threading.BoundedSemaphore(1)
AROUND = (4, 12)
"""Logged steps before and after the one asked whose images one read keeps too."""
STEP_LISTS: OrderedDict[tuple[str, str, str], list[int]] = OrderedDict()
STEP_LISTS_KEPT = 256
_step_lists_lock = threading.Lock()


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


def step_list(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, run: str, tag: str, version: str
) -> list[int]:
    """The run's logged steps of `tag` (no image bytes read), kept per version."""
    key = (run, tag, version)
    with _step_lists_lock:
        found = STEP_LISTS.get(key)
        if found is not None:
            STEP_LISTS.move_to_end(key)
            return found
    steps: list[int] = rows.rows(snap, cur, STREAM, run, tag, ()).column("step").to_pylist()
    with _step_lists_lock:
        STEP_LISTS[key] = steps
        while len(STEP_LISTS) > STEP_LISTS_KEPT:
            STEP_LISTS.popitem(last=False)
    return steps


def images_around(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, run: str, tag: str, step: int, version: str
) -> pa.Table:
    """Format and bytes of the images of `step` and of the logged steps around it (AROUND)."""
    steps = step_list(snap, cur, run, tag, version)
    i = bisect_left(steps, step)
    if i == len(steps) or steps[i] != step:
        raise NotFound(f"run {run!r} has no {STREAM} tag {tag!r} at step {step}")
    lo, hi = steps[max(0, i - AROUND[0])], steps[min(len(steps) - 1, i + AROUND[1])]
    source = rows.source_sql(snap, STREAM, (run,))
    table: pa.Table = (
        cur.sql(
            f"SELECT step, format, data FROM {source} WHERE run_id = $run AND tag = $tag "
            f"AND step BETWEEN $lo AND $hi {rows.LAST_PER_STEP} ORDER BY step",
            params={"run": run, "tag": tag, "lo": lo, "hi": hi},
        )
        .arrow()
        .read_all()
    )
    return table


def image_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    version = rows.version(snap, STREAM, run)
    key = (run, tag, step, version)
    cached = IMAGES.get(key)
    if cached is None:
        with READERS:
            cached = IMAGES.get(key)  # a read that held the readers meanwhile may have it
            if cached is None:
                table = images_around(snap, cur, run, tag, step, version)
                for s, fmt, data in zip(
                    *(table.column(c).to_pylist() for c in table.column_names), strict=True
                ):
                    body = (fmt or "png").encode() + b"\0" + (data or b"")
                    IMAGES.put((run, tag, s, version), body)
                    if s == step:
                        cached = body
        if cached is None:
            raise NotFound(f"run {run!r} has no {STREAM} tag {tag!r} at step {step}")
    fmt_bytes, _, body = cached.partition(b"\0")
    kind = CONTENT_TYPES.get(fmt_bytes.decode(), "application/octet-stream")
    caching = FOREVER if query.get("v") == version else "no-cache"
    return Answer(200, body, kind, [("Cache-Control", caching)])


QUERIES = {
    "/api/images/tags": rows.tags_answer(STREAM),
    "/api/images/steps": steps_answer,
    "/api/images/image": image_answer,
}
