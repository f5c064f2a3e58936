"""One snapshot of a runs root for a report, made once in the caller's thread.

The dashboard's `Snapshots` keeps one fresh from a background thread and makes the first one
of a big store without per-tag tails; a report needs one full snapshot, once, so it is built
here from the same parts (the listing, `build_connection`, the facts of runs.py). Its runs
rows are not kept in the dashboard's runs-rows cache (one file per root: the sync daemon
makes one report per run directory, which would leave a file per run there).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import duckdb

from localtrack._query import overwrite, purge
from localtrack._query.connect import build_connection
from localtrack._query.files import StoreListing, list_store
from localtrack._query.last_values import run_tags
from localtrack._ui import runs
from localtrack._ui.snapshot import (
    MEMORY_LIMIT,
    THREADS,
    Snapshot,
    listed_files,
    share_registered,
)


def prepare(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> dict[str, Any]:
    """runs.prepare's facts of a full snapshot, without its runs-rows cache."""
    per_tag = run_tags(con, listing)
    root = os.path.abspath(listing.root)
    panel, details = [], {}
    for row in runs.runs_rows(con, per_tag):
        row["path"] = runs.relative_path(row["path"], root)
        panel.append({k: row[k] for k in runs.PANEL_FIELDS})
        details[row["run_id"]] = {k: row[k] for k in runs.DETAIL_FIELDS}
    return {
        "per_tag": per_tag,
        "runs": panel,
        "details": details,
        "states": {r["run_id"]: r["status"] for r in panel},
        "root": root,
        "purges": purge.connection_rules(con),
        "overwriters": overwrite.connection_overwriters(con),
        "partial": False,
    }


def open_snapshot(root: Path) -> Snapshot:
    """A full snapshot of every run under `root` (close it when done)."""
    listing = list_store(root, pin=True)
    try:
        con, release = build_connection(listing)
    except BaseException:
        listing.release()
        raise
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET threads = {THREADS}")
        share_registered(con)
        facts = prepare(con, listing)
    except BaseException:
        con.close()
        release()
        raise
    files, keys, streams = listed_files(listing)
    return Snapshot(1, con, release, files, keys, streams, facts, time.time())
