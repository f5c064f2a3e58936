"""The PR curves view: per (run, tag), the precision/recall curve logged at one step, with a
slider over every step; every threshold's counts come along for the hover readout."""

from __future__ import annotations

import duckdb

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _stream_rows as rows

VIEW = View("pr_curves", "PR\u00a0curves", 23, "js/views/pr_curves.js")
STREAM = "pr_curves"
CURVE = ("thresholds", "precision", "recall", "tp", "fp", "tn", "fn")


def steps_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    table = rows.rows(snap, cur, STREAM, run, tag, ())
    return json_answer({"run_id": run, "tag": tag, "step": table.column("step").to_pylist()})


def curve_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    step = rows.step_of(query)
    table = rows.rows(snap, cur, STREAM, run, tag, CURVE, step=step)
    curve = {name: table.column(name)[0].as_py() or [] for name in CURVE}
    return json_answer({"run_id": run, "tag": tag, "step": step, **curve})


QUERIES = {
    "/api/pr_curves/tags": rows.tags_answer(STREAM),
    "/api/pr_curves/steps": steps_answer,
    "/api/pr_curves/curve": curve_answer,
}
