"""The graphs view: the model graph of `add_graph` (`graphs` rows), drawn in the page.

`/api/graphs/tags` lists the runs and tags (the model's class name) that hold a graph, with
their steps; `/api/graphs/graph` sends one row as the view's nodes (`_graph_model`): every
stored node with its op, module scope, the ids of its inputs, output types and shapes. The
page groups them by scope, collapsed, and lays them out by topological depth.
"""

from __future__ import annotations

import duckdb

from localtrack._ui.answer import Answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views._graph_model import model
from localtrack._ui.views._tagged_rows import one_row, row_request, runs_asked, stream_tags
from localtrack._ui.wire import to_json

VIEW = View("graphs", "Graphs", 60, "js/views/graphs.js")
STREAM = "graphs"
ANSWERS = AnswerCache()


def tags_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    return Answer(200, to_json({"tags": stream_tags(cur, STREAM, runs_asked(snap, query))}))


def graph_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag, step = row_request(query)
    files = tuple(snap.streams.get(STREAM, {}).get(run, ()))
    key = (run, tag, step, files)
    body = ANSWERS.get(key) if step is not None else None
    if body is None:
        row = one_row(cur, STREAM, ("format", "graph"), run, tag, step)
        graph = model(row)
        body = to_json({"run_id": run, "tag": tag, "step": row["step"], **graph})
        ANSWERS.put(key, body)
    return Answer(200, body)


QUERIES = {"/api/graphs/tags": tags_answer, "/api/graphs/graph": graph_answer}
