"""File-system events under the runs root, as hints of which run changed (a rescan is the truth).

A watchdog observer reports any created, moved or modified path; the run it belongs to is the
nearest folder above it holding a run marker. Events are never needed for correctness: the
daemon rescans the whole root periodically and after it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from localtrack._store.layout import MARKER_NAME, SYNC_DIR

CHANGES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileMovedEvent,  # a segment published: tmp renamed into place
    FileClosedEvent,  # a file written in place (a marker), once, when closed
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]
"""The events the daemon listens to. Not opens, reads and closes without writing: the daemon's
own reads of 1,000 runs would flood the kernel's event queue, and its overflow makes watchdog
re-walk the tree and report every folder, which made the daemon re-read every run: a loop at
100 % CPU. Not modifications either (one per write call; the close after them says enough),
nor attribute changes (writers touch their leases every 5 s)."""


def run_of(path: Path, root: Path) -> Path | None:
    """The run directory that `path` lies in (or is), or None."""
    for d in (path, *path.parents):
        if (d / MARKER_NAME).exists():
            return d
        if d == root or len(d.parts) <= len(root.parts):
            return None
    return None


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, hint: Callable[[Path | None], None]) -> None:
        self.root = root
        self.hint = hint

    def on_any_event(self, event: FileSystemEvent) -> None:
        raw = event.dest_path or event.src_path
        path = Path(raw if isinstance(raw, str) else raw.decode())
        if path.name.endswith(".tmp") or SYNC_DIR in path.parts[-3:-1]:
            return  # our own state writes, or files not yet published
        if path.name.endswith(".lease"):
            return  # heartbeats change nothing to upload
        self.hint(run_of(path if event.is_directory else path.parent, self.root))


class Watcher:
    """Calls `hint(run_dir)` (or `hint(None)`: rescan) when something changes under `root`."""

    def __init__(self, root: Path, hint: Callable[[Path | None], None]) -> None:
        self.root = root
        self._observer = Observer()
        self._observer.daemon = True
        self._observer.schedule(
            _Handler(root, hint), str(root), recursive=True, event_filter=CHANGES
        )

    def start(self) -> bool:
        """Start watching; False when the platform refuses (the periodic rescan still works)."""
        try:
            self._observer.start()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=2)
