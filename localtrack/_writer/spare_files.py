"""Empty files made ahead of need, so flush() on the caller's thread never creates a file.

Creating a file waits on the file system's journal: ~0.2 ms on a quiet ext4 disk and several
milliseconds while other processes fsync. A daemon thread keeps up to `keep` (8) empty,
hidden (`.…spare.tmp`, which readers never list) files open and ready in each folder flush()
wrote to (a descriptor each: writing into an open file is what makes flush() cheap); flush()
writes a segment into one and renames it into place. close() removes the unused ones; after
a SIGKILL at most `keep` empty hidden files per folder are left behind.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class SpareFiles:
    def __init__(self, prefix: str, keep: int = 8) -> None:
        self._prefix = prefix
        self._keep = keep
        self._free: dict[Path, list[tuple[int, Path]]] = {}
        self._lock = threading.Lock()  # guards _free; never held across I/O
        self._wake = threading.Event()
        self._stopping = False
        self._made = 0
        self._thread: threading.Thread | None = None

    def take(self, folder: Path) -> tuple[int, Path] | None:
        """An open, empty file in `folder` and its path, or None when none is ready yet."""
        with self._lock:
            free = self._free.setdefault(folder, [])
            item = free.pop() if free else None
            low = len(free) <= self._keep // 2
        if low and not self._stopping:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="localtrack-spares", daemon=True
                )
                self._thread.start()
            if not self._wake.is_set():
                self._wake.set()
        return item

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(1.0)
            self._wake.clear()
            with self._lock:
                wanted = [(f, self._keep - len(free)) for f, free in self._free.items()]
            for folder, count in wanted:
                for _ in range(count):
                    if self._stopping or not self._make(folder):
                        break

    def _make(self, folder: Path) -> bool:
        self._made += 1
        path = folder / f".{self._prefix}-{self._made}.spare.tmp"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:  # the folder is gone (or not made yet): ask again on the next take()
            with self._lock:
                self._free.pop(folder, None)
            return False
        with self._lock:
            self._free.setdefault(folder, []).append((fd, path))
        return True

    def close(self) -> None:
        """Stop making files and remove the unused ones."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            items = [item for free in self._free.values() for item in free]
            self._free.clear()
        for fd, path in items:
            os.close(fd)
            try:
                path.unlink()
            except OSError:
                pass
