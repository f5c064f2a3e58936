"""What `localtrack show` and the dashboard's run page tell of one run: tables from the views.

`gather` runs a handful of small queries on a connection (over one run, or over a whole
store filtered by run id): the runs row, current config and summary, every scalar tag's
points/last step/last/min/max, and the row counts of the other streams.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    con: duckdb.DuckDBPyConnection,
    run_id: str | None = None,
    scalars: bool = True,
    run: bool = True,
    sources: Mapping[str, str] | None = None,
) -> dict[str, pa.Table]:
    """Tables run (unless not asked for), config, summary, scalars (unless not asked for) and
    streams, for `run_id` (every run of the connection when None; `show` connects to one
    run). `sources` may name, per stream, SQL reading just that run's rows (the dashboard
    passes its files), in place of the stream's view; a stream it leaves out has no rows."""
    where = "" if run_id is None else "WHERE run_id = $id"
    params = None if run_id is None else {"id": run_id}

    def table(query: str) -> pa.Table:
        return con.sql(query, params=params).arrow().read_all()

    out = {
        "config": table(f"SELECT key, value FROM config {where} ORDER BY key"),
        "summary": table(f"SELECT key, value FROM summary {where} ORDER BY key"),
    }
    if run:
        out["run"] = table(f"SELECT * EXCLUDE (config) FROM runs {where}")
    if scalars:
        out["scalars"] = table(SCALARS_SQL.format(where=where))
    streams = [s for s in OTHER_STREAMS if sources is None or s in sources]
    counts = " UNION ALL ".join(
        f"SELECT {quote(s)} AS stream, count(*) AS rows, count(DISTINCT tag) AS tags "
        f"FROM {s if sources is None else sources[s]} {where}"
        for s in streams
    )
    if counts:
        out["streams"] = table(f"SELECT * FROM ({counts}) WHERE rows > 0")
    else:
        out["streams"] = pa.table({"stream": [], "rows": [], "tags": []})
    return out
