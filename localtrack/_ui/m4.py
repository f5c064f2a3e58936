"""The M4 reduction of scalar series in DuckDB: pure SQL text and bound parameters.

Per series and pixel column the reduction keeps the first, last, minimum and maximum finite
point (by x), so a single spike among millions of points survives; non-finite values (NaN,
+inf, -inf) are kept apart, at most one of each kind per column. A series with at most
`RAW_FACTOR × width` points in range comes back whole.

A request is answered by a few small queries: `stats_sql` counts each series' points in
range and finds its x extent (for x = relative, `first_sql` first finds where each series
starts), then `raw_sql` and `m4_sql` read the points with those numbers as constants, so
the one scan that aggregates millions of rows joins nothing. Each series reads its own source (the SQL of its run's files, built by the caller
from the store listing): one UNION ALL branch per run, scanned in parallel. No user text is
formatted into the SQL: run ids, the tag, the range and `after` are bound parameters.

`raw_sql` returns the small series' points, `m4_sql` one row per pixel column of each
large series (its first, last, min and max finite point, the first x of each non-finite
kind); series.py turns those into the answer's columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

X_KINDS = ("step", "wall", "relative")
RAW_FACTOR = 4
"""A series with at most RAW_FACTOR × width points in range is sent unreduced."""

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
    """The SQL of one run's rows in range, with its parameters gathered in `params`."""

    def __init__(
        self,
        req: SeriesRequest,
        i: int,
        source: str,
        offset_us: int | None,
        params: dict[str, Any],
        wall: bool = True,
    ) -> None:
        self.i = i
        run = req.runs[i]
        params[f"r{i}"] = run
        scan = ["s.tag = $tag", f"s.run_id = $r{i}"]
        exact: list[str] = []
        lo = req.xmin
        after = req.after.get(run)
        if after is not None:
            lo = after if lo is None else max(lo, after)
            params[f"after{i}"] = float(after)
            exact.append(f"x > $after{i}")
        if req.xmin is not None:
            exact.append("x >= $xmin")
        if req.xmax is not None:
            exact.append("x <= $xmax")
        if req.x == "step":
            self.x = "s.step::DOUBLE"
            if lo is not None:
                params[f"slo{i}"] = math.ceil(lo)
                scan.append(f"s.step >= $slo{i}")
            if req.xmax is not None:
                params["shi"] = math.floor(req.xmax)
                scan.append("s.step <= $shi")
        else:
            shift = 0.0 if offset_us is None else offset_us / 1e6
            if offset_us is None:
                self.x = "epoch_us(s.wall_time) / 1e6"
            else:
                params[f"off{i}"] = int(offset_us)
                self.x = f"(epoch_us(s.wall_time) - $off{i}) / 1e6"
            if lo is not None:
                params[f"wlo{i}"] = _wall(lo + shift - 1e-6)
                scan.append(f"s.wall_time >= $wlo{i}")
            if req.xmax is not None:
                params[f"whi{i}"] = _wall(req.xmax + shift + 1e-6)
                scan.append(f"s.wall_time <= $whi{i}")
        extra = ", s.wall_time" if wall else ""
        inner = f"SELECT {self.x} AS x, s.value AS y{extra} FROM {source} AS s"
        self.rows = f"(SELECT * FROM ({inner} WHERE {' AND '.join(scan)})" + (
            f" WHERE {' AND '.join(exact)})" if exact else ")"
        )


def _base_params(req: SeriesRequest) -> dict[str, Any]:
    req.check()
    params: dict[str, Any] = {"tag": req.tag}
    if req.xmin is not None:
        params["xmin"] = float(req.xmin)
    if req.xmax is not None:
        params["xmax"] = float(req.xmax)
    return params


def first_sql(req: SeriesRequest, sources: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Each series' first wall time (epoch µs) over all its points: x = relative counts from it.
    Rows (run_idx, first_us)."""
    params: dict[str, Any] = {"tag": req.tag}
    parts = []
    for i, (run, source) in enumerate(zip(req.runs, sources, strict=True)):
        params[f"r{i}"] = run
        parts.append(
            f"SELECT {i} AS run_idx, epoch_us(min(s.wall_time)) AS first_us FROM {source} AS s "
            f"WHERE s.tag = $tag AND s.run_id = $r{i}"
        )
    if not parts:
        return "SELECT 0 AS run_idx, NULL::BIGINT AS first_us WHERE false", {}
    return " UNION ALL ".join(parts), params


def stats_sql(
    req: SeriesRequest, sources: Sequence[str], offsets_us: Sequence[int | None] | None = None
) -> tuple[str, dict[str, Any]]:
    """Per series in range: rows (run_idx, points, lo, hi, first_us); `offsets_us` are the
    first wall times of first_sql when x is relative."""
    params = _base_params(req)
    offsets = list(offsets_us) if offsets_us is not None else [None] * len(req.runs)
    parts = []
    for i, source in enumerate(sources):
        b = _Branch(req, i, source, offsets[i] if req.x == "relative" else None, params)
        parts.append(
            f"SELECT {i} AS run_idx, count(*) AS points, min(x) AS lo, max(x) AS hi, "
            f"epoch_us(min(wall_time)) AS first_us FROM {b.rows}"
        )
    if not parts:
        return (
            "SELECT 0 AS run_idx, 0 AS points, NULL AS lo, NULL AS hi, NULL AS first_us WHERE false",
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
"""The same for a series known to hold finite values only: no per-row CASE (about 20 % less
work on the scan that dominates the answer)."""
_COLUMN_VALUES = (
    "x, CASE WHEN isfinite(y) THEN x END AS xf, CASE WHEN isfinite(y) THEN y END AS yf, "
    "CASE WHEN isnan(y) THEN x END AS nanx, "
    "CASE WHEN y = 'inf'::DOUBLE THEN x END AS pinfx, "
    "CASE WHEN y = '-inf'::DOUBLE THEN x END AS ninfx"
)


def _branches(
    req: SeriesRequest,
    sources: Sequence[str],
    stats: Sequence[RunStats],
    offsets_us: Sequence[int | None] | None,
    raw: bool,
    params: dict[str, Any],
) -> list[_Branch]:
    offsets = list(offsets_us) if offsets_us is not None else [None] * len(req.runs)
    out = []
    for i, source in enumerate(sources):
        if stats[i].points and (stats[i].points <= req.raw_limit) == raw:
            offset = offsets[i] if req.x == "relative" else None
            out.append(_Branch(req, i, source, offset, params, wall=False))
    return out


def raw_sql(
    req: SeriesRequest,
    sources: Sequence[str],
    stats: Sequence[RunStats],
    offsets_us: Sequence[int | None] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Every point of the small series: rows (run_idx, x, y) ordered by run_idx, x, y; None
    when no series is small."""
    params = _base_params(req)
    parts = [
        f"SELECT {b.i} AS run_idx, x, y FROM {b.rows}"
        for b in _branches(req, sources, stats, offsets_us, True, params)
    ]
    if not parts:
        return None
    return " UNION ALL ".join(parts) + " ORDER BY run_idx, x, y", params


M4_COLUMNS = ("fx", "fy", "lx", "ly", "mnx", "mny", "mxx", "mxy", "nanx", "pinfx", "ninfx")


def m4_sql(
    req: SeriesRequest,
    sources: Sequence[str],
    stats: Sequence[RunStats],
    offsets_us: Sequence[int | None] | None = None,
    finite: Sequence[bool] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Per pixel column of each large series: rows (run_idx, col, fx, fy, lx, ly, mnx, mny,
    mxx, mxy, nanx, pinfx, ninfx): the first, last, minimum and maximum finite point and the
    first x of each non-finite kind, ordered by run_idx, col; None when no series is large.
    `finite[i]` true says series i holds no NaN or infinity (so its scan skips the checks)."""
    params = _base_params(req)
    branches = _branches(req, sources, stats, offsets_us, False, params)
    span = x_range(req, stats)
    if not branches or span is None:
        return None
    params.update({"w": int(req.width), "lo": float(span[0]), "hi": float(span[1])})
    params["eps"] = EPSILON
    col = "least($w - 1, greatest(0, floor((x - $lo) * $w / ($hi - $lo + $eps))))::BIGINT"
    parts = []
    for b in branches:
        if finite is not None and finite[b.i]:
            values, aggregates = "x, y", _FINITE_AGGREGATES
        else:
            values, aggregates = _COLUMN_VALUES, _AGGREGATES
        parts.append(
            f"SELECT {b.i} AS run_idx, col, {aggregates} FROM "
            f"(SELECT {col} AS col, {values} FROM {b.rows}) GROUP BY col"
        )
    return " UNION ALL ".join(parts) + " ORDER BY run_idx, col", params
