"""Pinned segment files: a listed file stays readable while a connection lives, even deleted.

Compaction deletes the files it merged. A connection that listed them before would then fail;
so, where the system offers it (Linux `/proc/self/fd`), each listed file is opened once at
listing time and DuckDB reads it through `/proc/self/fd/<n>`, which reaches the file's data
for as long as the descriptor stays open, whatever happens to its name. Descriptors are
closed when the connection is closed or garbage-collected. Elsewhere files are read by path
and a query that meets a vanished file is retried on a fresh listing.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from pathlib import Path

MAGIC = b"PAR1"

FD_DIR = Path("/proc/self/fd")

PINNING = FD_DIR.is_dir()
"""Whether this system can read a file through a descriptor's /proc path."""

_FD_HEADROOM = 256
"""Descriptors always left free for everything else the process does."""


def open_whole(path: Path) -> int | None:
    """A read-only descriptor on `path` when it starts and ends with the Parquet magic, else None.

    Raises FileNotFoundError when the file vanished since it was listed.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if size >= 12 and os.pread(fd, 4, 0) == MAGIC and os.pread(fd, 4, size - 4) == MAGIC:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def fd_path(fd: int) -> str:
    return str(FD_DIR / str(fd))


def room_for(count: int) -> bool:
    """Whether `count` more descriptors fit under the limit (raising the soft limit if need be)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        in_use = len(os.listdir(FD_DIR))
    except (OSError, ValueError):
        return False
    needed = in_use + count + _FD_HEADROOM
    if needed <= soft:
        return True
    if hard != resource.RLIM_INFINITY and needed > hard:
        return False
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    except (OSError, ValueError):
        return False
    return True


def close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
