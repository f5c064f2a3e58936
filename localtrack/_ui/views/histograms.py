"""The histograms view: TensorBoard's distributions (percentile bands) and offset (ridges).

`/api/histograms/distribution` computes, on the server, the nine basis-point bands of every
logged step of one (run, tag) from its bucket limits and counts (_histogram_bands.py): no
step is sampled away (TensorBoard keeps 500). `/api/histograms/offset` re-bins the steps it
draws onto one grid; with more steps than `ridges` it draws that many spread over the run,
always with the step asked for, so every step can be reached.

The distribution reads the rows in record batches and reduces each batch to its bands
before the next (BATCH_ROWS): the bucket lists of 10,000 steps (tens of MB when a
histogram has hundreds of buckets) are never held at once, so the connection's 128 MB
memory limit holds; the last row per step is picked from the small columns afterwards.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from localtrack._ui import params as p
from localtrack._ui.answer import Answer, NotFound, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views import _histogram_bands as hb
from localtrack._ui.views import _stream_rows as rows
from localtrack._ui.views._columns import columns_answer, encode_columns

VIEW = View("histograms", "Histograms", 20, "js/views/histograms.js")
STREAM = "histograms"
BUCKETS = ("min", "max", "num", "sum", "bucket_limits", "bucket_counts")
DISTRIBUTIONS = AnswerCache()
BATCH_ROWS = 2048


def split_lists(column: pa.ChunkedArray) -> list[np.ndarray]:
    """A list<float64> column as one numpy array per row (views, no copy per row)."""
    lists = column.combine_chunks()
    offsets = lists.offsets.to_numpy()
    values = lists.values.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(lists))]


def list_buffers(column: pa.ChunkedArray) -> hb.Lists:
    """A list<float64> column as its values and offsets (no array per row)."""
    lists = column.combine_chunks()
    offsets = lists.offsets.to_numpy().astype(np.int64)
    values = lists.values.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return values[offsets[0] :], offsets - offsets[0]


def floats(table: pa.Table, name: str) -> np.ndarray:
    values: np.ndarray = table.column(name).to_numpy(zero_copy_only=False)
    return values.astype(float)


def distribution(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, run: str, tag: str
) -> tuple[np.ndarray, np.ndarray]:
    """Every logged step of (run, tag), sorted, and its (steps, 9) bands: the last row per
    step (greatest wall time, then segment sequence), as _stream_rows.rows picks it."""
    source = rows.source_sql(snap, STREAM, (run,))
    if source is None:
        raise NotFound(f"run {run!r} has no {STREAM}")
    reader = cur.sql(
        f"SELECT step, wall_time, seq, {', '.join(BUCKETS)} FROM {source} "
        "WHERE run_id = $run AND tag = $tag",
        params={"run": run, "tag": tag},
    ).arrow(BATCH_ROWS)
    keys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    parts: list[np.ndarray] = []
    for batch in reader:
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        wall = table.column("wall_time").cast(pa.int64()).to_numpy()
        keys.append((table.column("step").to_numpy(), wall, table.column("seq").to_numpy()))
        parts.append(
            hb.bands_flat(
                list_buffers(table.column("bucket_limits")),
                list_buffers(table.column("bucket_counts")),
                floats(table, "min"),
                floats(table, "max"),
            )
        )
    if not parts:
        raise NotFound(f"run {run!r} has no {STREAM} tag {tag!r}")
    step, wall, seq = (np.concatenate([k[i] for k in keys]) for i in range(3))
    order = np.lexsort((seq, wall, step))  # by step, then the last written last
    step, values = step[order], np.concatenate(parts)[order]
    last = np.append(step[1:] != step[:-1], True)
    return step[last], values[last]


def distribution_answer(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]
) -> Answer:
    run, tag = rows.run_and_tag(query)
    key = (run, tag, rows.version(snap, STREAM, run))
    body = DISTRIBUTIONS.get(key)
    if body is None:
        steps, values = distribution(snap, cur, run, tag)
        columns = {"step": steps.astype(float)}
        columns.update((name, values[:, j]) for j, name in enumerate(hb.BAND_NAMES))
        header = {"run_id": run, "tag": tag, "basis_points": list(hb.BASIS_POINTS)}
        body = encode_columns(header, columns)
        DISTRIBUTIONS.put(key, body)
    return columns_answer(body)


def spread(count: int, wanted: int, must: int | None) -> list[int]:
    """Indices of `wanted` steps out of `count` spread evenly (first and last in), plus `must`."""
    if count <= wanted:
        return list(range(count))
    picked = set(np.linspace(0, count - 1, wanted).round().astype(int).tolist())
    if must is not None:
        picked.add(must)
    return sorted(picked)


def offset_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    run, tag = rows.run_and_tag(query)
    ridges = p.integer(query.get("ridges"), "ridges", 100, 1, 1000)
    bins = p.integer(query.get("bins"), "bins", 60, 2, 1000)
    table = rows.rows(snap, cur, STREAM, run, tag, BUCKETS)
    steps = table.column("step").to_numpy()
    must = None
    if query.get("step"):
        wanted_step = rows.step_of(query)
        must = int(np.clip(np.searchsorted(steps, wanted_step), 0, len(steps) - 1))
    chosen = spread(len(steps), ridges, must)
    picked = table.take(pa.array(chosen, pa.int64()))
    lo, hi = floats(picked, "min"), floats(picked, "max")
    edges = hb.grid(float(lo.min()), float(hi.max()), bins)
    limits = split_lists(picked.column("bucket_limits"))
    counts = split_lists(picked.column("bucket_counts"))
    num, total = floats(picked, "num"), floats(picked, "sum")
    drawn: list[dict[str, Any]] = []
    for i in range(picked.num_rows):
        drawn.append(
            {
                "step": int(steps[chosen[i]]),
                "counts": hb.rebin(limits[i], counts[i], lo[i], hi[i], edges).tolist(),
                "num": num[i],
                "min": lo[i],
                "max": hi[i],
                "mean": total[i] / num[i] if num[i] else None,
            }
        )
    return json_answer(
        {
            "run_id": run,
            "tag": tag,
            "total_steps": len(steps),
            "steps": steps.tolist(),
            "edges": edges.tolist(),
            "ridges": drawn,
        }
    )


QUERIES = {
    "/api/histograms/tags": rows.tags_answer(STREAM),
    "/api/histograms/distribution": distribution_answer,
    "/api/histograms/offset": offset_answer,
}
