"""Series answers read with pyarrow and reduced in numpy: the same points as the DuckDB M4,
streamed, so memory stays near one row group per run in flight whatever the series' size.

Only a tag's step, wall_time and value columns are read (the tag column as dictionary
indices, compared once per row group), at most FILES_IN_FLIGHT runs at once. Two passes:
the first counts each series' points in range and finds its x extent (from row-group
statistics where a row group holds the tag only and no range applies, else from the tag and
x columns), which fix the pixel columns (`floor((x - lo) * w / (hi - lo + eps))` clamped,
as m4.py); the second keeps a raw series' points, or each row group's M4 candidates
(m4_partial.py: first, last, minimum and maximum finite point per column, the first x of
each non-finite kind), merged and reduced exactly as all the points would be, ties
included. A column with nulls or an unreadable file raise `NotHere`; the caller then uses
the DuckDB path (as it does where a purge may hide rows).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._ui.m4 import RunStats, SeriesRequest, x_range
from localtrack._ui.m4_partial import candidates, column_bounds, column_of, merge
from localtrack._ui.series import m4_columns, raw_columns
from localtrack._ui.wire import Series

READ_COLUMNS = ["tag", "step", "wall_time", "value"]
_EPOCH = datetime(1970, 1, 1)
BATCH_ROWS = 1 << 20
"""Rows read at a time (a writer's row groups hold 64k): memory per run in flight stays near
this many rows of the four columns, whatever the series' size."""
FILES_IN_FLIGHT = 2
"""Runs read at once, so several runs cannot multiply that memory."""
T = TypeVar("T")
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


def _batches(
    f: pq.ParquetFile,
    groups: Sequence[int],
    columns: list[str],
    tag: str,
    pure: Container[int] = frozenset(),
) -> Iterator[pa.Table]:
    """The rows of `tag` in row groups `groups` of `f`, at most BATCH_ROWS rows at a time
    (the groups in `pure` are known to hold `tag` only: their tag column is not read)."""
    for g in groups:
        cols = [c for c in columns if c != "tag"] if g in pure else columns
        if f.metadata.row_group(g).num_rows <= BATCH_ROWS:
            tables = iter([f.read_row_group(g, columns=cols)])
        else:
            batches = f.iter_batches(BATCH_ROWS, row_groups=[g], columns=cols)
            tables = (pa.Table.from_batches([b]) for b in batches)
        for table in tables:
            if len(table := table if g in pure else _tag_rows(table, tag)):
                yield table


def first_wall_us(files: Sequence[pq.ParquetFile], tag: str) -> int | None:
    """The least wall time (epoch µs) of `tag` in `files`: x = relative counts from it."""
    least = None
    for f in files:
        for table in _batches(f, range(f.metadata.num_row_groups), ["tag", "wall_time"], tag):
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


Counted = tuple[RunStats, frozenset[tuple[int, int]]]
"""A run's stats in range and its row groups (file index, group) that hold the tag only."""


def count_in_range(planned: Plan, req: SeriesRequest, run: str, offset: int | None) -> Counted:
    """The run's points in range and their least and greatest x, a row group at a time: from
    its statistics where it holds the tag only and no range applies, else from the tag and x
    columns (first_us is left to `read_reduced`). Also the row groups, as (file index, group),
    found to hold the tag only."""
    columns = ["tag", "step" if req.x == "step" else "wall_time"]
    whole = _in_range(np.zeros(1), req, run) is None
    n, lo, hi, pure = 0, np.inf, -np.inf, set()
    for k, (f, gs) in enumerate(planned):
        for g in gs:
            got = _group_extent(f, g, req, offset) if whole else None
            if got is not None:
                n, lo, hi = n + got[0], min(lo, got[1]), max(hi, got[2])
                pure.add((k, g))
                continue
            for table in _batches(f, [g], columns, req.tag):
                x = _x_of(table, req, offset)
                keep = _in_range(x, req, run)
                x = x if keep is None else x[keep]
                if len(x):
                    n, lo, hi = n + len(x), min(lo, float(x.min())), max(hi, float(x.max()))
    stats = RunStats(n, lo, hi, None) if n else RunStats(0, None, None, None)
    return stats, frozenset(pure)


def _group_extent(
    f: pq.ParquetFile, g: int, req: SeriesRequest, offset: int | None
) -> tuple[int, float, float] | None:
    """Row group `g`'s rows and least and greatest x from its statistics, when every row is
    of the tag and the x column's statistics are exact (min/max, no nulls); else None."""
    name = "step" if req.x == "step" else "wall_time"
    group = f.metadata.row_group(g)
    stats = group.column(f.schema_arrow.get_field_index(name)).statistics
    if stats is None or not stats.has_min_max or stats.null_count != 0:
        return None
    if len(_tag_rows(f.read_row_group(g, columns=["tag"]), req.tag)) != group.num_rows:
        return None
    if req.x == "step":
        return group.num_rows, float(stats.min), float(stats.max)
    low, high = _micros(stats.min), _micros(stats.max)
    if offset is None:
        return group.num_rows, low / 1e6, high / 1e6
    return group.num_rows, (low - offset) / 1e6, (high - offset) / 1e6


def _micros(value: object) -> int:
    """A timestamp statistics value as epoch µs, exactly."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=None) - _EPOCH) // timedelta(microseconds=1)
    return int(value)  # type: ignore[call-overload,no-any-return]


def read_reduced(
    planned: Plan,
    req: SeriesRequest,
    run: str,
    first: tuple[Counted, int | None],
    span: tuple[float, float] | None,
) -> InRange:
    """The run's points in range (`first`: count_in_range's stats and the relative offset),
    a batch at a time: all of them for a raw series, else each batch's M4 candidates
    (m4_partial), merged; memory stays near one batch plus the candidates."""
    (stats, pure), offset = first
    raw = stats.points <= req.raw_limit
    by_step = req.x == "step"  # wall times are read back only for the first point's group
    columns = [c for c in READ_COLUMNS if c != "wall_time"] if by_step else READ_COLUMNS
    parts, least, first_at = [], None, None
    mine = _pure_groups(pure)
    for k, (f, gs) in enumerate(planned):
        for g in gs:
            for table in _batches(f, [g], columns, req.tag, mine(k)):
                x, y = _x_of(table, req, offset), _numbers(table, "value", "float64")
                keep = _in_range(x, req, run)
                wall = None if by_step else _numbers(table, "wall_time", "int64")
                if keep is not None:
                    x, y = x[keep], y[keep]
                    wall = None if wall is None else wall[keep]
                if not len(x):
                    continue
                if wall is not None:
                    least = int(wall.min()) if least is None else min(least, int(wall.min()))
                elif first_at is None or x.min() < first_at[0]:
                    first_at = (float(x.min()), k, g)
                if raw or span is None:
                    parts.append((x, y))
                else:
                    parts.append(candidates(x, y, span[0], span[1], req.width))
    if first_at is not None:
        least = _first_wall(planned, req, run, first_at, mine)
    x, y = merge(parts)
    return InRange(x, y, RunStats(stats.points, stats.lo, stats.hi, least), offset)


def _pure_groups(pure: frozenset[tuple[int, int]]) -> Callable[[int], set[int]]:
    """File index → its row groups that hold the tag only."""
    return lambda k: {g for at, g in pure if at == k}


def _first_wall(
    planned: Plan,
    req: SeriesRequest,
    run: str,
    first_at: tuple[float, int, int],
    mine: Callable[[int], set[int]],
) -> int | None:
    """The wall time (epoch µs) of the first point in range by step (the least of those at
    that step), read from the one row group that holds it: an x=step chart reads no other
    wall times."""
    step, k, g = first_at
    f = planned[k][0]
    least = None
    for table in _batches(f, [g], ["tag", "step", "wall_time"], req.tag, mine(k)):
        x, wall = _x_of(table, req, None), _numbers(table, "wall_time", "int64")
        keep = x == step
        in_range = _in_range(x, req, run)
        if in_range is not None:
            keep &= in_range
        if keep.any():
            low = int(wall[keep].min())
            least = low if least is None else min(least, low)
    return least


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
    _, first = np.unique(column_of(x, lo, hi, width), return_index=True)
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
    """Each run's series for `req`; `files[run]` are the run's scalars files. Two passes,
    each a batch at a time with at most FILES_IN_FLIGHT runs read at once: the counts and x
    extents (which fix the pixel columns), then the points or their M4 candidates."""
    req.check()
    try:
        plans = [plan(files.get(run, []), req, run) for run in req.runs]
    except (OSError, pa.ArrowException) as e:
        raise NotHere(str(e)) from e

    def counted(i: int) -> tuple[Counted, int | None]:
        planned = plans[i]
        offset = first_wall_us([f for f, _ in planned], req.tag) if req.x == "relative" else None
        return count_in_range(planned, req, req.runs[i], offset), offset

    with ThreadPoolExecutor(max(1, min(threads, FILES_IN_FLIGHT, len(req.runs)))) as pool:
        firsts = list(pool.map(_readable(counted), range(len(req.runs))))
        span = x_range(req, [st for (st, _), _ in firsts])

        def reduced(i: int) -> InRange:
            return read_reduced(plans[i], req, req.runs[i], firsts[i], span)

        parts = list(pool.map(_readable(reduced), range(len(req.runs))))
    return [_series(run, p, req, span) for run, p in zip(req.runs, parts, strict=True)]


def _readable(read: Callable[[int], T]) -> Callable[[int], T]:
    """`read` with I/O and Arrow errors as NotHere (the DuckDB path answers instead)."""

    def wrapped(i: int) -> T:
        try:
            return read(i)
        except (OSError, pa.ArrowException) as e:
            raise NotHere(str(e)) from e

    return wrapped
