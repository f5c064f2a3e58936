"""The runs panel's rows kept across server restarts, outside the store ($LOCALTRACK_CACHE_DIR).

A restarted `localtrack ui` answers its first /api/runs without the `runs` view query over
every run's events (a third of a second on 1,000 runs). The rows are reused only for the very
same listing: every listed file by name (segments never change once published) with the size
of each `events` file, and every run's folder and marker mtime; and only when no run has a
live writer or a fresh marker, so that every status and duration follows from immutable files
alone (nothing depends on the clock). The store itself is never written; a cache that cannot
be read or written only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from localtrack._query.files import StoreListing, marker_mtime
from localtrack._query.last_values import cache_path
from localtrack._query.views import RUNS_VIEW_SQL
from localtrack._store.runs import LEASE_STALE_SECS
from localtrack._store.segments import write_atomic

VERSION = 1


def listing_digest(listing: StoreListing, query: str, now: float | None = None) -> str | None:
    """What the runs rows of `listing` depend on, as a hash (with the text of `query` and of
    the runs view, so that other code never reuses them); None when the clock matters too
    (a live writer or a fresh marker)."""
    now = time.time() if now is None else now
    h = hashlib.sha256(f"v{VERSION}\0{os.path.abspath(listing.root)}\0".encode())
    h.update(f"{query}\0{RUNS_VIEW_SQL}\0".encode())
    for run in sorted(listing.runs, key=lambda r: str(r.path)):
        made = run.made if run.made is not None else marker_mtime(run.path)
        if run.has_live_writer(now) or (made or 0.0) > now - LEASE_STALE_SECS:
            return None
        h.update(f"run\0{run.path}\0{run.marker.get('run_id')}\0{made}\0".encode())
    events = set(listing.files.get("events", ()))
    for path in sorted(str(p) for p in listing.all_files()):
        size = ""
        if Path(path) in events:
            try:
                size = str(os.stat(path).st_size)
            except OSError:
                return None
        h.update(f"file\0{path}\0{size}\0".encode())
    return h.hexdigest()


def rows_path(root: Path) -> Path:
    """One cache file per runs root, beside the per-tag tails cache."""
    name = hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:16]
    return cache_path().with_name(f"runs-rows-v{VERSION}-{name}.json")


def load(root: Path, digest: str) -> list[dict[str, Any]] | None:
    """The cached rows of the listing with this digest, or None."""
    try:
        kept = json.loads(rows_path(root).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("digest") != digest:
        return None
    rows = kept.get("rows")
    return rows if isinstance(rows, list) else None


def save(root: Path, digest: str, rows: list[dict[str, Any]]) -> None:
    try:
        body = json.dumps({"digest": digest, "rows": rows}, allow_nan=False).encode()
        path = rows_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body)
    except (OSError, TypeError, ValueError):
        pass  # rows JSON cannot hold, or a cache we cannot write: only speed is lost
