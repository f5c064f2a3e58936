"""The facts behind the `runs` view that are not in Parquet: markers, and live writers' status.

Status follows docs/FORMAT.md as `localtrack._store.runs.run_status` computes it. A run none
of whose writers touched a lease in the last LEASE_STALE_SECS, and none of whose unclosed
writers is a process running on this host (RunEntry.runs_here: a wall-clock jump cannot make
it look dead), cannot be `running` (unless it has no events yet and its marker is fresh:
`fresh` below), so its status follows from its events alone and the view derives it in SQL;
only the few runs training now are checked here, one by one.
"""

from __future__ import annotations

import time

import pyarrow as pa

from localtrack._query.files import RunEntry, marker_mtime
from localtrack._store.runs import LEASE_STALE_SECS, run_status
from localtrack._store.schema import WALL_TIME

MARKERS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("project", pa.string()),
        pa.field("name", pa.string()),
        pa.field("created_at", WALL_TIME),
        pa.field("api", pa.string()),
        pa.field("path", pa.string()),
        pa.field("fresh", pa.bool_()),  # marker written within LEASE_STALE_SECS
    ]
)

LIVE_STATUS_SCHEMA = pa.schema([pa.field("run_id", pa.string()), pa.field("status", pa.string())])


def markers_table(runs: list[RunEntry], now: float | None = None) -> pa.Table:
    """One row per run directory with its marker's fields, and whether the marker is fresh
    (a run without events is `running` then, as its writer may be starting; else `crashed`)."""
    now = time.time() if now is None else now
    made = [r.made if r.made is not None else marker_mtime(r.path) for r in runs]
    rows = {
        "run_id": [r.marker.get("run_id") for r in runs],
        "project": [r.marker.get("project") for r in runs],
        "name": [r.marker.get("name") for r in runs],
        "created_at": [int(float(r.marker.get("created_at") or 0) * 1e6) for r in runs],
        "api": [r.marker.get("api") for r in runs],
        "path": [str(r.path) for r in runs],
        "fresh": [m is not None and now - m < LEASE_STALE_SECS for m in made],
    }
    return pa.table(rows, schema=MARKERS_SCHEMA)


def live_status_table(runs: list[RunEntry], now: float | None = None) -> pa.Table:
    """Status of every run with a fresh lease or a writer running here, by run_status."""
    now = time.time() if now is None else now
    ids: list[str] = []
    statuses: list[str] = []
    for run in runs:
        if not run.has_live_writer(now):
            continue
        ids.append(run.marker["run_id"])
        statuses.append(run_status(run.path, now))
    return pa.table({"run_id": ids, "status": statuses}, schema=LIVE_STATUS_SCHEMA)
