"""Series answers read with pyarrow and reduced in numpy: the same points as the DuckDB M4.

Only a tag's step, wall_time and value columns are read (the tag column as dictionary
indices, compared once per chunk), each run's files in one thread of a pool. The
reduction is exactly m4.py's: the same x, the same pixel column of every point
(`floor((x - lo) * w / (hi - lo + eps))` clamped), per column the first, last, minimum and
maximum finite point, the first x of each non-finite kind; raw points below the raw
limit. Rows in step order (a writer's segments almost always are) are reduced without a
sort: column bounds come from a binary search corrected against the exact column formula;
rows out of order are sorted first. A column with nulls, an unreadable file or more than
MAX_ROWS rows to read raise `NotHere`; the caller then uses the DuckDB path (as it does
where a purge may hide rows).
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
MAX_ROWS = 16_000_000
"""At most this many rows (by the row groups' counts) are read into memory for one answer
(16 bytes each, about 256 MB at most); a bigger request is left to DuckDB, whose memory is
capped (snapshot.MEMORY_LIMIT)."""
LOOP_ROWS = 512
"""With more rows than this per pixel column on average, each column's argmin is found on
its own slice (a Python call each); with fewer, in one vectorised pass."""


class NotHere(Exception):
    """The request needs what only the DuckDB path does (nulls, a purge, an unreadable file)."""


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


def _tag_rows(table: pa.Table, tag: str) -> pa.Table:
    keep = []
    for chunk in table.column("tag").chunks:
        names = chunk.dictionary.to_pylist()
        if tag not in names:
            keep.append(np.zeros(len(chunk), bool))
            continue
        keep.append(chunk.indices.to_numpy(zero_copy_only=False) == names.index(tag))
    mask = np.concatenate(keep) if keep else np.zeros(0, bool)
    return table if mask.all() else table.filter(pa.array(mask))


def first_wall_us(paths: Sequence[str], tag: str) -> int | None:
    """The least wall time (epoch µs) of `tag` in `paths`: x = relative counts from it."""
    least = None
    for path in paths:
        table = _tag_rows(
            pq.read_table(path, columns=["tag", "wall_time"], read_dictionary=["tag"]), tag
        )
        if len(table):
            low = int(_numbers(table, "wall_time", "int64").min())
            least = low if least is None else min(least, low)
    return least


@dataclass
class InRange:
    """One run's points in range, sorted by x, with the numbers of its header."""

    x: np.ndarray
    y: np.ndarray
    stats: RunStats
    offset_us: int | None


def _x_of(table: pa.Table, req: SeriesRequest, offset: int | None) -> np.ndarray:
    """m4.py's x of each row."""
    if req.x == "step":
        return _numbers(table, "step", "int64").astype(np.float64)
    wall = _numbers(table, "wall_time", "int64")
    return wall / 1e6 if offset is None else (wall - offset) / 1e6


def _in_range(x: np.ndarray, req: SeriesRequest, run: str) -> np.ndarray | None:
    tests = [x >= float(req.xmin)] if req.xmin is not None else []
    if req.xmax is not None:
        tests.append(x <= float(req.xmax))
    if run in req.after:
        tests.append(x > float(req.after[run]))
    return np.logical_and.reduce(tests) if tests else None


Plan = list[tuple[pq.ParquetFile, list[int]]]
"""A run's files to read and, of each, the row groups."""


def plan(paths: Sequence[str], req: SeriesRequest, run: str) -> Plan:
    """The row groups of `paths` whose statistics may hold rows in the request's range."""
    prune = pruning(req, run)
    files = [pq.ParquetFile(path, read_dictionary=["tag"]) for path in paths]
    return [
        (
            f,
            list(range(f.metadata.num_row_groups))
            if prune is None
            else row_groups(f.metadata, *prune),
        )
        for f in files
    ]


def planned_rows(planned: Plan) -> int:
    return sum(f.metadata.row_group(i).num_rows for f, gs in planned for i in gs)


def read_in_range(paths: Sequence[str], planned: Plan, req: SeriesRequest, run: str) -> InRange:
    """The run's points of the tag in range, as m4.py's x; files (`planned` from `paths`) are
    read a row group at a time into two preallocated arrays (x, y), so memory stays near 16
    bytes a row read."""
    offset = first_wall_us(paths, req.tag) if req.x == "relative" else None
    size = planned_rows(planned)
    x, y = np.empty(size, np.float64), np.empty(size, np.float64)
    at, first = 0, None
    for f, g in ((f, g) for f, gs in planned for g in gs):
        table = _tag_rows(f.read_row_group(g, columns=READ_COLUMNS), req.tag)
        fx, fy = _x_of(table, req, offset), _numbers(table, "value", "float64")
        wall = _numbers(table, "wall_time", "int64")
        keep = _in_range(fx, req, run)
        if keep is not None:
            fx, fy, wall = fx[keep], fy[keep], wall[keep]
        x[at : at + len(fx)], y[at : at + len(fx)] = fx, fy
        at += len(fx)
        if len(wall):
            first = int(wall.min()) if first is None else min(first, int(wall.min()))
    x, y = x[:at], y[:at]
    if at > 1 and not bool(np.all(x[1:] >= x[:-1])):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    if not at:
        return InRange(x, y, RunStats(0, None, None, None), offset)
    return InRange(x, y, RunStats(at, float(x[0]), float(x[-1]), first), offset)


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

    try:
        plans = [plan(files.get(run, []), req, run) for run in req.runs]
    except (OSError, pa.ArrowException) as e:
        raise NotHere(str(e)) from e
    if sum(planned_rows(p) for p in plans) > MAX_ROWS:
        raise NotHere("more rows than MAX_ROWS")

    def load(i: int) -> InRange:
        run = req.runs[i]
        try:
            return read_in_range(files.get(run, []), plans[i], req, run)
        except (OSError, pa.ArrowException) as e:
            raise NotHere(str(e)) from e

    with ThreadPoolExecutor(max(1, min(threads, len(req.runs)))) as pool:
        parts = list(pool.map(load, range(len(req.runs))))
    span = x_range(req, [p.stats for p in parts])
    return [_series(run, p, req, span) for run, p in zip(req.runs, parts, strict=True)]
