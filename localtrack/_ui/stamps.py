"""A cheap look at whether a store may have changed: the mtimes of its directories.

Publishing a segment (a rename into its stream folder), compaction (a rename, then
unlinks), a new run, stream, writer lease or marker all change the mtime of a directory
this walk stats, so equal stamps mean the last listing still holds, except for what time
alone changes (a lease or a marker going stale), which the caller tracks. The walk reads
no file: one scandir per directory and one stat per stream folder, where a full listing
opens every segment.
"""

from __future__ import annotations

import os
from pathlib import Path

from localtrack._store.layout import MARKER_NAME, SYNC_DIR, WRITERS_DIR
from localtrack._store.schema import STREAMS

RUN_FOLDERS = frozenset(STREAMS) | {WRITERS_DIR}
"""A run's folders whose changes matter to the dashboard (not sync state)."""
SKIPPED = frozenset({SYNC_DIR})


def store_stamps(root: Path) -> frozenset[tuple[str, int]]:
    """(path, mtime_ns) of every directory on the way to each run, each run, and each of
    its stream and writer folders."""
    out: list[tuple[str, int]] = []
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
            out.append((folder, os.stat(folder).st_mtime_ns))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        is_run = any(e.name == MARKER_NAME for e in entries)
        for e in entries:
            if e.name.startswith(".") or (e.name in SKIPPED and is_run):
                continue
            try:
                if not e.is_dir(follow_symlinks=False):
                    continue
                if is_run and e.name in RUN_FOLDERS:
                    out.append((e.path, e.stat(follow_symlinks=False).st_mtime_ns))
                    continue
            except FileNotFoundError:
                continue
            stack.append(e.path)
    return frozenset(out)
