"""The M4 reduction of scalar series in DuckDB: pure SQL text and bound parameters.

Per series and pixel column the reduction keeps the first, last, minimum and maximum finite
point (by x), so a single spike among millions of points survives; non-finite values (NaN,
+inf, -inf) are kept apart, at most one of each kind per column. A series with at most
`RAW_FACTOR × width` points in range comes back whole.

A request is answered by a few small queries: `stats_sql` counts each series' points in
range and finds its x extent (for x = relative, `first_sql` first finds where each series
starts), then `raw_sql` and `m4_sql` read the points with those numbers as constants, so
the one scan that aggregates millions of rows joins nothing. The caller's `source(runs)`
is SQL reading only those runs' files (built from the store listing); runs share one scan
unless x is relative (each run counts from its own first point: one UNION ALL branch each). No user text is formatted into the SQL: run ids, the tag, the range and `after` are
bound parameters.

`raw_sql` returns the small series' points, `m4_sql` one row per pixel column of each
large series (its first, last, min and max finite point, the first x of each non-finite
kind); series.py turns those into the answer's columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

X_KINDS = ("step", "wall", "relative")
RAW_FACTOR = 4
"""A series with at most RAW_FACTOR × width points in range is sent unreduced."""

Source = Callable[[Sequence[str]], str]
"""SQL reading the scalars (run_id, tag, step, wall_time, value) of the given runs."""
EPSILON = 1e-9
"""Added to the x span so the greatest x falls in the last column, and a zero span works."""


@dataclass(frozen=True)
class SeriesRequest:
    """What one chart asks for: a tag of some runs, an x axis, a range and a pixel width."""

    tag: str
    runs: tuple[str, ...]
    x: str = "step"
    width: int = 800
    xmin: float | None = None
    xmax: float | None = None
    after: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        if self.x not in X_KINDS:
            raise ValueError(f"x must be one of {', '.join(X_KINDS)}, got {self.x!r}")
        if self.width < 1:
            raise ValueError("width must be at least 1")

    @property
    def raw_limit(self) -> int:
        return RAW_FACTOR * self.width


@dataclass(frozen=True)
class RunStats:
    """One series in range: points, least and greatest x, first wall time (epoch µs)."""

    points: int
    lo: float | None
    hi: float | None
    first_us: int | None


def _wall(seconds: float) -> datetime:
    """A naive UTC timestamp, comparable with `wall_time` in a filter the scan can push down."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


class _Branch:
    """The SQL of some runs' rows in range (`rows`: run_id, x, y[, wall_time]), with its
    parameters gathered in `params`. Several runs share a branch unless x is relative; their
    `after` values join the rows the scan's lower bound (the least of them) let through."""

    def __init__(
        self,
        req: SeriesRequest,
        idx: Sequence[int],
        source: Source,
        params: dict[str, Any],
        offset_us: int | None = None,
        wall: bool = True,
    ) -> None:
        names = []
        for i in idx:
            params[f"r{i}"] = req.runs[i]
            names.append(f"$r{i}")
        self.idx = list(idx)
        scan = ["s.tag = $tag", f"s.run_id IN ({', '.join(names)})"]
        exact: list[str] = []
        tag = idx[0]
        afters = {i: float(req.after[req.runs[i]]) for i in idx if req.runs[i] in req.after}
        lo = req.xmin
        if afters and len(afters) == len(idx):  # every run's rows start after its own x
            low = min(afters.values())
            lo = low if lo is None else max(lo, low)
        join = ""
        if afters:
            pairs = []
            for i, value in afters.items():
                params[f"after{i}"] = value
                pairs.append(f"($r{i}, $after{i})")
            join = f" LEFT JOIN (VALUES {', '.join(pairs)}) AS aft(run_id, after_x) USING (run_id)"
            exact.append("(aft.after_x IS NULL OR x > aft.after_x)")
        if req.xmin is not None:
            exact.append("x >= $xmin")
        if req.xmax is not None:
            exact.append("x <= $xmax")
        if req.x == "step":
            x = "s.step::DOUBLE"
            if lo is not None:
                params[f"slo{tag}"] = math.ceil(lo)
                scan.append(f"s.step >= $slo{tag}")
            if req.xmax is not None:
                params["shi"] = math.floor(req.xmax)
                scan.append("s.step <= $shi")
        else:
            shift = 0.0 if offset_us is None else offset_us / 1e6
            if offset_us is None:
                x = "epoch_us(s.wall_time) / 1e6"
            else:
                params[f"off{tag}"] = int(offset_us)
                x = f"(epoch_us(s.wall_time) - $off{tag}) / 1e6"
            if lo is not None:
                params[f"wlo{tag}"] = _wall(lo + shift - 1e-6)
                scan.append(f"s.wall_time >= $wlo{tag}")
            if req.xmax is not None:
                params[f"whi{tag}"] = _wall(req.xmax + shift + 1e-6)
                scan.append(f"s.wall_time <= $whi{tag}")
        extra = ", wall_time" if wall else ""
        runs = [req.runs[i] for i in idx]
        inner = f"SELECT s.run_id, {x} AS x, s.value AS y, s.wall_time FROM {source(runs)} AS s"
        self.rows = (
            f"(SELECT run_id, x, y{extra} FROM ({inner} WHERE {' AND '.join(scan)}){join}"
            + (f" WHERE {' AND '.join(exact)})" if exact else ")")
        )


def _base_params(req: SeriesRequest) -> dict[str, Any]:
    req.check()
    params: dict[str, Any] = {"tag": req.tag}
    if req.xmin is not None:
        params["xmin"] = float(req.xmin)
    if req.xmax is not None:
        params["xmax"] = float(req.xmax)
    return params


def _groups(req: SeriesRequest, idx: Sequence[int]) -> list[list[int]]:
    """Runs read by one scan together: all of them, unless x is relative (each run counts from
    its own first point)."""
    if not idx:
        return []
    if req.x == "relative":
        return [[i] for i in idx]
    return [list(idx)]


def _offset(offsets: Sequence[int | None] | None, group: list[int]) -> int | None:
    return offsets[group[0]] if offsets is not None and len(group) == 1 else None


def first_sql(req: SeriesRequest, source: Source) -> tuple[str, dict[str, Any]]:
    """Each series' first wall time (epoch µs) over all its points: x = relative counts from it.
    Rows (run_id, first_us)."""
    req.check()
    if not req.runs:
        return "SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS first_us WHERE false", {}
    params: dict[str, Any] = {"tag": req.tag}
    names = []
    for i, run in enumerate(req.runs):
        params[f"r{i}"] = run
        names.append(f"$r{i}")
    sql = (
        f"SELECT s.run_id, epoch_us(min(s.wall_time)) AS first_us FROM {source(req.runs)} AS s "
        f"WHERE s.tag = $tag AND s.run_id IN ({', '.join(names)}) GROUP BY s.run_id"
    )
    return sql, params


def stats_sql(
    req: SeriesRequest, source: Source, offsets_us: Sequence[int | None] | None = None
) -> tuple[str, dict[str, Any]]:
    """Per series with points in range: rows (run_id, points, lo, hi, first_us); `offsets_us`
    are the first wall times of first_sql (per run index) when x is relative."""
    params = _base_params(req)
    parts = []
    for group in _groups(req, range(len(req.runs))):
        b = _Branch(req, group, source, params, _offset(offsets_us, group))
        parts.append(
            "SELECT run_id, count(*) AS points, min(x) AS lo, max(x) AS hi, "
            # the first point in range: least x, then least wall time
            f"epoch_us(arg_min(wall_time, (x, wall_time))) AS first_us FROM {b.rows} "
            "GROUP BY run_id"
        )
    if not parts:
        return (
            "SELECT NULL::VARCHAR AS run_id, 0 AS points, NULL::DOUBLE AS lo, NULL::DOUBLE AS hi, "
            "NULL::BIGINT AS first_us WHERE false",
            {},
        )
    return " UNION ALL ".join(parts), params


def x_range(req: SeriesRequest, stats: Sequence[RunStats]) -> tuple[float, float] | None:
    """The x range the pixel columns divide: the request's, else the extent of every series."""
    los = [s.lo for s in stats if s.points and s.lo is not None]
    his = [s.hi for s in stats if s.points and s.hi is not None]
    lo = req.xmin if req.xmin is not None else min(los, default=None)
    hi = req.xmax if req.xmax is not None else max(his, default=None)
    return None if lo is None or hi is None else (lo, hi)


_AGGREGATES = (
    "min(xf) AS fx, arg_min(yf, xf) AS fy, max(xf) AS lx, arg_max(yf, xf) AS ly, "
    "arg_min(xf, yf) AS mnx, min(yf) AS mny, arg_max(xf, yf) AS mxx, max(yf) AS mxy, "
    "min(nanx) AS nanx, min(pinfx) AS pinfx, min(ninfx) AS ninfx"
)
_FINITE_AGGREGATES = (
    "min(x) AS fx, arg_min(y, x) AS fy, max(x) AS lx, arg_max(y, x) AS ly, "
    "arg_min(x, y) AS mnx, min(y) AS mny, arg_max(x, y) AS mxx, max(y) AS mxy, "
    "NULL::DOUBLE AS nanx, NULL::DOUBLE AS pinfx, NULL::DOUBLE AS ninfx"
)
"""The same for series known to hold finite values only: no per-row CASE (about 20 % less
work on the scan that dominates the answer)."""
_COLUMN_VALUES = (
    "run_id, x, CASE WHEN isfinite(y) THEN x END AS xf, CASE WHEN isfinite(y) THEN y END AS yf, "
    "CASE WHEN isnan(y) THEN x END AS nanx, "
    "CASE WHEN y = 'inf'::DOUBLE THEN x END AS pinfx, "
    "CASE WHEN y = '-inf'::DOUBLE THEN x END AS ninfx"
)


def _chosen(req: SeriesRequest, stats: Sequence[RunStats], raw: bool) -> list[int]:
    return [i for i, st in enumerate(stats) if st.points and (st.points <= req.raw_limit) == raw]


def raw_sql(
    req: SeriesRequest,
    source: Source,
    stats: Sequence[RunStats],
    offsets_us: Sequence[int | None] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Every point of the small series: rows (run_id, x, y) ordered by run_id, x, y; None
    when no series is small."""
    params = _base_params(req)
    parts = []
    for group in _groups(req, _chosen(req, stats, raw=True)):
        b = _Branch(req, group, source, params, _offset(offsets_us, group), wall=False)
        parts.append(f"SELECT run_id, x, y FROM {b.rows}")
    if not parts:
        return None
    return " UNION ALL ".join(parts) + " ORDER BY run_id, x, y", params


M4_COLUMNS = ("fx", "fy", "lx", "ly", "mnx", "mny", "mxx", "mxy", "nanx", "pinfx", "ninfx")


def m4_sql(
    req: SeriesRequest,
    source: Source,
    stats: Sequence[RunStats],
    offsets_us: Sequence[int | None] | None = None,
    finite: Sequence[bool] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Per pixel column of each large series: rows (run_id, col, fx, fy, lx, ly, mnx, mny,
    mxx, mxy, nanx, pinfx, ninfx): the first, last, minimum and maximum finite point and the
    first x of each non-finite kind, ordered by run_id, col; None when no series is large.
    `finite[i]` true says series i holds no NaN or infinity (so its scan skips the checks)."""
    params = _base_params(req)
    span = x_range(req, stats)
    chosen = _chosen(req, stats, raw=False)
    if not chosen or span is None:
        return None
    params.update({"w": int(req.width), "lo": float(span[0]), "hi": float(span[1])})
    params["eps"] = EPSILON
    col = "least($w - 1, greatest(0, floor((x - $lo) * $w / ($hi - $lo + $eps))))::BIGINT"
    clean = [i for i in chosen if finite is not None and finite[i]]
    checked = [i for i in chosen if i not in set(clean)]
    parts = []
    for idx, values, aggregates in (
        (clean, "run_id, x, y", _FINITE_AGGREGATES),
        (checked, _COLUMN_VALUES, _AGGREGATES),
    ):
        for group in _groups(req, idx):
            b = _Branch(req, group, source, params, _offset(offsets_us, group), wall=False)
            parts.append(
                f"SELECT run_id, col, {aggregates} FROM "
                f"(SELECT {col} AS col, {values} FROM {b.rows}) GROUP BY run_id, col"
            )
    return " UNION ALL ".join(parts) + " ORDER BY run_id, col", params
