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

import duckdb
import numpy as np
import pyarrow as pa

from localtrack._ui.m4 import (
    M4_COLUMNS,
    RunStats,
    SeriesRequest,
    first_sql,
    m4_sql,
    raw_sql,
    stats_sql,
)
from localtrack._ui.wire import Series, f64


def first_walls(
    cur: duckdb.DuckDBPyConnection, req: SeriesRequest, sources: Sequence[str]
) -> list[int | None]:
    out: list[int | None] = [None] * len(req.runs)
    sql, params = first_sql(req, sources)
    for idx, first in cur.sql(sql, params=params).fetchall():
        out[idx] = None if first is None else int(first)
    return out


def run_stats(
    cur: duckdb.DuckDBPyConnection,
    req: SeriesRequest,
    sources: Sequence[str],
    offsets: Sequence[int | None] | None,
) -> list[RunStats]:
    out = [RunStats(0, None, None, None)] * len(req.runs)
    sql, params = stats_sql(req, sources, offsets)
    for idx, points, lo, hi, first in cur.sql(sql, params=params).fetchall():
        out[idx] = RunStats(int(points), lo, hi, None if first is None else int(first))
    return out


def _columns(table: pa.Table | None) -> dict[str, np.ndarray]:
    if table is None:
        return {}
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}


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
    sources: Sequence[str],
    finite: Sequence[bool] | None = None,
) -> list[Series]:
    """Each run's series for `req`; `sources[i]` is SQL reading run i's scalars; `finite[i]`
    true when series i is known to hold no NaN or infinity."""
    req.check()
    offsets = first_walls(cur, req, sources) if req.x == "relative" else None
    stats = run_stats(cur, req, sources, offsets)
    raw = raw_sql(req, sources, stats, offsets)
    m4 = m4_sql(req, sources, stats, offsets, finite)
    raw_rows = _columns(None if raw is None else cur.sql(raw[0], params=raw[1]).arrow().read_all())
    agg = _columns(None if m4 is None else cur.sql(m4[0], params=m4[1]).arrow().read_all())
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
