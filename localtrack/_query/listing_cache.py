"""A listing of the store kept outside it, so that a listing costs what changed, not what exists.

Listing a store from scratch opens every folder of every run and checks every segment file;
a store of 10,000 runs pays that at each `connect()`. This module keeps what one listing found
(docs/FORMAT.md "Listing cache") in one JSON file per runs root in the user's cache folder
($LOCALTRACK_CACHE_DIR, else $XDG_CACHE_HOME/localtrack, else ~/.cache/localtrack), never in
the store, so a read-only store lists as fast. The next listing `stat`s each folder it knew
and reuses what it found there while the folder's stamp (device, inode, mtime_ns, ctime_ns)
is unchanged: adding, renaming or removing an entry changes its folder's mtime and ctime, and
segments never change once published. Only changed folders are read again.

Trust rules, so that the cache never hides a change:

- A folder whose stamp is within RACY_SECS of the moment it was read is re-read next time
  (a second change within one timestamp tick would leave the stamp as it was: git's "racy"
  entries).
- A run with a writer that may be alive (a lease touched recently, or one that names a live
  process or a process on another host) has its leases and files listed afresh every time, its
  files pinned as without the cache (pins.py). Only settled runs are served from the cache.
- The file is written whole (temporary file, then rename), by whichever process listed last;
  a reader that finds it missing, unreadable, of another version or of another root lists from
  scratch. Several processes may read and write it at once: every entry is checked against
  the folder it describes before it is used, so an older or newer file is only slower.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from localtrack._query import pins
from localtrack._query.files import (
    RunEntry,
    StoreListing,
    list_stream,
    marker_mtime,
    read_run_marker,
    warn_skipped,
)
from localtrack._query.hive import HiveFarm, HivePath
from localtrack._store.layout import FORMAT_VERSION, MARKER_NAME, SYNC_DIR, WRITERS_DIR
from localtrack._store.liveness import process_verdict, read_lease, this_process
from localtrack._store.runs import LEASE_STALE_SECS
from localtrack._store.schema import STREAMS

VERSION = 1
"""Version of the cache file; another version is ignored and rewritten."""

RACY_SECS = 10.0
"""A folder changed this recently when it was read is read again next time. Wider than one
timestamp tick of any file system localtrack runs on (1 s on ext3, 2 s on FAT), with room for
a file server whose clock is a few seconds off ours."""

_NOT_RUN_CONTENT = frozenset(STREAMS) | {WRITERS_DIR, SYNC_DIR}

Stamp = list[int]
"""[st_dev, st_ino, st_mtime_ns, st_ctime_ns] of a folder."""

Node = dict[str, Any]
"""One folder's entry in the cache file (see `scan_dir`)."""

_NEW_STREAM: Node = {"s": None, "t": False, "f": [], "bad": []}


def cache_dir() -> Path:
    """The user's localtrack cache folder (the other caches' folder)."""
    from localtrack._query.last_values import cache_path

    return cache_path().parent


def cache_file(root: Path) -> Path:
    """The cache file of one runs root, named by a hash of the root's real path."""
    real = os.path.realpath(root)
    name = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_dir() / "listings" / f"listing-v{VERSION}-{name}.json"


def stamp_of(st: os.stat_result) -> Stamp:
    return [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def settled_stamp(st: os.stat_result, now: float) -> bool:
    """Whether a folder with this stat last changed long enough ago to be trusted unchanged
    while its stamp is (a stamp dated in the future is never trusted)."""
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    return changed < (now - RACY_SECS) * 1e9


def load(root: Path) -> dict[str, Node]:
    """The folders of the cache file of `root` by path relative to it ({} when there is no
    usable cache)."""
    try:
        with open(cache_file(root), "rb") as f:
            kept = json.loads(f.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if (
        not isinstance(kept, dict)
        or kept.get("format") != "localtrack-listing"
        or kept.get("version") != VERSION
        or kept.get("root") != os.path.realpath(root)
        or not isinstance(kept.get("dirs"), dict)
    ):
        return {}
    return {k: v for k, v in kept["dirs"].items() if isinstance(v, dict) and _valid(v)}


def _valid(node: Node) -> bool:
    """Whether an entry has the shape `scan_dir` writes (a damaged file lists afresh)."""
    stamp, sub, run = node.get("s"), node.get("sub"), node.get("run")
    if not (isinstance(stamp, list) and len(stamp) == 4 and isinstance(sub, list)):
        return False
    if run is None:
        return True
    return (
        isinstance(run, dict)
        and isinstance(run.get("marker"), dict)
        and isinstance(run.get("streams"), dict)
        and all(
            isinstance(s, dict) and isinstance(s.get("f"), list) and isinstance(s.get("bad"), list)
            for s in run["streams"].values()
        )
    )


def save(root: Path, dirs: dict[str, Node]) -> None:
    """Write the cache file whole, atomically; a folder we cannot write only costs speed."""
    path = cache_file(root)
    body = {
        "format": "localtrack-listing",
        "version": VERSION,
        "root": os.path.realpath(root),
        "dirs": dirs,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(body, f, separators=(",", ":"))
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            tmp.unlink()
        except OSError:
            pass


def lease_scan(run_dir: Path, now: float) -> tuple[float | None, bool, bool]:
    """files.lease_facts, plus whether the run is settled: no lease names a process that may
    be alive (one running here, or one on another host), and none was touched within
    LEASE_STALE_SECS (or is dated in the future). A settled run's leases are not read again
    while its `writers` folder keeps its stamp: a writer that joins creates a new lease."""
    mtimes = []
    runs_here = False
    settled = True
    try:
        with os.scandir(run_dir / WRITERS_DIR) as entries:
            for e in entries:
                if not e.name.endswith(".lease"):
                    continue
                try:
                    st = e.stat()
                except FileNotFoundError:
                    continue
                mtimes.append(st.st_mtime)
                if st.st_size:
                    verdict = process_verdict(read_lease(Path(e.path)), this_process())
                    runs_here = runs_here or verdict is True
                    settled = settled and verdict is False
    except (FileNotFoundError, NotADirectoryError):
        pass
    newest = max(mtimes, default=None)
    if newest is not None and newest > now - LEASE_STALE_SECS - RACY_SECS:
        settled = False
    return newest, runs_here, settled


class CachedLister:
    """One listing of `root` through its cache: reads the cache, lists what changed, and
    returns the StoreListing of list_store (the same runs and files, in the same order)."""

    def __init__(self, root: Path, skipped: set[Path], pin: bool, hive: bool = True) -> None:
        """`changed` says whether the cache file is worth writing again (see run())."""
        self.root = root
        self.skipped = skipped
        self.pin = pin and pins.PINNING
        self.now = time.time()
        self.old = load(root)
        self.new: dict[str, Node] = {}
        self.changed = False
        self.listing = StoreListing(root=root, files={s: [] for s in STREAMS})
        self.root_text = str(root)
        self.root_abs = os.path.abspath(root)
        self.farm = HiveFarm.open(cache_dir()) if hive else None

    def run(self) -> StoreListing:
        # The cache of a big store is hundreds of thousands of small objects, all kept: the
        # cyclic collector would scan them again and again while they are made, for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.walk()
        except BaseException:
            self.listing.release()
            raise
        finally:
            if collecting:
                gc.enable()
        # Saved when it learnt something the next listing can reuse: an entry it may trust, or
        # a folder gone. Folders that changed within RACY_SECS are read again anyway, so a
        # store with live writers is not rewritten at every look.
        if self.changed or not set(self.old) <= set(self.new):
            save(self.root, self.new)
        if self.listing.pinned and not pins.room_for(0):
            self.listing.release()  # too many files held open: read by path, retry if one vanishes
        return self.listing

    def walk(self) -> None:
        """find_runs, folder by folder, reusing the entries of folders that did not change."""
        runs: list[tuple[str, Node, bool]] = []
        stack = ["."]
        while stack:
            rel = stack.pop()
            node, reused = self.scan_dir(rel)
            if node is None:
                continue
            self.new[rel] = node
            if node["run"] is not None:
                runs.append((rel, node, reused))
            for name in node["sub"]:
                stack.append(name if rel == "." else f"{rel}/{name}")
        runs.sort(key=lambda r: [] if r[0] == "." else r[0].split("/"))  # find_runs' order
        for rel, node, reused in runs:
            self.add_run(rel, node, reused)

    def path(self, rel: str) -> Path:
        if rel == ".":
            return self.root
        path = self.root
        for part in rel.split("/"):
            path = child(path, part)
        return path

    def text(self, rel: str) -> str:
        """The folder's path as a string (cheaper than a Path where only the system sees it)."""
        return self.root_text if rel == "." else f"{self.root_text}/{rel}"

    def scan_dir(self, rel: str) -> tuple[Node | None, bool]:
        """This folder's entry (cached while its stamp holds, else read now), and whether it
        was reused; None when it cannot be read (find_runs skips it)."""
        d = self.text(rel)
        try:
            st = os.stat(d)
        except OSError:
            return None, False
        old = self.old.get(rel)
        if old is not None and old.get("t") and old["s"] == stamp_of(st):
            return old, True
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            return None, False
        is_run = any(e.name == MARKER_NAME for e in entries)
        sub = []
        streams = []
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir:
                continue
            if is_run and e.name in STREAMS:
                streams.append(e.name)
            if e.name.startswith(".") or (is_run and e.name in _NOT_RUN_CONTENT):
                continue
            sub.append(e.name)
        run = None
        if is_run:
            same_dir = old is not None and old["s"][:2] == stamp_of(st)[:2]
            prev = old.get("run") if same_dir and old is not None else None
            run = self.read_run(self.path(rel), prev, sorted(streams))
        node: Node = {"s": stamp_of(st), "t": settled_stamp(st, self.now), "sub": sub, "run": run}
        if node != old and node["t"]:
            self.changed = True
        return node, False

    def read_run(self, d: Path, prev: Node | None, streams: list[str]) -> Node | None:
        """A run folder's marker and stream folders, as its entry holds them; a marker seen
        before in the same folder (same inode) is not read again: markers are never rewritten."""
        if prev is not None:
            marker, made = prev["marker"], prev.get("made")
        else:
            try:
                marker = read_run_marker(d)
            except FileNotFoundError:
                return None  # removed while we looked (localtrack rm)
            made = marker_mtime(d)
        old_streams = prev["streams"] if prev is not None else {}
        return {
            "marker": marker,
            "made": made,
            "writers": prev.get("writers") if prev is not None else None,
            "lease": prev.get("lease") if prev is not None else None,
            "settled": False,  # the folder changed: read the leases again
            "streams": {s: old_streams.get(s) or dict(_NEW_STREAM) for s in streams},
        }

    def add_run(self, rel: str, node: Node, reused: bool) -> None:
        """Bring the run's leases and stream folders up to date, and add it to the listing.
        Leases are read again whenever the run folder or one of its stream folders changed
        (something wrote to the run), or when they may belong to a live writer."""
        run = node["run"]
        d = self.path(rel)
        text = self.text(rel)
        if int(run["marker"].get("format_version", 1)) > FORMAT_VERSION:
            read_run_marker(d)  # raises FormatVersionError with the fix
        stats = {s: _stat(f"{text}/{s}") for s in run["streams"]}
        same = {s: _same(kept, stats[s]) for s, kept in run["streams"].items()}
        moved = not reused or not all(same.values())
        lease, runs_here = self.update_leases(d, text, run, moved)
        made = run.get("made")
        if made is None or made > self.now - LEASE_STALE_SECS - RACY_SECS:
            made = run["made"] = marker_mtime(d)  # the run is new: its marker age matters
        entry = RunEntry(d, run["marker"], lease, runs_here, made=made)
        live = entry.has_live_writer(self.now)
        prefix = None
        if not live and self.farm is not None:
            absolute = self.root_abs if rel == "." else f"{self.root_abs}/{rel}"
            prefix = self.farm.prefix(absolute, str(run["marker"].get("run_id", "")))
            if prefix is not None:
                self.listing.hive[d] = prefix
                prefix += absolute
        for stream, kept in run["streams"].items():
            cached = not live and same[stream]
            self.add_stream(child(d, stream), kept, stats[stream], cached, live, prefix)
        self.listing.runs.append(entry)

    def update_leases(
        self, d: Path, text: str, run: Node, moved: bool
    ) -> tuple[float | None, bool]:
        """The run's newest lease mtime and whether a writer runs here (files.lease_facts),
        from the cache while the run is settled and nothing in it moved."""
        st = _stat(f"{text}/{WRITERS_DIR}")
        stamp = None if st is None else stamp_of(st)
        trusted = st is None or settled_stamp(st, self.now)
        if not moved and run.get("settled") and run.get("writers") == stamp and trusted:
            return run.get("lease"), False
        lease, runs_here, settled = lease_scan(d, self.now)
        new = {"writers": stamp, "lease": lease, "settled": settled and trusted}
        if any(run.get(k) != v for k, v in new.items()):
            run.update(new)
            self.changed = self.changed or bool(new["settled"])
        return lease, runs_here

    def add_stream(
        self,
        sd: Path,
        kept: Node,
        st: os.stat_result | None,
        cached: bool,
        live: bool,
        hive: str | None,
    ) -> None:
        """One stream folder's live files: the cached names when `cached` (its stamp holds and
        no writer of the run may be compacting it), else listed (and, for a live run, pinned)
        now. With `hive` (what goes before `/<stream>/<file>`), their hive read paths too."""
        if cached:
            names: list[str] = kept["f"]
            good = [child(sd, n) for n in names]
            bad = [child(sd, n) for n in kept["bad"]] if kept["bad"] else []
            fds: dict[Path, int] = {}
        else:
            good, fds, bad = list_stream(sd, set(), self.pin and live)
            names = [p.name for p in good]
            new = {
                "s": None if st is None else stamp_of(st),
                "t": st is not None and settled_stamp(st, self.now),
                "f": names,
                "bad": [p.name for p in bad],
            }
            if new != kept:
                kept.clear()
                kept.update(new)
                # a live run's entries are not reused until it settles: no reason to save
                self.changed = self.changed or (bool(new["t"]) and not live)
        if self.skipped:
            for path in [p for p in good if p in self.skipped]:
                fd = fds.pop(path, None)
                if fd is not None:
                    os.close(fd)
            kept_paths = [(p, n) for p, n in zip(good, names, strict=True) if p not in self.skipped]
            good, names = [p for p, _ in kept_paths], [n for _, n in kept_paths]
        self.listing.files[sd.name].extend(good)
        if hive is not None and not fds:
            base = f"{hive}/{sd.name}/"
            text = f"{sd}/"
            read = self.listing.hive_reads
            for name in names:
                read[text + name] = HivePath(base + name)
        self.listing.pinned.update(fds)
        for path in bad:
            if path in self.skipped:
                continue
            warn_skipped(path, "not a whole Parquet file (truncated or corrupt)")
            self.listing.skipped.append(path)


_make_child = getattr(Path, "_make_child_relpath", None)


def child(path: Path, name: str) -> Path:
    """`path / name` for a plain file name, without pathlib's parsing where Python allows
    (a third of the cost: a listing makes one per segment file)."""
    if _make_child is not None:
        made = _make_child(path, name)
        if isinstance(made, Path):
            return made
    return path / name


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _same(kept: Node, st: os.stat_result | None) -> bool:
    """Whether a cached stream folder entry still describes the folder with stat `st`."""
    return bool(kept.get("t")) and st is not None and kept.get("s") == stamp_of(st)


def cached_listing(root: Path, skipped: set[Path], pin: bool) -> StoreListing:
    """list_store through the cache (see the module docstring)."""
    return CachedLister(root, skipped, pin).run()
