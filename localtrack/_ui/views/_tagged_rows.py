"""Rows of one tagged stream for the 3-D views: which runs and tags hold data, and one row.

Reads the stream's public DuckDB view (so a purge hides what it hides everywhere), asks only
for the columns it needs, and picks one row per (run, tag, step): the last one sealed, when a
step was logged twice. Tensor columns come back as numpy arrays (docs/FORMAT.md, TENSOR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np

from localtrack._query.views import ident, quote
from localtrack._ui import params as p
from localtrack._ui.answer import BadRequest, NotFound
from localtrack._ui.snapshot import Snapshot


def runs_asked(snap: Snapshot, query: dict[str, str]) -> tuple[str, ...]:
    """`runs=` of the request, else every run of the snapshot."""
    runs = p.run_ids(query.get("runs"))
    if runs is not None:
        return runs
    return tuple(str(r["run_id"]) for r in snap.facts["runs"])


def runs_filter(runs: Sequence[str]) -> str:
    if not runs:
        return "false"
    return "run_id IN (" + ", ".join(quote(r) for r in runs) + ")"


def stream_tags(
    cur: duckdb.DuckDBPyConnection, stream: str, runs: Sequence[str], extra: str = ""
) -> list[dict[str, Any]]:
    """Each tag of `stream` among `runs`, sorted, with the runs that hold it and their steps:
    ``[{"tag", "runs": [{"run_id", "steps": [...]}, ...]}]`` (a run without it is absent).
    `extra` names more aggregates (SQL, `AS name`) reported per run beside the steps."""
    more = f", {extra}" if extra else ""
    sql = (
        f"SELECT tag, run_id, list(DISTINCT step ORDER BY step) AS steps{more} "
        f"FROM {ident(stream)} WHERE {runs_filter(runs)} GROUP BY tag, run_id ORDER BY tag, run_id"
    )
    result = cur.sql(sql)
    names = result.columns
    tags: dict[str, list[dict[str, Any]]] = {}
    for row in result.fetchall():
        entry = dict(zip(names, row, strict=True))
        tags.setdefault(entry.pop("tag"), []).append(entry)
    return [{"tag": tag, "runs": runs_of} for tag, runs_of in tags.items()]


def row_request(query: dict[str, str]) -> tuple[str, str, int | None]:
    """(run, tag, step) of a request for one row; no `step` means the latest."""
    run = p.run_id(query.get("run"), "run")
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    step = query.get("step")
    if step is None or step == "":
        return run, tag, None
    return run, tag, p.integer(step, "step", 0, -(2**63), 2**63 - 1)


def one_row(
    cur: duckdb.DuckDBPyConnection,
    stream: str,
    columns: Sequence[str],
    run: str,
    tag: str,
    step: int | None,
) -> dict[str, Any]:
    """The row of `stream` at (run, tag, step), or at the latest step; the last one sealed
    when there are several. NotFound when there is none."""
    cols = ", ".join(["step", "epoch_us(wall_time) / 1e6 AS wall_time", *map(ident, columns)])
    where = "run_id = $run AND tag = $tag" + ("" if step is None else " AND step = $step")
    sql = (
        f"SELECT {cols} FROM {ident(stream)} WHERE {where} "
        "ORDER BY step DESC, wall_time DESC, seq DESC LIMIT 1"
    )
    args: dict[str, Any] = {"run": run, "tag": tag}
    if step is not None:
        args["step"] = step
    result = cur.execute(sql, args)
    names = [d[0] for d in result.description]
    found = result.fetchone()
    if found is None:
        at = "" if step is None else f" at step {step}"
        raise NotFound(f"run {run} has no {stream} row for tag {tag!r}{at}")
    return dict(zip(names, found, strict=True))


def tensor(value: dict[str, Any] | None) -> np.ndarray | None:
    """A TENSOR struct ({dtype, shape, data}) as a read-only numpy array (None stays None)."""
    if value is None or value.get("data") is None:
        return None
    dtype = np.dtype(str(value["dtype"])).newbyteorder("<")
    return np.frombuffer(value["data"], dtype).reshape([int(n) for n in value["shape"]])
