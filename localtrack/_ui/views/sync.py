"""The Sync tab: per run and remote, what `localtrack sync --status` says, in the page.

`/api/sync/status` answers one row per (run, remote): synced / pending / never synced / needs
a person / retry later, the metric points and files the remote still lacks, the last error and
when it happened, who holds the run's upload lock now. Each row is the daemon's own
`RunReport` (localtrack_daemon/report.py, read-only), so the page and `sync --status` count
the same points.

The remotes are those named by the runs' sync state files (`<run>/sync/<remote>.json`) and
`MLFLOW_TRACKING_URI` of the `localtrack ui` process, each by its public URL (no user info).

Layers point down (DESIGN.md): the library never imports the sync daemon when it is imported.
The daemon is a sibling package of the same distribution, imported here only when the tab asks
for a status, as the `localtrack` command line imports its `sync` command; without it the
endpoint says how to get it back. Nothing is written: the state and lock files are only read.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from localtrack._store.layout import SYNC_DIR
from localtrack._ui.answer import Answer, error, json_answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View

VIEW = View("sync", "Sync", 95, "js/views/sync.js")

STATUSES = ("needs a person", "retry later", "never synced", "pending", "synced")
"""RunReport's statuses, the ones that need a look first."""
NO_DAEMON = (
    "the sync status needs localtrack's sync daemon (the localtrack_daemon package, installed "
    "with localtrack), which cannot be imported here: {why}; reinstall localtrack "
    "(`pip install localtrack`, or `pip install -e .` in a checkout)"
)
ROWS: dict[tuple[Any, ...], dict[str, Any]] = {}
"""Rows already read, by what they depend on (see `fingerprint`); a poll of 1,000 runs then
reads no Parquet footer of a run that did not change."""
ROWS_KEPT = 50_000
_rows_lock = threading.Lock()
UNNAMED = "http://localtrack-no-remote.invalid"
"""Stands for "no remote yet": no state file is named after it, so every run reads as never
synced and its pending points are all its points (they do not depend on the remote)."""


@dataclass(frozen=True)
class Daemon:
    """The daemon's modules this view reads with."""

    report: ModuleType
    state: ModuleType
    lock: ModuleType


def daemon_modules() -> Daemon:
    """The daemon's report, state and lock modules, imported now (never at library import)."""
    from localtrack_daemon import lock, report, state

    return Daemon(report, state, lock)


def env_remote() -> str | None:
    """MLFLOW_TRACKING_URI of this process when it names an http(s) server, else None."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri if uri.startswith(("http://", "https://")) else None


def state_remotes(run_dirs: list[Path]) -> set[str]:
    """The public URLs named by the runs' trusted-looking sync state files."""
    found: set[str] = set()
    for run_dir in run_dirs:
        try:
            files = sorted((run_dir / SYNC_DIR).glob("*.json"))
        except OSError:
            continue
        for path in files:
            try:
                remote = json.loads(path.read_bytes()).get("remote")
            except (OSError, ValueError, AttributeError):
                continue  # an untrusted file: `sync --status` of its remote says so
            if isinstance(remote, str) and remote.startswith(("http://", "https://")):
                found.add(remote)
    return found


def run_dirs(snap: Snapshot) -> list[tuple[dict[str, Any], Path]]:
    """The snapshot's runs (newest first, as the runs panel lists them) and their folders."""
    root = Path(snap.facts["root"])
    out = []
    for run in snap.facts["runs"]:
        if run.get("path"):
            out.append((run, root / run["path"]))
    return out


def row(d: Daemon, run: dict[str, Any], run_dir: Path, uri: str) -> dict[str, Any]:
    """One (run, remote) row: the daemon's RunReport and its state's last problem."""
    got = d.report.report(run_dir, uri)
    held = d.state.load_state(run_dir, uri, got.run_id)
    problem = held.problem
    conflicts = "; ".join(held.conflicts.values()) or None
    kind = problem.kind if problem is not None else ("needs_person" if conflicts else None)
    return {
        "run_id": got.run_id,
        "project": run.get("project"),
        "name": run.get("name"),
        "remote": None if uri == UNNAMED else d.state.public_url(uri),
        "status": got.status,
        "pending_points": got.pending_points,
        "pending_files": got.pending_files,
        "error": problem.message if problem is not None else conflicts,
        "error_kind": kind,
        "error_at": problem.at if problem is not None else None,
        "holder": got.holder or None,
        "mlflow_run_id": held.mlflow_run_id,
        "points_sent": held.points,
        "updated_at": held.updated_at or None,
        "detail": got.detail,
        "line": got.line(),
    }


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def fingerprint(d: Daemon, generation: int, run_dir: Path, uri: str) -> tuple[Any, ...] | None:
    """What a row depends on: the store's files (the snapshot generation changes with them)
    and the run's state file to this remote. None while its lock file exists: who holds it
    and whether the lease is still good change with the clock, so that row is read again."""
    if d.lock.lock_path(run_dir, uri).exists():
        return None
    return (generation, str(run_dir), uri, _stat(d.state.state_path(run_dir, uri)))


def cached_row(
    d: Daemon, snap: Snapshot, run: dict[str, Any], run_dir: Path, uri: str
) -> dict[str, Any]:
    key = fingerprint(d, snap.generation, run_dir, uri)
    with _rows_lock:
        found = ROWS.get(key) if key is not None else None
    if found is not None:
        return found
    made = row(d, run, run_dir, uri)
    if key is not None:
        with _rows_lock:
            if len(ROWS) >= ROWS_KEPT:
                ROWS.clear()
            ROWS[key] = made
    return made


def status_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    try:
        d = daemon_modules()
    except ImportError as e:
        return error(503, NO_DAEMON.format(why=str(e).splitlines()[0] if str(e) else repr(e)))
    started = time.monotonic()
    runs = run_dirs(snap)
    env = env_remote()
    first = [d.state.public_url(env)] if env else []
    found = {d.state.public_url(u) for u in state_remotes([path for _, path in runs])}
    order = first + sorted(found - set(first))
    rows = []
    for uri in order or [UNNAMED]:
        for run, run_dir in runs:
            try:
                rows.append(cached_row(d, snap, run, run_dir, uri))
            except FileNotFoundError:
                continue  # the run went away while it was read: the next poll drops it
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    return Answer(
        200,
        json_answer(
            {
                "remotes": order,
                "env_remote": first[0] if first else None,
                "statuses": list(STATUSES),
                "counts": counts,
                "rows": rows,
                "root": snap.facts["root"],
                "seconds": round(time.monotonic() - started, 4),
            }
        ).body,
        headers=[("Cache-Control", "no-store")],
    )


QUERIES = {"/api/sync/status": status_answer}
