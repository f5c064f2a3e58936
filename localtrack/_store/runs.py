"""Finding runs under a root and deriving a run's status from its events and writer leases.

Status rules (docs/FORMAT.md "Run status"): a writer that started and never finished is alive
while its process runs (on this host, by the identity in its lease) or, elsewhere, while its
lease is fresh (liveness.py: no wall-clock jump turns a live writer into a crashed one);
otherwise the run crashed.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from localtrack._store.layout import MARKER_NAME, SYNC_DIR, WRITERS_DIR, lease_path
from localtrack._store.liveness import (
    LeaseWatch,
    ProcessIdentity,
    fresh_by_wall_clock,
    process_verdict,
    read_lease,
    this_process,
)
from localtrack._store.schema import STREAMS
from localtrack._store.segments import read_stream

LEASE_TOUCH_SECS = 5.0
"""How often a live writer touches its lease."""

LEASE_STALE_SECS = 30.0
"""A lease untouched for this long belongs to a writer that is gone."""

_NOT_RUN_CONTENT = frozenset(STREAMS) | {WRITERS_DIR, SYNC_DIR}


def find_runs(root: Path) -> list[Path]:
    """Every run directory under `root` (itself included), at any depth, sorted."""
    found: list[Path] = []
    stack = [Path(root)]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        is_run = any(e.name == MARKER_NAME for e in entries)
        if is_run:
            found.append(d)
        for e in entries:
            if e.name.startswith(".") or (is_run and e.name in _NOT_RUN_CONTENT):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
    return sorted(found)


@dataclass(frozen=True)
class WriterState:
    """What the events stream says of one writer of a run."""

    writer: str
    host: str | None
    pid: int | None
    started: bool
    finish_status: str | None


def writer_states(run_dir: Path) -> list[WriterState]:
    table = read_stream(run_dir, "events")
    if table is None:
        return []
    states: dict[str, WriterState] = {}
    rows = table.select(["writer", "kind", "status", "host", "pid"]).to_pylist()
    for row in rows:
        w = row["writer"]
        prev = states.get(w, WriterState(w, row["host"], row["pid"], False, None))
        if row["kind"] == "start":
            prev = WriterState(w, row["host"], row["pid"], True, prev.finish_status)
        elif row["kind"] == "finish":
            prev = WriterState(w, prev.host, prev.pid, prev.started, row["status"] or "finished")
        states[w] = prev
    return list(states.values())


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lease_alive(
    path: Path, identity: ProcessIdentity | None, now: float | None, watch: LeaseWatch | None
) -> bool | None:
    """What one lease file (holding `identity`) says: alive, gone, or None when missing."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    verdict = process_verdict(identity, this_process())
    if verdict is not None:  # a process on this host: alive exactly while it runs
        return verdict
    wall_now = time.time() if now is None else now
    if watch is not None:
        return not watch.stale(path, mtime, wall_now - mtime)
    return fresh_by_wall_clock(mtime, wall_now, LEASE_STALE_SECS)


def writer_alive(
    run_dir: Path,
    state: WriterState,
    now: float | None = None,
    watch: LeaseWatch | None = None,
) -> bool:
    """True while an unfinished writer still looks alive: its process on this host runs
    (checked against the identity its lease holds, so a reused pid does not count), or its
    lease is fresh (by `watch`, an observer's monotonic clock, when given; else by `now`)."""
    if state.finish_status is not None:
        return False
    path = lease_path(run_dir, state.writer)
    identity = read_lease(path)
    here = state.host == socket.gethostname() and state.pid is not None
    if identity is None and here and not _pid_exists(state.pid or 0):
        return False  # an older writer (its lease holds no identity) whose pid is gone
    return bool(_lease_alive(path, identity, now, watch))


def _any_fresh_lease(run_dir: Path, now: float | None, watch: LeaseWatch | None) -> bool:
    """A writer touched its lease recently, or runs here (or the run was created moments ago)."""
    paths = [*(run_dir / WRITERS_DIR).glob("*.lease")]
    if any(_lease_alive(path, read_lease(path), now, watch) for path in paths):
        return True
    try:
        mtime = (run_dir / MARKER_NAME).stat().st_mtime
    except FileNotFoundError:
        return False
    wall_now = time.time() if now is None else now
    if watch is not None:
        return not watch.stale(run_dir / MARKER_NAME, mtime, wall_now - mtime)
    return fresh_by_wall_clock(mtime, wall_now, LEASE_STALE_SECS)


def run_status(run_dir: Path, now: float | None = None, watch: LeaseWatch | None = None) -> str:
    """'running', 'crashed', 'failed' or 'finished', by the rules of docs/FORMAT.md.

    `now` is a one-shot reader's wall clock; `watch`, a long-lived observer's memory of the
    leases (stale once unchanged for LEASE_STALE_SECS of its monotonic clock). Neither
    matters for a writer on this host: its process decides.
    """
    states = writer_states(run_dir)
    if not states:  # killed between creating the marker and sealing its start event?
        return "running" if _any_fresh_lease(run_dir, now, watch) else "crashed"
    unfinished = [s for s in states if s.finish_status is None]
    if unfinished:
        if any(writer_alive(run_dir, s, now, watch) for s in unfinished):
            return "running"
        return "crashed"
    if any(s.finish_status != "finished" for s in states):
        return "failed"
    return "finished"
