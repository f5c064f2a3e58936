"""Answering a series request: the M4 queries of m4.py run on a cursor, rows cut per run.

The stats query comes first (points in range and x extent per series; for x = relative the
first wall time before it), then the raw points of small series and the pixel columns of
large ones, with those numbers as constants. The pixel-column rows (a few thousand) are
turned into the answer's columns here with numpy: points sorted by x without repeats, the
band, the non-finite marks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from localtrack._ui.m4 import (
    M4_COLUMNS,
    RunStats,
    SeriesRequest,
    Source,
    first_sql,
    m4_sql,
    raw_sql,
    stats_sql,
)
from localtrack._ui.wire import Series, f64


def first_walls(
    cur: duckdb.DuckDBPyConnection, req: SeriesRequest, source: Source
) -> list[int | None]:
    where = {run: i for i, run in enumerate(req.runs)}
    out: list[int | None] = [None] * len(req.runs)
    sql, params = first_sql(req, source)
    for run, first in cur.sql(sql, params=params).fetchall():
        out[where[run]] = None if first is None else int(first)
    return out


def run_stats(
    cur: duckdb.DuckDBPyConnection,
    req: SeriesRequest,
    source: Source,
    offsets: Sequence[int | None] | None,
) -> list[RunStats]:
    where = {run: i for i, run in enumerate(req.runs)}
    out = [RunStats(0, None, None, None)] * len(req.runs)
    sql, params = stats_sql(req, source, offsets)
    for run, points, lo, hi, first in cur.sql(sql, params=params).fetchall():
        out[where[run]] = RunStats(int(points), lo, hi, None if first is None else int(first))
    return out


def _columns(
    cur: duckdb.DuckDBPyConnection, query: tuple[str, dict[str, Any]] | None, runs: Sequence[str]
) -> dict[str, np.ndarray]:
    """A query's rows as numpy columns plus `run_idx` (the run's place in `runs`), ordered by
    run_idx and else as the query ordered them."""
    if query is None:
        return {}
    table = cur.sql(query[0], params=query[1]).arrow().read_all()
    idx = pc.index_in(table.column("run_id"), value_set=pa.array(runs, pa.string()))
    run_idx = idx.to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.argsort(run_idx, kind="stable")
    out = {"run_idx": run_idx[order]}
    for name in table.column_names:
        if name != "run_id":
            out[name] = table.column(name).to_numpy(zero_copy_only=False)[order]
    return out


def _slices(run_idx: np.ndarray, runs: int) -> list[slice]:
    bounds = np.searchsorted(run_idx, np.arange(runs + 1))
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def raw_columns(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """A small series' seven columns: every point, non-finite ones apart, no band."""
    finite = np.isfinite(y)
    empty = np.empty(0, "<f8")
    return [f64(x[finite]), f64(y[finite]), empty, empty, empty, f64(x[~finite]), f64(y[~finite])]


def m4_columns(agg: dict[str, np.ndarray], part: slice) -> list[np.ndarray]:
    """A large series' seven columns from its pixel-column rows (m4_sql): the first, last, min
    and max points of every column sorted by x without repeats, the band, non-finite marks."""
    got = {c: f64(agg[c][part]) for c in M4_COLUMNS}
    has = ~np.isnan(got["fx"])  # a column of non-finite values only has no finite point
    xs = np.concatenate([got[c][has] for c in ("fx", "lx", "mnx", "mxx")])
    ys = np.concatenate([got[c][has] for c in ("fy", "ly", "mny", "mxy")])
    order = np.lexsort((ys, xs))
    xs, ys = xs[order], ys[order]
    keep = np.ones(len(xs), bool)
    keep[1:] = (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])
    marks = [(got[c], v) for c, v in (("nanx", np.nan), ("pinfx", np.inf), ("ninfx", -np.inf))]
    nx = np.concatenate([x[~np.isnan(x)] for x, _ in marks])
    ny = np.concatenate([np.full(int((~np.isnan(x)).sum()), v) for x, v in marks])
    order = np.argsort(nx, kind="stable")
    return [xs[keep], ys[keep], got["fx"][has], got["mny"][has], got["mxy"][has],
            nx[order], ny[order]]  # fmt: skip


def reduce_series(
    cur: duckdb.DuckDBPyConnection,
    req: SeriesRequest,
    source: Source,
    finite: Sequence[bool] | None = None,
) -> list[Series]:
    """Each run's series for `req`; `source(runs)` is SQL reading those runs' scalars;
    `finite[i]` true when series i is known to hold no NaN or infinity."""
    req.check()
    offsets = first_walls(cur, req, source) if req.x == "relative" else None
    stats = run_stats(cur, req, source, offsets)
    raw_rows = _columns(cur, raw_sql(req, source, stats, offsets), req.runs)
    agg = _columns(cur, m4_sql(req, source, stats, offsets, finite), req.runs)
    n = len(req.runs)
    raw_parts = _slices(raw_rows["run_idx"], n) if raw_rows else []
    m4_parts = _slices(agg["run_idx"], n) if agg else []
    empty = np.empty(0, "<f8")
    out: list[Series] = []
    for i, run in enumerate(req.runs):
        st = stats[i]
        reduced = st.points > req.raw_limit
        if not st.points:
            columns = [empty] * 7
        elif reduced:
            columns = m4_columns(agg, m4_parts[i])
        else:
            part = raw_parts[i]
            columns = raw_columns(raw_rows["x"][part], raw_rows["y"][part])
        first = offsets[i] if offsets is not None else st.first_us
        out.append(
            Series(
                run_id=run,
                points=st.points,
                reduced=reduced,
                first_wall=None if first is None or not st.points else first / 1e6,
                last_x=st.hi if st.points else None,
                columns=columns,
            )
        )
    return out
