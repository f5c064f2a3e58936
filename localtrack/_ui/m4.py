"""The M4 reduction of scalar series as one DuckDB query: pure SQL text and bound parameters.

Per series and pixel column the query keeps the first, last, minimum and maximum finite
point (by x), so a single spike among millions of points survives; non-finite values (NaN,
+inf, -inf) are kept apart, at most one of each kind per column. A series with at most
`RAW_FACTOR × width` points in range comes back whole. No user text is formatted into the
SQL: run ids, the tag and the range are bound parameters; the source relation (a view name
or a `read_parquet` over listed files) is SQL the caller built from the store listing.

Result rows `(run_idx, kind, x, y, y2, y3)`, ordered by run_idx, kind, x:
- kind 0, one per series with points: x = points in range, y = least x, y2 = greatest x,
  y3 = first wall time of the whole series (epoch seconds);
- kind 1: the kept finite points (x, y);
- kind 2: the band of each pixel column of a reduced series (x = its first x, y = min,
  y2 = max of its finite values);
- kind 3: non-finite points (x, y).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

X_KINDS = ("step", "wall", "relative")
RAW_FACTOR = 4
"""A series with at most RAW_FACTOR × width points in range is sent unreduced."""

KIND_STATS, KIND_POINT, KIND_BAND, KIND_NONFINITE = 0, 1, 2, 3


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


def _wall_param(seconds: float) -> datetime:
    """A naive UTC timestamp for comparing with `wall_time` (TIMESTAMP) in a pushed-down filter."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


def _x_expr(kind: str) -> str:
    if kind == "step":
        return "s.step::DOUBLE"
    if kind == "wall":
        return "epoch_us(s.wall_time) / 1e6"
    return "(epoch_us(s.wall_time) - fw.first_us) / 1e6"


def _range_filters(req: SeriesRequest, params: dict[str, Any]) -> list[str]:
    """Filters on the stored columns (step, wall_time), so the scan can skip row groups."""
    lo = req.xmin
    if req.after:
        low_after = min(req.after.values())
        lo = low_after if lo is None else max(lo, low_after)
    out: list[str] = []
    if req.x == "step":
        if lo is not None:
            params["lo_s"] = math.ceil(lo)
            out.append("s.step >= $lo_s")
        if req.xmax is not None:
            params["hi_s"] = math.floor(req.xmax)
            out.append("s.step <= $hi_s")
    elif req.x == "wall":
        if lo is not None:
            params["lo_w"] = _wall_param(lo - 1e-6)
            out.append("s.wall_time >= $lo_w")
        if req.xmax is not None:
            params["hi_w"] = _wall_param(req.xmax + 1e-6)
            out.append("s.wall_time <= $hi_w")
    return out


def _x_filters(req: SeriesRequest, params: dict[str, Any]) -> list[str]:
    """Exact filters on x itself: the range, and `after` per run."""
    out: list[str] = []
    if req.xmin is not None:
        params["xmin"] = float(req.xmin)
        out.append("x >= $xmin")
    if req.xmax is not None:
        params["xmax"] = float(req.xmax)
        out.append("x <= $xmax")
    if req.after:
        out.append("(aft.after_x IS NULL OR x > aft.after_x)")
    return out


def series_sql(req: SeriesRequest, source: str) -> tuple[str, dict[str, Any]]:
    """The one query reducing `req`'s series read from `source`, and its parameters."""
    if req.x not in X_KINDS:
        raise ValueError(f"x must be one of {', '.join(X_KINDS)}, got {req.x!r}")
    if req.width < 1:
        raise ValueError("width must be at least 1")
    params: dict[str, Any] = {"tag": req.tag, "w": int(req.width)}
    params["raw"] = RAW_FACTOR * int(req.width)
    names = []
    for i, run in enumerate(req.runs):
        params[f"r{i}"] = run
        names.append(f"$r{i}")
    run_in = ", ".join(names) or "NULL"
    req_rows = ", ".join(f"($r{i}, {i})" for i in range(len(req.runs))) or "(NULL, 0)"
    ctes = [f"req(run_id, run_idx) AS (VALUES {req_rows})"]
    where = ["s.tag = $tag", f"s.run_id IN ({run_in})"]
    ctes.append(
        "fw AS MATERIALIZED (SELECT s.run_id, epoch_us(min(s.wall_time)) AS first_us "
        f"FROM {source} AS s WHERE {' AND '.join(where)} GROUP BY s.run_id)"
    )
    aft_join = ""
    if req.after:
        rows = []
        for i, (run, x) in enumerate(sorted(req.after.items())):
            params[f"a{i}"] = run
            params[f"ax{i}"] = float(x)
            rows.append(f"($a{i}, $ax{i})")
        ctes.append(f"aft(run_id, after_x) AS (VALUES {', '.join(rows)})")
        aft_join = " LEFT JOIN aft USING (run_id)"
    scan = " AND ".join(where + _range_filters(req, params))
    x_filters = _x_filters(req, params)
    fw_join = " JOIN fw USING (run_id)" if req.x == "relative" else ""
    ctes.append(
        "base AS NOT MATERIALIZED (SELECT * FROM ("
        f"SELECT s.run_id, {_x_expr(req.x)} AS x, s.value AS y "
        f"FROM {source} AS s{fw_join} WHERE {scan}){aft_join}"
        + (f" WHERE {' AND '.join(x_filters)}" if x_filters else "")
        + ")"
    )
    ctes.append(
        "stats AS MATERIALIZED (SELECT run_id, count(*) AS n, min(x) AS lo, max(x) AS hi "
        "FROM base GROUP BY run_id)"
    )
    lo = "$xmin" if req.xmin is not None else "(SELECT min(lo) FROM stats)"
    hi = "$xmax" if req.xmax is not None else "(SELECT max(hi) FROM stats)"
    ctes.append(f"rng AS MATERIALIZED (SELECT {lo}::DOUBLE AS lo, {hi}::DOUBLE AS hi)")
    # A raw series groups by x itself: each point is its own column (equal x merge into
    # their first/last/min/max), so one aggregation serves raw and reduced series.
    ctes.append(
        "cols AS NOT MATERIALIZED (SELECT b.run_id, b.x, b.y, isfinite(b.y) AS fin, "
        "st.n <= $raw AS whole, CASE WHEN st.n <= $raw THEN b.x ELSE least($w - 1, greatest(0, "
        "floor((b.x - rng.lo) * $w / (rng.hi - rng.lo + 1e-9))))::DOUBLE END AS col "
        "FROM base AS b JOIN stats AS st USING (run_id), rng)"
    )
    ctes.append(
        "agg AS MATERIALIZED (SELECT run_id, col, any_value(whole) AS whole, "
        "min(x) FILTER (fin) AS fx, arg_min(y, x) FILTER (fin) AS fy, "
        "max(x) FILTER (fin) AS lx, arg_max(y, x) FILTER (fin) AS ly, "
        "arg_min(x, y) FILTER (fin) AS mnx, min(y) FILTER (fin) AS mny, "
        "arg_max(x, y) FILTER (fin) AS mxx, max(y) FILTER (fin) AS mxy, "
        "min(x) FILTER (isnan(y)) AS nanx, "
        "min(x) FILTER (y = 'inf'::DOUBLE) AS pinfx, "
        "min(x) FILTER (y = '-inf'::DOUBLE) AS ninfx "
        "FROM cols GROUP BY run_id, col)"
    )
    points = " UNION ".join(
        f"SELECT run_id, {x} AS x, {y} AS y FROM agg WHERE fx IS NOT NULL"
        for x, y in (("fx", "fy"), ("lx", "ly"), ("mnx", "mny"), ("mxx", "mxy"))
    )
    nonfinite = " UNION ALL ".join(
        f"SELECT run_id, {x} AS x, {y}::DOUBLE AS y FROM agg WHERE {x} IS NOT NULL"
        for x, y in (("nanx", "'nan'"), ("pinfx", "'inf'"), ("ninfx", "'-inf'"))
    )
    out = (
        f"SELECT run_id, {KIND_STATS} AS kind, n::DOUBLE AS x, lo AS y, hi AS y2, "
        "fw.first_us / 1e6 AS y3 FROM stats JOIN fw USING (run_id) "
        f"UNION ALL SELECT run_id, {KIND_POINT}, x, y, NULL, NULL FROM ({points}) "
        f"UNION ALL SELECT run_id, {KIND_BAND}, fx, mny, mxy, NULL FROM agg "
        "WHERE fx IS NOT NULL AND NOT whole "
        f"UNION ALL SELECT run_id, {KIND_NONFINITE}, x, y, NULL, NULL FROM ({nonfinite})"
    )
    sql = (
        "WITH " + ",\n".join(ctes) + f"\nSELECT req.run_idx, o.kind, o.x, o.y, o.y2, o.y3 "
        f"FROM ({out}) AS o JOIN req USING (run_id) ORDER BY req.run_idx, o.kind, o.x, o.y"
    )
    return sql, params
