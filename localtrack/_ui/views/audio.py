"""The audio view: per (run, tag), a player for the clip logged at one step, a slider over
every step.

`/api/audio/steps` lists every step with its sample rate, length and channels (no samples),
so the slider is ready at once. `/api/audio/audio` sends one step's clip: the 16-bit PCM WAV
file as the writer stored it in its Parquet row (docs/FORMAT.md, `audio`), which an <audio>
element plays as it is; kept in a 32 MB LRU keyed by the run's file names and cacheable for
good under the current version `v` (segments never change once published), as images are.
"""

from __future__ import annotations

import duckdb

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _stream_rows as rows

VIEW = View("audio", "Audio", 24, "js/views/audio.js")
STREAM = "audio"
CLIPS = AnswerCache(32 * 2**20)
FOREVER = "private, max-age=31536000, immutable"
CONTENT_TYPES = {"wav": "audio/wav"}


def steps_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    table = rows.rows(snap, cur, STREAM, run, tag, ("sample_rate", "num_samples", "channels"))
    return json_answer(
        {
            "run_id": run,
            "tag": tag,
            "version": rows.version(snap, STREAM, run),
            **{name: table.column(name).to_pylist() for name in table.column_names},
        }
    )


def audio_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    version = rows.version(snap, STREAM, run)
    key = (run, tag, step, version)
    cached = CLIPS.get(key)
    if cached is None:
        table = rows.rows(snap, cur, STREAM, run, tag, ("format", "data"), step=step)
        fmt = table.column("format")[0].as_py() or "wav"
        cached = fmt.encode() + b"\0" + (table.column("data")[0].as_py() or b"")
        CLIPS.put(key, cached)
    fmt_bytes, _, body = cached.partition(b"\0")
    kind = CONTENT_TYPES.get(fmt_bytes.decode(), "application/octet-stream")
    caching = FOREVER if query.get("v") == version else "no-cache"
    return Answer(200, body, kind, [("Cache-Control", caching)])


QUERIES = {
    "/api/audio/tags": rows.tags_answer(STREAM),
    "/api/audio/steps": steps_answer,
    "/api/audio/audio": audio_answer,
}
