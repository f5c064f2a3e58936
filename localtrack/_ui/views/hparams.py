"""The Hparams tab: /api/hparams/table, runs × hparams × metrics, made once per snapshot.

The rows (_hparams_rows.py) come from three queries over the whole store (trials, config,
summary) and the snapshot's per-tag tails; the answer's bytes are kept in the snapshot's
facts, so every later request of the same snapshot (a reload, a second tab) only sends them.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from localtrack._ui.answer import Answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _hparams_rows as rows
from localtrack._ui.wire import to_json

VIEW = View("hparams", "Hparams", 50, "js/views/hparams.js")


def last_values(per_tag: pa.Table) -> dict[str, dict[str, float]]:
    """Each run's last value per scalar tag, from the snapshot's per-tag tails."""
    out: dict[str, dict[str, float]] = {}
    cols = per_tag.select(["run_id", "tag", "last_value"]).to_pydict()
    for run, tag, value in zip(cols["run_id"], cols["tag"], cols["last_value"], strict=True):
        if value is not None:
            out.setdefault(run, {})[tag] = value
    return out


def _lock(snap: Snapshot) -> threading.Lock:
    with snap.lock:
        lock: threading.Lock = snap.facts.setdefault("hparams_lock", threading.Lock())
    return lock


def table_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The table of this snapshot (built on first use, then kept with the snapshot)."""
    with _lock(snap):
        made: dict[str, Any] | None = snap.facts.get("hparams_table")
        if made is None:
            order = [r["run_id"] for r in snap.facts["runs"]]
            made = rows.table(order, rows.read(cur), last_values(snap.facts["per_tag"]))
            snap.facts["hparams_table"] = made
            snap.facts["hparams_body"] = to_json(made)
    return made


def table_work(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    table_answer(snap, cur)
    return Answer(200, snap.facts["hparams_body"], headers=[("Cache-Control", "no-store")])


QUERIES = {"/api/hparams/table": table_work}
