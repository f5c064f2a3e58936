"""A writer's own compaction, on its own thread, so sealing never waits behind a merge.

The sealer reports each published segment; this thread merges the newest FANOUT segments of
one level into one (publish first, delete the inputs DELETE_GRACE_SECS later), keeping a
writer's files per stream at most (FANOUT - 1) per level. close() cancels a merge in flight
(its temporary file is removed; its inputs stay, so nothing is lost) and deletes what is due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from localtrack._store.compaction import delete_segments, merge_segments, plan_tail_merge
from localtrack._store.layout import SegmentName
from localtrack._store.schema import STREAMS

DELETE_GRACE_SECS = 5.0
"""Compacted inputs stay this long so queries that listed them can finish reading."""


class MergeCancelled(Exception):
    """close() asked the compactor to stop in the middle of a merge."""


class Compactor:
    def __init__(self, run_dir: Path, on_io_error: Callable[[OSError], None]) -> None:
        self.run_dir = run_dir
        self._on_io_error = on_io_error
        self._mine: dict[str, list[SegmentName]] = {s: [] for s in STREAMS}
        self._lock = threading.Lock()  # guards _mine; never held across I/O
        self._doomed: list[tuple[float, str, list[SegmentName]]] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="localtrack-compactor", daemon=True)
        self._thread.start()

    def published(self, stream: str, name: SegmentName) -> None:
        with self._lock:
            self._mine[stream].append(name)
        if not self._wake.is_set():
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                for stream in STREAMS:
                    self._compact(stream)
                self._delete_doomed()
            except MergeCancelled:
                return
            except OSError as exc:
                self._on_io_error(exc)
            except Exception as exc:  # compaction is an optimisation: never take the writer down
                self._on_io_error(OSError(f"compaction failed: {exc!r}"))

    def _compact(self, stream: str) -> None:
        while not self._stopping:
            with self._lock:
                group = plan_tail_merge(list(self._mine[stream]))
            if group is None:
                return
            merged = merge_segments(self.run_dir, stream, group, self._check_cancelled)
            with self._lock:
                mine = self._mine[stream]
                start = mine.index(group[0])
                mine[start : start + len(group)] = [merged]
            self._doomed.append((time.monotonic() + DELETE_GRACE_SECS, stream, group))

    def _check_cancelled(self) -> None:
        if self._stopping:
            raise MergeCancelled

    def _delete_doomed(self, everything: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for deadline, stream, group in self._doomed:
            if everything or deadline <= now:
                delete_segments(self.run_dir, stream, group)
            else:
                keep.append((deadline, stream, group))
        self._doomed = keep

    def close(self) -> None:
        """Stop merging (cancelling a merge in flight) and delete the inputs already merged."""
        self._stopping = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._delete_doomed(everything=True)
