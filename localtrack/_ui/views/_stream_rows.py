"""Rows of one tagged stream for the media views: the files of the runs asked for, only.

Each view (histograms, images, texts, PR curves, audio, video) reads the listed files of the
runs it shows, never another run's, minus what a purge hides (as the stream's view does); a
W&B run that logged a key twice at one step is read through the stream's view, which keeps
its last value. Per (run, tag, step) the last row written wins (greatest wall time, then
segment sequence), so a slider has one position per logged step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from localtrack._query import purge
from localtrack._query.views import file_list_sql, ident, quote
from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest, NotFound, json_answer
from localtrack._ui.snapshot import Snapshot

LAST_PER_STEP = (
    "QUALIFY row_number() OVER (PARTITION BY run_id, tag, step "
    "ORDER BY wall_time DESC, seq DESC) = 1"
)


def paths_of(snap: Snapshot, stream: str, runs: Sequence[str]) -> list[str]:
    by_run = snap.streams.get(stream, {})
    return [path for run in runs for path in by_run.get(run, ())]


def source_sql(snap: Snapshot, stream: str, runs: Sequence[str]) -> str | None:
    """SQL reading `stream`'s rows of `runs` (None: those runs have no such files)."""
    paths = paths_of(snap, stream, runs)
    if not paths:
        return None
    if any(r in snap.facts.get("overwriters", ()) for r in runs):
        names = ", ".join(quote(r) for r in runs)
        return f"(SELECT * FROM {ident(stream)} WHERE run_id IN ({names}))"
    rules = [r for r in snap.facts.get("purges", ()) if r.run_id in runs]
    where = f" WHERE NOT coalesce({purge.hidden_sql(rules)}, FALSE)" if rules else ""
    return (
        f"(SELECT * FROM read_parquet({file_list_sql(paths)}, "
        f"hive_partitioning = false, binary_as_string = false){where})"
    )


def version(snap: Snapshot, stream: str, run: str) -> str:
    """A short name for the run's files of `stream`: the same files, the same rows (segments
    never change once published), so answers keyed by it can be kept."""
    names = sorted(path.rsplit("/", 1)[-1] for path in snap.streams.get(stream, {}).get(run, ()))
    return hashlib.sha256("\0".join(names).encode()).hexdigest()[:16]


def runs_asked(snap: Snapshot, query: dict[str, str]) -> tuple[str, ...]:
    runs = p.run_ids(query.get("runs"))
    return tuple(r["run_id"] for r in snap.facts["runs"]) if runs is None else runs


def tags(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, stream: str, runs: Sequence[str]
) -> list[dict[str, Any]]:
    """The tags of `stream` among `runs`, sorted, each with the runs that have it (in the
    order asked) and their step counts: only what has data."""
    source = source_sql(snap, stream, runs)
    if source is None:
        return []
    rows = cur.sql(
        f"SELECT tag, run_id, count(DISTINCT step) AS steps, min(step) AS first_step, "
        f"max(step) AS last_step FROM {source} GROUP BY tag, run_id"
    ).fetchall()
    order = {run: i for i, run in enumerate(runs)}
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for tag, run, steps, first, last in rows:
        entry = {"run_id": run, "steps": steps, "first_step": first, "last_step": last}
        by_tag.setdefault(tag, []).append(entry)
    return [
        {"tag": tag, "runs": sorted(entries, key=lambda e: order.get(e["run_id"], 0))}
        for tag, entries in sorted(by_tag.items())
    ]


def tags_answer(stream: str) -> Any:
    """The work of `/api/<view>/tags?runs=ID,ID` for one stream."""

    def work(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
        return json_answer({"tags": tags(snap, cur, stream, runs_asked(snap, query))})

    return work


def run_and_tag(query: dict[str, str]) -> tuple[str, str]:
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    return p.run_id(query.get("run"), "run"), tag


def step_of(query: dict[str, str]) -> int:
    value = query.get("step")
    if value is None or value == "":
        raise BadRequest("step is required")
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"step must be an integer, got {value!r}") from None


def rows(
    snap: Snapshot,
    cur: duckdb.DuckDBPyConnection,
    stream: str,
    run: str,
    tag: str,
    columns: Sequence[str],
    step: int | None = None,
) -> pa.Table:
    """`columns` of the run's rows of `tag` (one per step, by step; with `step`, that one)."""
    source = source_sql(snap, stream, (run,))
    if source is None:
        raise NotFound(f"run {run!r} has no {stream}")
    picked = ", ".join(["step", *(ident(c) for c in columns if c != "step")])
    params: dict[str, Any] = {"run": run, "tag": tag}
    where = "run_id = $run AND tag = $tag"
    if step is not None:
        where += " AND step = $step"
        params["step"] = step
    table: pa.Table = (
        cur.sql(
            f"SELECT {picked} FROM {source} WHERE {where} {LAST_PER_STEP} ORDER BY step",
            params=params,
        )
        .arrow()
        .read_all()
    )
    if table.num_rows == 0:
        what = f"tag {tag!r}" if step is None else f"tag {tag!r} at step {step}"
        raise NotFound(f"run {run!r} has no {stream} {what}")
    return table
