"""Compare and aggregate: /api/aggregate groups one tag's runs by an hparam or config key and
answers, per group, the mean or median over its runs with a min/max or std band, in DuckDB.

Runs are aligned on x columns: the finite points of every run of the tag are split into
`width` equal columns over their x extent, and a run counts once per column, with the mean
of its points there. When x is the step and the extent holds fewer steps than `width`, each
column is one step, so a group's value at a step is the statistic over exactly the runs that
logged that step. Each column's x is the smallest x of its points. std is the population
standard deviation (numpy's default, ddof=0), drawn as the line ± std. NaN and ±inf are left
out. A run's group is its value of the key in the hparams table (views/_hparams_rows.py:
config, with its last add_hparams trial over it); runs without the key form one group.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest, json_answer
from localtrack._ui.scalars import all_runs, source_sql
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views._hparams_rows import run_params
from localtrack._ui.views.hparams import table_answer

STATS = ("mean", "median")
BANDS = ("minmax", "std", "none")
X_KINDS = ("step", "relative")

AGGREGATE_SQL = """
WITH groups AS (SELECT unnest($runs) AS run_id, unnest($groups) AS grp),
src AS (
    SELECT s.run_id, g.grp, s.value,
        CASE WHEN $relative
            THEN epoch(s.wall_time) - min(epoch(s.wall_time)) OVER (PARTITION BY s.run_id)
            ELSE s.step::DOUBLE END AS x
    FROM {source} AS s JOIN groups AS g USING (run_id)
    WHERE s.tag = $tag
),
fin AS (SELECT * FROM src WHERE isfinite(value)),
ext AS (SELECT min(x) AS lo, max(x) AS hi FROM fin),
cols AS (
    SELECT grp, run_id, x, value,
        CASE WHEN NOT $relative AND hi - lo < $width THEN (x - lo)::BIGINT
            ELSE least(floor((x - lo) / greatest(hi - lo, 1e-300) * $width), $width - 1)::BIGINT
        END AS col
    FROM fin, ext
),
per_run AS (SELECT grp, run_id, col, min(x) AS x, avg(value) AS v FROM cols GROUP BY ALL)
SELECT grp, col, min(x) AS x, avg(v) AS mean, median(v)::DOUBLE AS median, min(v) AS lo,
    max(v) AS hi, stddev_pop(v) AS std, count(*) AS n
FROM per_run GROUP BY grp, col ORDER BY grp, col
"""


def group_key(value: Any) -> str:
    """The group of a value, as text (JSON: 1 and "1" are two groups)."""
    return json.dumps(value, sort_keys=True)


def _order(key: str) -> tuple[int, float, str]:
    value = json.loads(key)
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def groups_of(
    runs: Sequence[str], by: str, params: dict[str, dict[str, Any]]
) -> dict[str, list[str]]:
    """Group (JSON text of the key's value, "null" when unset) → its runs, in group order."""
    out: dict[str, list[str]] = {}
    for run in runs:
        out.setdefault(group_key(params.get(run, {}).get(by)), []).append(run)
    return {k: out[k] for k in sorted(out, key=_order)}


def series(rows: list[tuple[Any, ...]], stat: str, band: str) -> dict[str, dict[str, list[Any]]]:
    """Per group, the columns x, y (the statistic), lo, hi (the band) and n (runs there)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for grp, _col, x, mean, median, lo, hi, std, n in rows:
        s = out.setdefault(grp, {"x": [], "y": [], "lo": [], "hi": [], "n": []})
        y = mean if stat == "mean" else median
        s["x"].append(x)
        s["y"].append(y)
        s["n"].append(n)
        if band == "minmax":
            s["lo"].append(lo)
            s["hi"].append(hi)
        elif band == "std":
            s["lo"].append(y - std)
            s["hi"].append(y + std)
    return out


def choice(query: dict[str, str], name: str, options: Sequence[str]) -> str:
    value = query.get(name) or options[0]
    if value not in options:
        raise BadRequest(f"{name} must be one of {', '.join(options)}")
    return value


def aggregate_answer(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]
) -> Answer:
    tag, by = query.get("tag"), query.get("by")
    if not tag or not by:
        raise BadRequest("tag and by are required")
    stat = choice(query, "stat", STATS)
    band = choice(query, "band", BANDS)
    x = choice(query, "x", X_KINDS)
    width = p.integer(query.get("width"), "width", 800, 1, p.MAX_WIDTH)
    asked = p.run_ids(query.get("runs"))
    runs = all_runs(snap) if asked is None else asked
    groups = groups_of(runs, by, run_params(table_answer(snap, cur)))
    members = [(run, grp) for grp, rs in groups.items() for run in rs]
    rows = []
    if members:
        rows = cur.sql(
            AGGREGATE_SQL.format(source=source_sql(snap, runs)),
            params={
                "runs": [m[0] for m in members],
                "groups": [m[1] for m in members],
                "tag": tag,
                "relative": x == "relative",
                "width": width,
            },
        ).fetchall()
    per_group = series(rows, stat, band)
    empty: dict[str, list[Any]] = {"x": [], "y": [], "lo": [], "hi": [], "n": []}
    answer = [
        {"value": json.loads(grp), "runs": rs, **per_group.get(grp, empty)}
        for grp, rs in groups.items()
    ]
    return json_answer(
        {"tag": tag, "by": by, "stat": stat, "band": band, "x": x, "width": width, "groups": answer}
    )


def keys_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    """The keys runs can be grouped by: each with how many of the runs have it, and how many
    different values they hold."""
    asked = p.run_ids(query.get("runs"))
    runs = all_runs(snap) if asked is None else asked
    params = run_params(table_answer(snap, cur))
    values: dict[str, set[str]] = {}
    having: dict[str, int] = {}
    for run in runs:
        for key, value in params.get(run, {}).items():
            values.setdefault(key, set()).add(group_key(value))
            having[key] = having.get(key, 0) + 1
    keys = [{"key": k, "runs": having[k], "values": len(values[k])} for k in sorted(values)]
    return json_answer({"keys": keys})


QUERIES = {"/api/aggregate": aggregate_answer, "/api/aggregate/keys": keys_answer}
