"""The text view: per (run, tag), the markdown logged at one step, with a slider over every
step. The text goes to the page as JSON data; the page renders it with the vendored `marked`,
HTML in the text escaped, and keeps only an allowlist of elements (js/views/markdown.js)."""

from __future__ import annotations

import duckdb

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _stream_rows as rows

VIEW = View("text", "Text", 22, "js/views/text.js")
STREAM = "texts"


def steps_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    table = rows.rows(snap, cur, STREAM, run, tag, ())
    return json_answer({"run_id": run, "tag": tag, "step": table.column("step").to_pylist()})


def text_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    table = rows.rows(snap, cur, STREAM, run, tag, ("text",), step=step)
    return json_answer({"run_id": run, "tag": tag, "step": step, "text": table["text"][0].as_py()})


QUERIES = {
    "/api/text/tags": rows.tags_answer(STREAM),
    "/api/text/steps": steps_answer,
    "/api/text/text": text_answer,
}
