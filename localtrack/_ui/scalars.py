"""The scalars view's endpoints: /api/tags and /api/series (M4 reduced, series-v1).

Series are read only from the listed scalars files of the runs asked for, so a chart of five
runs never opens the other runs' files: with pyarrow and numpy (series_numpy.py, about 3×
faster), or, where a purge may hide rows, with one DuckDB `read_parquet` over them (the tag,
run ids and range bound parameters). Tags come from the snapshot's per-tag tails,
with no scan. Downloads are in downloads.py.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from localtrack._query import purge
from localtrack._query.views import file_list_sql, ident, quote
from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest, json_answer
from localtrack._ui.answer_cache import AnswerCache
from localtrack._ui.m4 import X_KINDS, SeriesRequest
from localtrack._ui.series import reduce_series
from localtrack._ui.series_numpy import NotHere, reduce_files
from localtrack._ui.snapshot import THREADS, Snapshot
from localtrack._ui.wire import FORMAT, encode_series

SCALAR_COLUMNS = ("run_id", "tag", "step", "wall_time", "value")
_EMPTY = (
    "(SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS tag, NULL::BIGINT AS step, "
    "NULL::TIMESTAMP AS wall_time, NULL::DOUBLE AS value WHERE false)"
)


def source_sql(snap: Snapshot, runs: Sequence[str]) -> str:
    """SQL reading the scalars files of `runs` only (their paths come from the listing),
    without the rows a purge_step hides (as the `scalars` view)."""
    paths = [path for run in runs for path in snap.files.get(run, [])]
    if not paths:
        return _EMPTY
    columns = ", ".join(ident(c) for c in SCALAR_COLUMNS)
    if any_overwriter(snap, runs):  # the view keeps a W&B run's last value per step (rare)
        names = ", ".join(quote(r) for r in runs)
        return f"(SELECT {columns} FROM scalars WHERE run_id IN ({names}))"
    rules = purges_of(snap, runs)
    where = f" WHERE NOT coalesce({purge.hidden_sql(rules)}, FALSE)" if rules else ""
    return (
        f"(SELECT {columns} FROM read_parquet({file_list_sql(paths)}, "
        f"hive_partitioning = false, binary_as_string = false){where})"
    )


def purges_of(snap: Snapshot, runs: Sequence[str]) -> list[purge.Purge]:
    """The purge rules that hide rows of `runs`."""
    return [r for r in snap.facts.get("purges", ()) if r.run_id in runs]


def any_overwriter(snap: Snapshot, runs: Sequence[str]) -> bool:
    """Whether a W&B run among `runs` logged a key twice at one step (overwrite.py)."""
    marked = snap.facts.get("overwriters", ())
    return any(r in marked for r in runs)


def all_runs(snap: Snapshot) -> tuple[str, ...]:
    return tuple(r["run_id"] for r in snap.facts["runs"])


TAGS_SQL = "SELECT run_id, tag, count(*) AS points FROM {} GROUP BY run_id, tag"


def tags_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    runs = p.run_ids(query.get("runs"))
    per_tag: pa.Table = snap.facts["per_tag"]
    if snap.facts.get("partial"):  # the first snapshot has no tails yet: count these runs'
        scanned = all_runs(snap) if runs is None else runs
        per_tag = cur.sql(TAGS_SQL.format(source_sql(snap, scanned))).arrow().read_all()
    if runs is not None:
        per_tag = per_tag.filter(pc.is_in(per_tag.column("run_id"), pa.array(runs, pa.string())))
    grouped = per_tag.group_by("tag").aggregate([("run_id", "list"), ("points", "sum")])
    rows = sorted(grouped.to_pylist(), key=lambda r: r["tag"])
    return json_answer(
        {
            "tags": [
                {"tag": r["tag"], "runs": sorted(r["run_id_list"]), "points": r["points_sum"]}
                for r in rows
            ]
        }
    )


def series_request(query: dict[str, str], snap: Snapshot) -> SeriesRequest:
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    runs = p.run_ids(query.get("runs"))
    x = query.get("x") or "step"
    if x not in X_KINDS:
        raise BadRequest(f"x must be one of {', '.join(X_KINDS)}")
    return SeriesRequest(
        tag=tag,
        runs=all_runs(snap) if runs is None else runs,
        x=x,
        width=p.integer(query.get("width"), "width", 800, 1, p.MAX_WIDTH),
        xmin=p.number(query.get("xmin"), "xmin"),
        xmax=p.number(query.get("xmax"), "xmax"),
        after=p.after(query.get("after")),
    )


def finite_series(snap: Snapshot, tag: str, runs: tuple[str, ...]) -> list[bool]:
    """Per run, whether its series of `tag` holds finite values only (from the per-tag tails:
    DuckDB's min and max see NaN as the greatest value)."""
    per_tag: pa.Table = snap.facts["per_tag"]
    if snap.facts.get("partial"):
        return [False] * len(runs)
    mine = per_tag.filter(pc.equal(per_tag.column("tag"), tag))
    clean = {}
    for row in mine.select(["run_id", "min", "max"]).to_pylist():
        lo, hi = row["min"], row["max"]
        clean[row["run_id"]] = (
            lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi)
        )
    return [clean.get(run, False) for run in runs]


ANSWERS = AnswerCache()
"""Series answers of this process, keyed by request and files read (answer_cache.py)."""


def cache_key(snap: Snapshot, req: SeriesRequest) -> tuple[object, ...]:
    files = tuple(snap.file_keys.get(run, ()) for run in req.runs)
    after = tuple(sorted(req.after.items()))
    purges = tuple(purges_of(snap, req.runs))
    return (req.tag, req.runs, req.x, req.width, req.xmin, req.xmax, after, files, purges)


def series_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    req = series_request(query, snap)
    key = cache_key(snap, req)
    body = ANSWERS.get(key)
    if body is None:
        body = series_body(snap, cur, req)
        ANSWERS.put(key, body)
    headers = [("X-Localtrack-Format", FORMAT), ("Cache-Control", "no-store")]
    return Answer(200, body, "application/octet-stream", headers)


def series_body(snap: Snapshot, cur: duckdb.DuckDBPyConnection, req: SeriesRequest) -> bytes:
    series = None
    if not purges_of(snap, req.runs) and not any_overwriter(snap, req.runs):
        with contextlib.suppress(NotHere):
            series = reduce_files(snap.files, req, THREADS)
    if series is None:
        finite = finite_series(snap, req.tag, req.runs)
        series = reduce_series(cur, req, lambda runs: source_sql(snap, runs), finite)
    los = [float(c[0]) for s in series for c in (s.columns[0], s.columns[5]) if len(c)]
    his = [s.last_x for s in series if s.last_x is not None]
    xmin = req.xmin if req.xmin is not None else min(los, default=None)
    xmax = req.xmax if req.xmax is not None else max(his, default=None)
    header: dict[str, Any] = {
        "tag": req.tag,
        "x": req.x,
        "width": req.width,
        "xmin": xmin,
        "xmax": xmax,
    }
    return encode_series(header, series)
