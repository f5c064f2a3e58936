"""One listing of a store: for every stream, the live segment files of every run, each once.

A listing applies the reader rules of docs/FORMAT.md: only published `*.parquet` segment
names count, covered files are dropped (so a compaction in progress never doubles a row),
and a file that is not a whole Parquet file (no `PAR1` magic at both ends: truncated, or not
Parquet at all) is reported with a warning and skipped, never deleted. A run whose marker has
a newer format version is refused with FormatVersionError.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from localtrack._errors import FormatVersionError, LocaltrackWarning
from localtrack._query import pins
from localtrack._query.hive import HivePath
from localtrack._store.layout import (
    FORMAT_VERSION,
    MARKER_NAME,
    WRITERS_DIR,
    is_segment_name,
    live_segments,
    parse_segment_name,
)
from localtrack._store.liveness import process_verdict, read_lease, this_process
from localtrack._store.marker import Marker
from localtrack._store.runs import LEASE_STALE_SECS, find_runs
from localtrack._store.schema import STREAMS

RELIST_ATTEMPTS = 20
"""How often a stream folder is re-listed when files vanish while it is read (compaction)."""


class SkippedFileWarning(LocaltrackWarning):
    """A segment file could not be read and was left out of the query (it is not deleted)."""


@dataclass(frozen=True)
class RunEntry:
    """One run directory, its marker, and when a writer last touched a lease (None: never)."""

    path: Path
    marker: Marker
    lease: float | None = None
    runs_here: bool = False
    """A writer of the run that has not closed is a process running on this host now (its
    lease names it): alive whatever the wall clock says of its lease's age."""
    made: float | None = None
    """The marker's mtime as the listing found it (None: not looked at, or it vanished)."""

    def has_live_writer(self, now: float) -> bool:
        """Whether a writer may still be sealing (and compacting) segments of this run."""
        return self.runs_here or (self.lease is not None and now - self.lease < LEASE_STALE_SECS)


def lease_facts(run_dir: Path) -> tuple[float | None, bool]:
    """The mtime of the run's most recently touched writer lease (None without leases), and
    whether a lease with content (a writer not closed) names a process that runs here.
    Empty leases (closed writers, older writers) cost no read."""
    mtimes = []
    runs_here = False
    try:
        with os.scandir(run_dir / WRITERS_DIR) as entries:
            for e in entries:
                if e.name.endswith(".lease"):
                    try:
                        st = e.stat()
                    except FileNotFoundError:
                        continue
                    mtimes.append(st.st_mtime)
                    if st.st_size and not runs_here:
                        who = read_lease(Path(e.path))
                        runs_here = process_verdict(who, this_process()) is True
    except (FileNotFoundError, NotADirectoryError):
        pass
    return max(mtimes, default=None), runs_here


def newest_lease(run_dir: Path) -> float | None:
    """The mtime of the run's most recently touched writer lease, or None without leases."""
    return lease_facts(run_dir)[0]


def marker_mtime(run_dir: Path) -> float | None:
    """When the run's marker was written (None: it vanished)."""
    try:
        return (run_dir / MARKER_NAME).stat().st_mtime
    except FileNotFoundError:
        return None


@dataclass
class StoreListing:
    """What one look at the store found: runs, and the live files of each stream."""

    root: Path
    runs: list[RunEntry] = field(default_factory=list)
    files: dict[str, list[Path]] = field(default_factory=dict)
    skipped: list[Path] = field(default_factory=list)
    pinned: dict[Path, int] = field(default_factory=dict)
    """Descriptors held open on listed files (see pins.py); release() closes them."""
    handed_over: bool = False
    """True once a connection owns the descriptors (it closes them; release() does not)."""
    hive: dict[Path, str] = field(default_factory=dict)
    """Run folders whose files are read through a `run_id=` folder of the farm (hive.py), with
    what goes before a file's absolute path."""
    hive_reads: dict[str, str] = field(default_factory=dict, repr=False)
    """read_path's answers for files read through the farm (the lister fills it, or read_path
    once per file)."""

    def all_files(self) -> list[Path]:
        return [p for paths in self.files.values() for p in paths]

    def read_path(self, path: Path) -> str:
        """The path DuckDB reads `path` through: its pinned descriptor when there is one."""
        fd = self.pinned.get(path)
        if fd is not None:
            return pins.fd_path(fd)
        if not self.hive:
            return str(path)
        text = str(path)
        read = self.hive_reads.get(text)
        if read is None:
            prefix = self.hive.get(path.parent.parent)
            read = text if prefix is None else HivePath(prefix + os.path.abspath(path))
            self.hive_reads[text] = read
        return read

    def allowed_paths(self) -> list[str]:
        """Paths the connection may read: each file as DuckDB reads it, plus, for a pinned
        file, the name its descriptor resolves to once compaction deleted it (DuckDB checks
        permissions on the resolved name)."""
        allowed = [self.read_path(p) for p in self.all_files()]
        for fd in self.pinned.values():
            try:
                allowed.append(os.readlink(pins.fd_path(fd)) + " (deleted)")
            except OSError:
                pass
        return allowed

    def mentioned_in(self, message: str) -> list[Path]:
        """The listed files an error message names (by path or by pinned descriptor path)."""
        return [
            p
            for p in self.all_files()
            if re.search(re.escape(self.read_path(p)) + r"(?![0-9])", message) or str(p) in message
        ]

    def release(self) -> None:
        if not self.handed_over:
            pins.close_all(self.pinned.values())
            self.pinned.clear()


def looks_whole(path: Path) -> bool:
    """True when `path` starts and ends with the Parquet magic (a cheap check, no parsing)."""
    try:
        fd = pins.open_whole(path)
    except OSError:
        return False
    if fd is None:
        return False
    os.close(fd)
    return True


def read_run_marker(run_dir: Path) -> Marker:
    """The run's marker, refusing one written by a newer format version."""
    with open(run_dir / MARKER_NAME, encoding="utf-8") as f:
        marker: Marker = json.load(f)
    version = int(marker.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"run {run_dir} has localtrack format version {version}, newer than this "
            f"localtrack reads ({FORMAT_VERSION}); upgrade localtrack: pip install -U localtrack"
        )
    return marker


def stream_files(stream_dir: Path) -> list[Path]:
    """The live segment files of one stream folder (covered files dropped), sorted."""
    try:
        entries = os.listdir(stream_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if len(entries) == 1 and is_segment_name(entries[0]):  # most folders of finished runs
        return [stream_dir / entries[0]]
    names = [n for n in (parse_segment_name(e) for e in entries) if n is not None]
    return [stream_dir / n.filename for n in live_segments(names)]


def warn_skipped(path: Path, why: str) -> None:
    warnings.warn(
        f"localtrack: skipping {path}: {why} (the file is left in place)",
        SkippedFileWarning,
        stacklevel=3,
    )


def stream_dirs(run_dir: Path) -> list[str]:
    """Names of the run's stream folders that exist (one directory scan, no per-stream probe)."""
    try:
        with os.scandir(run_dir) as entries:
            return [e.name for e in entries if e.name in STREAMS and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_stream(
    stream_dir: Path, skipped: set[Path], pin: bool
) -> tuple[list[Path], dict[Path, int], list[Path]]:
    """The whole live files of one stream folder, their descriptors (when pinning), and the
    files found damaged. Files that vanish while being opened make the folder be listed
    again: compaction published their replacement, which the first listing may have missed."""
    for _ in range(RELIST_ATTEMPTS):
        good: list[Path] = []
        fds: dict[Path, int] = {}
        bad: list[Path] = []
        try:
            for path in stream_files(stream_dir):
                if path in skipped:
                    continue
                fd = pins.open_whole(path)
                if fd is None:
                    bad.append(path)
                    continue
                good.append(path)
                if pin:
                    fds[path] = fd
                else:
                    os.close(fd)
        except FileNotFoundError:
            pins.close_all(fds.values())
            continue
        return good, fds, bad
    raise OSError(f"{stream_dir} kept changing while it was listed; try again")


@dataclass
class RunListing:
    """What listing one run found (see list_store)."""

    run: RunEntry
    files: dict[str, list[Path]] = field(default_factory=dict)
    pinned: dict[Path, int] = field(default_factory=dict)
    bad: list[Path] = field(default_factory=list)


def list_run(run_dir: Path, skipped: set[Path], pin: bool, now: float) -> RunListing | None:
    """One run's marker, lease and live files (None when the run vanished meanwhile)."""
    try:
        marker = read_run_marker(run_dir)
    except FileNotFoundError:
        return None  # removed while we looked (localtrack rm)
    lease, runs_here = lease_facts(run_dir)
    found = RunListing(RunEntry(run_dir, marker, lease, runs_here, made=marker_mtime(run_dir)))
    pin = pin and found.run.has_live_writer(now)
    for stream in stream_dirs(run_dir):
        good, fds, bad = list_stream(run_dir / stream, skipped, pin)
        found.files[stream] = good
        found.pinned.update(fds)
        found.bad.extend(bad)
    return found


def list_store(
    root: Path, skip: Iterable[Path] = (), pin: bool = False, cache: bool = True
) -> StoreListing:
    """List every run under `root` and the live files of each stream, minus `skip`.

    With `cache` the listing goes through the listing cache (listing_cache.py: only folders
    that changed since the last listing are read); without it, every folder is read now.

    With `pin` (and where the system allows), the files of runs whose writers are alive are
    held open, so that they stay readable after the writer's own compaction deletes them;
    call release() when done. (A stopped writer's files only go away by `localtrack compact`
    or `localtrack rm`.) A file that is not whole Parquet is warned about and skipped.
    """
    skipped = set(skip)
    if cache:
        from localtrack._query.listing_cache import cached_listing  # it builds on this module

        return cached_listing(root, skipped, pin)
    pin = pin and pins.PINNING
    now = time.time()
    run_dirs = find_runs(root)

    # One thread: the work is short system calls and Python around them, which threads on a
    # GIL only slow down (1,000 runs: 0.16 s here, 0.5 s with four threads).
    found: list[RunListing | None] = []
    try:
        for run_dir in run_dirs:
            found.append(list_run(run_dir, skipped, pin, now))
    except BaseException:  # a newer format, say: close what the other runs opened
        for run in found:
            if run is not None:
                pins.close_all(run.pinned.values())
        raise
    listing = StoreListing(root=root, files={s: [] for s in STREAMS})
    for run in found:
        if run is None:
            continue
        listing.runs.append(run.run)
        for stream, paths in run.files.items():
            listing.files[stream].extend(paths)
        listing.pinned.update(run.pinned)
        for path in run.bad:
            warn_skipped(path, "not a whole Parquet file (truncated or corrupt)")
            listing.skipped.append(path)
    if listing.pinned and not pins.room_for(0):
        listing.release()  # too many files held open: read by path, retry if one vanishes
    return listing
