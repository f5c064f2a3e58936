"""What `localtrack show` and the dashboard's run page tell of one run: tables from the views.

`gather` runs a handful of small queries on a connection (over one run, or over a whole
store filtered by run id): the runs row, current config and summary, every scalar tag's
points/last step/last/min/max, and the row counts of the other streams.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from localtrack._query.views import quote

OTHER_STREAMS = ("histograms", "images", "texts", "meshes", "hparams", "graphs", "embeddings",
                 "pr_curves", "audio", "video")  # fmt: skip

SCALARS_SQL = (
    "SELECT tag, count(*) AS points, max(step) AS last_step, "
    "arg_max(value, step) AS last, min(value) AS min, max(value) AS max "
    "FROM scalars {where} GROUP BY tag ORDER BY tag"
)


def gather(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None, scalars: bool = True
) -> dict[str, pa.Table]:
    """Tables run, config, summary, scalars (unless not asked for) and streams, for `run_id`
    (every run of the connection when None; `show` connects to one run)."""
    where = "" if run_id is None else "WHERE run_id = $id"
    params = None if run_id is None else {"id": run_id}

    def table(query: str) -> pa.Table:
        return con.sql(query, params=params).arrow().read_all()

    out = {
        "run": table(f"SELECT * EXCLUDE (config) FROM runs {where}"),
        "config": table(f"SELECT key, value FROM config {where} ORDER BY key"),
        "summary": table(f"SELECT key, value FROM summary {where} ORDER BY key"),
    }
    if scalars:
        out["scalars"] = table(SCALARS_SQL.format(where=where))
    counts = " UNION ALL ".join(
        f"SELECT {quote(s)} AS stream, count(*) AS rows, count(DISTINCT tag) AS tags "
        f"FROM {s} {where}"
        for s in OTHER_STREAMS
    )
    out["streams"] = table(f"SELECT * FROM ({counts}) WHERE rows > 0")
    return out
