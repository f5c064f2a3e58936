"""The server's current read-only snapshot of the store, refreshed by one background thread.

One thread looks at the store at most every REFRESH_SECS (slower when a look itself is slow):
first at its folders' mtimes (stamps.py), and only when one changed, a lease or a marker may
have gone stale, or a writer is live, it lists the store; it builds a new
`connect()`-style connection only when the listing changed: a file appeared or vanished, a
writer's lease went stale, a marker aged. Each new snapshot gets the
next generation number and its prepared facts (the runs table, per-tag tails), computed once
there and never per request. A request holds the snapshot current when it starts; a
replaced snapshot is closed once the last request holding it is done. For /api/live the
thread records, per run, the generation at which its scalar files last changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from localtrack._query.connect import USER_ERRORS, build_connection, damaged_files
from localtrack._query.files import StoreListing, list_store, marker_mtime
from localtrack._query.views import ident
from localtrack._store.runs import LEASE_STALE_SECS
from localtrack._ui.stamps import store_stamps

REFRESH_SECS = 0.25
LIVE_REBUILD_SECS = 5.0
"""With a live writer, a snapshot is rebuilt this often even if no file changed (status)."""
MEMORY_LIMIT = "128MB"
"""DuckDB's memory limit on the snapshot connection: the server's memory stays flat."""

THREADS = max(1, min(os.cpu_count() or 1, 8))
"""DuckDB's threads: every core up to 8 (a 10M-point series needs about 0.5 CPU-second;
more threads mostly add per-thread memory)."""

QUICK_FIRST = 200
"""With more scalars files than this, the first snapshot is made without per-tag tails (a
first scan of a big store takes seconds) and the full one follows at once."""

FULL_AFTER_SECS = 0.4
"""How long the full snapshot waits after the quick first one is published: a first page's
tags and series requests (tens of ms each) then do not share two cores with its build."""

Prepare = Callable[[duckdb.DuckDBPyConnection, StoreListing, bool], dict[str, Any]]
"""Makes a snapshot's facts; with False only what is quick (the first snapshot: `partial`)."""


def run_ids_by_dir(listing: StoreListing) -> dict[Path, str]:
    return {r.path: str(r.marker["run_id"]) for r in listing.runs}


def scalar_files(listing: StoreListing, stream: str = "scalars") -> dict[str, list[Path]]:
    """Each run's live files of `stream` (listed paths)."""
    by_dir = run_ids_by_dir(listing)
    out: dict[str, list[Path]] = {run: [] for run in by_dir.values()}
    for path in listing.files.get(stream, []):
        run = by_dir.get(path.parent.parent)
        if run is not None:
            out[run].append(path)
    return out


def listing_key(listing: StoreListing, now: float) -> tuple[Any, ...]:
    """What a rebuild depends on: every listed file, and each run's lease and marker age."""
    runs = tuple(
        (
            str(r.marker["run_id"]),
            str(r.path),
            r.has_live_writer(now),
            (marker_mtime(r.path) or 0.0) > now - LEASE_STALE_SECS,
        )
        for r in listing.runs
    )
    return runs, frozenset(listing.all_files())


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc; elsewhere nothing): a
    replaced snapshot's connection frees tens of MB that would otherwise stay resident."""
    if _TRIM is not None:
        _TRIM(0)


def share_registered(con: duckdb.DuckDBPyConnection) -> None:
    """Copy the Arrow tables `build_connection` registered (markers, live status, empty
    streams) into in-memory tables of the same names, so that cursors, which do not see a
    connection's registered objects, read every view too."""
    names = con.sql(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    for (name,) in names:
        quoted = ident(name)
        staged = ident(name + "__shared")
        con.execute(f"CREATE TABLE {staged} AS SELECT * FROM {quoted}")
        con.unregister(name)
        con.execute(f"ALTER TABLE {staged} RENAME TO {quoted}")


def recheck_at(listing: StoreListing, now: float) -> float:
    """When time alone may change what the listing says: the next moment a live lease or a
    fresh marker goes stale (a run's status then changes)."""
    moments = []
    for r in listing.runs:
        if r.lease is not None and now - r.lease < LEASE_STALE_SECS:
            moments.append(r.lease + LEASE_STALE_SECS)
        made = marker_mtime(r.path)
        if made is not None and now - made < LEASE_STALE_SECS:
            moments.append(made + LEASE_STALE_SECS)
    return min(moments, default=float("inf"))


@dataclass
class Snapshot:
    """One connection over one listing, with what was prepared for it."""

    generation: int
    con: duckdb.DuckDBPyConnection
    release: Callable[[], object]
    files: dict[str, list[str]]
    """Each run's scalars files as DuckDB reads them."""
    file_keys: dict[str, tuple[str, ...]]
    """Each run's scalars files by name (segments never change once published, so equal
    names mean equal rows: a cache key)."""
    streams: dict[str, dict[str, list[str]]]
    """Every stream's files of each run that has some, as DuckDB reads them (the run page)."""
    facts: dict[str, Any]
    built_at: float
    users: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        self.con.close()
        self.release()


class Snapshots:
    """The current snapshot of `root`, kept fresh by one daemon thread (start/stop)."""

    def __init__(self, root: Path, prepare: Prepare, interval: float = REFRESH_SECS) -> None:
        self.root = root
        self.prepare = prepare
        self.interval = interval
        self.generation = 0
        self.error: str | None = None
        self.changed_at: dict[str, int] = {}
        """Run id → generation at which its scalars files last changed."""
        self.runs_changed_at = 0
        self._scalar_keys: dict[str, frozenset[Path]] = {}
        self._states: dict[str, str] = {}
        self._key: tuple[Any, ...] | None = None
        self._stamps: frozenset[tuple[str, int]] | None = None
        self._recheck_at = 0.0
        self._live = False
        self._forced = False
        self._current: Snapshot | None = None
        self._skipped: set[Path] = set()
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="localtrack-ui-snapshots")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._cond:
            snap, self._current = self._current, None
        if snap is not None:
            self._retire(snap)

    def refresh(self, timeout: float = 10.0) -> None:
        """Ask for a fresh listing now and wait until it was taken (a file vanished, say)."""
        with self._cond:
            seen = self._listed
            self._forced = True
            self._wake.set()
            self._cond.wait_for(lambda: self._listed != seen or self._stopping.is_set(), timeout)

    _listed = 0

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._refresh_once()
            except Exception as e:  # keep serving the last good snapshot
                with self._cond:
                    self.error = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                    self._cond.notify_all()
            with self._cond:
                self._listed += 1
                self._cond.notify_all()
            took = time.monotonic() - started
            current = self._current
            partial = current is not None and current.facts.get("partial")
            # the full snapshot follows the quick first one, once the page's first requests
            # (tags and series of a few runs) had the cores to themselves
            self._wake.wait(FULL_AFTER_SECS if partial else max(self.interval, 2 * took))
            self._wake.clear()

    def _refresh_once(self) -> None:
        now = time.time()
        stamps = store_stamps(self.root)
        current = self._current
        partial = current is not None and current.facts.get("partial", False)
        due = self._forced or partial or now >= self._recheck_at
        due = due or (
            self._live and current is not None and now - current.built_at > LIVE_REBUILD_SECS
        )
        # a folder changed within the last second may change again within one mtime tick
        recent = any(mtime > (now - 1.0) * 1e9 for _, mtime in stamps)
        if stamps == self._stamps and current is not None and not due and not recent:
            return  # no folder changed and nothing went stale since the last listing
        self._forced = False
        listing = list_store(self.root, self._skipped, pin=True)
        try:
            key = listing_key(listing, now)
            self._live = any(r.has_live_writer(now) for r in listing.runs)
            self._recheck_at = recheck_at(listing, now)
            stale = (
                current is not None and self._live and now - current.built_at > LIVE_REBUILD_SECS
            )
            if key == self._key and not stale and not partial:
                self._stamps = stamps
                return
            snap = self._build(listing, now)
        finally:
            listing.release()  # no-op once the connection owns the descriptors
        self._key, self._stamps = key, stamps
        self._publish(snap, listing)

    def _build(self, listing: StoreListing, now: float) -> Snapshot:
        con, release = build_connection(listing)
        try:
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute(f"SET threads = {THREADS}")
            share_registered(con)
            quick = self._current is None and len(listing.files.get("scalars", ())) > QUICK_FIRST
            facts = self.prepare(con, listing, not quick)
        except duckdb.Error as e:
            con.close()
            release()
            if not isinstance(e, USER_ERRORS):
                bad, _vanished = damaged_files(str(e), listing)
                self._skipped.update(bad)
            raise
        except BaseException:
            con.close()
            release()
            raise
        files, keys, streams = listed_files(listing)
        return Snapshot(self.generation + 1, con, release, files, keys, streams, facts, now)

    def _publish(self, snap: Snapshot, listing: StoreListing) -> None:
        keys = {run: frozenset(paths) for run, paths in scalar_files(listing).items()}
        states = dict(snap.facts.get("states", {}))
        g = snap.generation
        with self._cond:  # live() reads these from request threads
            for run, k in keys.items():
                if self._scalar_keys.get(run) != k:
                    self.changed_at[run] = g
            for run in set(self.changed_at) - set(keys):
                del self.changed_at[run]
            previous = self._current
            if states != self._states or (previous is not None and previous.facts.get("partial")):
                self.runs_changed_at = g  # a status changed, or last steps arrived
            self._scalar_keys, self._states = keys, states
            old, self._current = self._current, snap
            self.generation = g
            self.error = None
            self._cond.notify_all()
        if old is not None:
            self._retire(old)
        trim_heap()

    def _retire(self, snap: Snapshot) -> None:
        with snap.lock:
            snap.retired = True
            idle = snap.users == 0
        if idle:
            snap.close()

    def wait_ready(self, timeout: float = 60.0) -> Snapshot | None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._current is not None or self.error is not None, timeout
            )
            return self._current

    @contextlib.contextmanager
    def hold(self, timeout: float = 60.0) -> Iterator[Snapshot]:
        """The current snapshot, kept open until the block ends (RuntimeError: none yet)."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._current is not None or self.error is not None, timeout
            )
            snap = self._current
            if snap is None:
                raise RuntimeError(self.error or "the store's first snapshot is not ready")
            with snap.lock:
                snap.users += 1
        try:
            yield snap
        finally:
            with snap.lock:
                snap.users -= 1
                idle = snap.retired and snap.users == 0
            if idle:
                snap.close()

    def live(self, since: int) -> dict[str, Any]:
        """What changed after generation `since` (docs/UI.md, /api/live)."""
        with self._cond:
            g = self.generation
            reset = since < 0 or since > g
            changed = sorted(r for r, at in self.changed_at.items() if at > since)
            return {
                "generation": g,
                "changed": [] if reset else changed,
                "runs_changed": reset or self.runs_changed_at > since,
                "reset": reset,
            }

    @contextlib.contextmanager
    def cursor(self, timeout: float = 60.0) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
        """A cursor of the current snapshot for one request thread, closed afterwards."""
        with self.hold(timeout) as snap:
            cur = snap.con.cursor()
            try:
                yield snap, cur
            finally:
                cur.close()


def query_with_retry(
    snapshots: Snapshots, work: Callable[[Snapshot, duckdb.DuckDBPyConnection], Any]
) -> Any:
    """Run `work` on a cursor; when a file vanished under it (compaction), once more on a fresh
    snapshot."""
    try:
        with snapshots.cursor() as (snap, cur):
            return work(snap, cur)
    except duckdb.Error as e:
        if isinstance(e, USER_ERRORS):
            raise
    snapshots.refresh()
    with snapshots.cursor() as (snap, cur):
        return work(snap, cur)


def listed_files(
    listing: StoreListing,
) -> tuple[dict[str, list[str]], dict[str, tuple[str, ...]], dict[str, dict[str, list[str]]]]:
    """A snapshot's file maps: each run's scalars files (read paths), their identity (the
    sorted paths, which key cached answers), and each stream's files per run."""
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
    return files, keys, streams
