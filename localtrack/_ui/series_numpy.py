"""Series answers read with pyarrow and reduced in numpy: the same points as the DuckDB M4.

Only a tag's step, wall_time and value columns are read (the tag column as dictionary
indices, compared once per chunk), each run's files in one thread of a pool. The
reduction is exactly m4.py's: the same x, the same pixel column of every point
(`floor((x - lo) * w / (hi - lo + eps))` clamped), per column the first, last, minimum and
maximum finite point, the first x of each non-finite kind; raw points below the raw
limit. Rows in step order (a writer's segments almost always are) are reduced without a
sort: column bounds come from a binary search corrected against the exact column formula;
rows out of order are sorted first. Where rows may be hidden by a purge, or a column holds
nulls, `NotHere` is raised and the caller uses the DuckDB path.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._ui.m4 import EPSILON, RunStats, SeriesRequest, x_range
from localtrack._ui.series import m4_columns, raw_columns
from localtrack._ui.wire import Series

READ_COLUMNS = ["tag", "step", "wall_time", "value"]
_EPOCH = datetime(1970, 1, 1)
LOOP_ROWS = 512
"""With more rows than this per pixel column on average, each column's argmin is found on
its own slice (a Python call each); with fewer, in one vectorised pass."""


class NotHere(Exception):
    """The request needs what only the DuckDB path does (nulls, a purge, an unreadable file)."""


@dataclass
class Rows:
    """One run's rows of the tag: steps, wall times (epoch µs) and values, in file order."""

    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray


def _numbers(table: pa.Table, name: str, dtype: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        raise NotHere(f"{name} holds nulls")
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("us")).cast(pa.int64())
    return np.asarray(col.to_numpy(), dtype=dtype)


def row_groups(meta: pq.FileMetaData, column: str, lo: float | None, hi: float | None) -> list[int]:
    """The row groups whose `column` statistics may hold a value in [lo, hi] (all of those
    without statistics)."""
    where = meta.schema.to_arrow_schema().get_field_index(column)
    out = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(where).statistics
        if stats is not None and stats.has_min_max:
            low, high = _plain(stats.min), _plain(stats.max)
            if (lo is not None and high < lo) or (hi is not None and low > hi):
                continue
        out.append(i)
    return out


def _plain(value: object) -> float:
    """A statistics value as a number (timestamps as epoch µs)."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=None) - _EPOCH) / timedelta(microseconds=1)
    return float(value)  # type: ignore[arg-type]


def read_rows(
    paths: Sequence[str], tag: str, prune: tuple[str, float | None, float | None] | None = None
) -> Rows:
    """The rows of `tag` in `paths` (files of one run); with `prune` (column, lo, hi), only
    the row groups whose statistics of that column may reach [lo, hi]."""
    steps, walls, values = [], [], []
    for path in paths:
        file = pq.ParquetFile(path, read_dictionary=["tag"])
        if prune is None:
            table = file.read(columns=READ_COLUMNS)
        else:
            groups = row_groups(file.metadata, *prune)
            table = file.read_row_groups(groups, columns=READ_COLUMNS)
        keep = []
        for chunk in table.column("tag").chunks:
            names = chunk.dictionary.to_pylist()
            if tag not in names:
                keep.append(np.zeros(len(chunk), bool))
                continue
            indices = chunk.indices.to_numpy(zero_copy_only=False)
            keep.append(indices == names.index(tag))
        mask = np.concatenate(keep) if keep else np.zeros(0, bool)
        if not mask.all():
            table = table.filter(pa.array(mask))
        steps.append(_numbers(table, "step", "int64"))
        walls.append(_numbers(table, "wall_time", "int64"))
        values.append(_numbers(table, "value", "float64"))
    if not paths:
        return Rows(np.empty(0, "int64"), np.empty(0, "int64"), np.empty(0, "float64"))
    return Rows(np.concatenate(steps), np.concatenate(walls), np.concatenate(values))


@dataclass
class InRange:
    """One run's points in range, sorted by x, with the numbers of its header."""

    x: np.ndarray
    y: np.ndarray
    stats: RunStats
    offset_us: int | None


def in_range(rows: Rows, req: SeriesRequest, run: str) -> InRange:
    """The run's points as m4.py's x, filtered by the request's range and `after`."""
    offset = int(rows.wall.min()) if req.x == "relative" and len(rows.wall) else None
    if req.x == "step":
        x = rows.step.astype(np.float64)
    elif offset is None:
        x = rows.wall / 1e6
    else:
        x = (rows.wall - offset) / 1e6
    tests = [x >= float(req.xmin)] if req.xmin is not None else []
    if req.xmax is not None:
        tests.append(x <= float(req.xmax))
    if run in req.after:
        tests.append(x > float(req.after[run]))
    y, wall = rows.value, rows.wall
    if tests:
        keep = np.logical_and.reduce(tests)
        x, y, wall = x[keep], y[keep], wall[keep]
    if len(x) > 1 and not bool(np.all(x[1:] >= x[:-1])):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    if not len(x):
        return InRange(x, y, RunStats(0, None, None, None), offset)
    stats = RunStats(len(x), float(x[0]), float(x[-1]), int(wall.min()))
    return InRange(x, y, stats, offset)


def _column_of(x: np.ndarray, lo: float, hi: float, width: int) -> np.ndarray:
    """m4.py's pixel column of each x."""
    col = np.floor((x - lo) * width / (hi - lo + EPSILON))
    return np.minimum(width - 1, np.maximum(0, col)).astype(np.int64)


def column_bounds(x: np.ndarray, lo: float, hi: float, width: int) -> np.ndarray:
    """For sorted `x`: bounds[c] is the first row of column c or later (width + 1 values),
    found by binary search and corrected against the exact column formula."""
    n = len(x)
    c = np.arange(1, width, dtype=np.int64)
    idx = np.searchsorted(x, lo + c * ((hi - lo + EPSILON) / width), "left")
    while True:
        back = np.flatnonzero(idx > 0)
        back = back[_column_of(x[idx[back] - 1], lo, hi, width) >= c[back]]
        idx[back] = np.searchsorted(x, x[idx[back] - 1], "left")
        fwd = np.flatnonzero(idx < n)
        fwd = fwd[_column_of(x[idx[fwd]], lo, hi, width) < c[fwd]]
        idx[fwd] = np.searchsorted(x, x[idx[fwd]], "right")
        if not len(back) and not len(fwd):
            break
    return np.concatenate([[0], idx, [n]])


def _arg_extreme(
    y: np.ndarray, starts: np.ndarray, ends: np.ndarray, best: np.ndarray
) -> np.ndarray:
    """Per column [starts, ends), the first row whose value is `best` of that column."""
    if len(y) > LOOP_ROWS * len(starts):
        return np.array(
            [a + int(np.argmax(y[a:b] == v)) for a, b, v in zip(starts, ends, best, strict=True)],
            np.int64,
        )
    hits = np.flatnonzero(y == np.repeat(best, ends - starts))
    return hits[np.searchsorted(hits, starts)]  # every column holds its best: a hit ≥ start


def _marks(x: np.ndarray, lo: float, hi: float, width: int) -> np.ndarray:
    """The first x of each pixel column among sorted `x` (one kind of non-finite value)."""
    if not len(x):
        return np.empty(0, np.float64)
    _, first = np.unique(_column_of(x, lo, hi, width), return_index=True)
    return x[first]


def m4_reduce(part: InRange, lo: float, hi: float, width: int) -> list[np.ndarray]:
    """A large series' seven columns, as m4_sql and m4_columns make them."""
    finite = np.isfinite(part.y)
    x, y = (part.x, part.y) if finite.all() else (part.x[finite], part.y[finite])
    bounds = column_bounds(x, lo, hi, width)
    full = np.flatnonzero(bounds[1:] > bounds[:-1])
    starts, ends = bounds[full], bounds[full + 1]
    got: dict[str, np.ndarray] = {"fx": x[starts], "fy": y[starts]}
    got.update(lx=x[ends - 1], ly=y[ends - 1])
    if len(starts):
        got["mny"] = np.minimum.reduceat(y, starts)
        got["mxy"] = np.maximum.reduceat(y, starts)
        got["mnx"] = x[_arg_extreme(y, starts, ends, got["mny"])]
        got["mxx"] = x[_arg_extreme(y, starts, ends, got["mxy"])]
    else:
        got.update(mny=x[:0], mxy=x[:0], mnx=x[:0], mxx=x[:0])
    bad_x, bad_y = part.x[~finite], part.y[~finite]
    got["nanx"] = _marks(bad_x[np.isnan(bad_y)], lo, hi, width)
    got["pinfx"] = _marks(bad_x[bad_y == np.inf], lo, hi, width)
    got["ninfx"] = _marks(bad_x[bad_y == -np.inf], lo, hi, width)
    return m4_columns(got, slice(None))  # finite columns and marks need not align here


def _series(
    run: str, part: InRange, req: SeriesRequest, span: tuple[float, float] | None
) -> Series:
    st = part.stats
    reduced = st.points > req.raw_limit
    if not st.points:
        columns = [np.empty(0, "<f8")] * 7
    elif reduced:
        assert span is not None
        columns = m4_reduce(part, span[0], span[1], req.width)
    else:
        order = np.lexsort((part.y, part.x))
        columns = raw_columns(part.x[order], part.y[order])
    first = part.offset_us if req.x == "relative" else st.first_us
    return Series(
        run_id=run,
        points=st.points,
        reduced=reduced,
        first_wall=None if first is None or not st.points else first / 1e6,
        last_x=st.hi if st.points else None,
        columns=columns,
    )


def pruning(req: SeriesRequest, run: str) -> tuple[str, float | None, float | None] | None:
    """Which column's row-group statistics can skip groups, and its bounds (with a 1 µs
    margin for wall times); None when every row must be read (x = relative, no range)."""
    lo = req.xmin
    if run in req.after:
        lo = req.after[run] if lo is None else max(lo, req.after[run])
    if req.x == "relative" or (lo is None and req.xmax is None):
        return None
    if req.x == "step":
        return "step", lo, req.xmax
    return (
        "wall_time",
        None if lo is None else lo * 1e6 - 1,
        None if req.xmax is None else req.xmax * 1e6 + 1,
    )


def reduce_files(files: dict[str, list[str]], req: SeriesRequest, threads: int) -> list[Series]:
    """Each run's series for `req`; `files[run]` are the run's scalars files."""
    req.check()

    def load(run: str) -> InRange:
        try:
            rows = read_rows(files.get(run, []), req.tag, pruning(req, run))
        except (OSError, pa.ArrowException) as e:
            raise NotHere(str(e)) from e
        return in_range(rows, req, run)

    with ThreadPoolExecutor(max(1, min(threads, len(req.runs)))) as pool:
        parts = list(pool.map(load, req.runs))
    span = x_range(req, [p.stats for p in parts])
    return [_series(run, p, req, span) for run, p in zip(req.runs, parts, strict=True)]
