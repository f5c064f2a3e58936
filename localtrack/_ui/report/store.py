"""One snapshot of a runs root for a report, made once in the caller's thread.

The dashboard's `Snapshots` keeps one fresh from a background thread and makes the first one
of a big store without per-tag tails; a report needs one full snapshot, once, so it is built
here from the same parts (the listing, `build_connection`, the runs facts of runs.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from localtrack._query.connect import build_connection
from localtrack._query.files import list_store
from localtrack._ui import runs
from localtrack._ui.snapshot import MEMORY_LIMIT, THREADS, Snapshot, scalar_files, share_registered


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
        facts = runs.prepare(con, listing, True)
    except BaseException:
        con.close()
        release()
        raise
    by_run = scalar_files(listing)
    files = {run: [listing.read_path(p) for p in paths] for run, paths in by_run.items()}
    keys = {run: tuple(sorted(str(p) for p in paths)) for run, paths in by_run.items()}
    streams = {
        stream: {
            run: [listing.read_path(p) for p in paths]
            for run, paths in scalar_files(listing, stream).items()
            if paths
        }
        for stream in listing.files
    }
    return Snapshot(1, con, release, files, keys, streams, facts, time.time())
