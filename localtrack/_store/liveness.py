"""Whether a writer is alive, in a way no wall-clock jump (NTP step, VM resume) can fool.

- **A writer on this host** is alive exactly while its process is. Its lease file holds the
  process's identity (host, pid, boot id, pid namespace, and its start time in clock ticks
  since boot, from `/proc`), which a later process reusing the pid cannot match. Lease age
  does not matter then. (Without `/proc`, or for an older writer whose lease is empty, the
  lease rule below applies.)
- **A writer elsewhere** (another machine on a shared file system) is judged by its lease's
  mtime. A one-shot reader compares it with its own wall clock (a lease in the future, after
  the clock stepped back, counts as fresh). An observer that keeps watching (the sync daemon,
  `LeaseWatch`) judges a lease it sees for the first time as a one-shot reader does, and from
  then on calls it stale only after it saw it unchanged for the threshold on its own
  monotonic clock: a jump of its wall clock while it watches changes nothing.

A writer empties its lease when it closes, so a lease with content is a writer that has not
closed: alive, or crashed.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """Which process wrote a lease: enough to tell it from a later one with the same pid."""

    host: str
    pid: int
    boot_id: str
    pid_ns: str
    start_ticks: int


def _boot_id(proc: Path) -> str | None:
    try:
        return (proc / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _pid_ns(proc: Path, pid: int | str) -> str | None:
    try:
        return os.readlink(proc / str(pid) / "ns/pid")
    except OSError:
        return None


def start_ticks(pid: int | str, proc: Path = PROC) -> int | None:
    """When process `pid` started (clock ticks since boot); None when it is gone or a zombie."""
    try:
        raw = (proc / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # the command name may hold spaces and ")"
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


_here: tuple[int, ProcessIdentity | None] | None = None


def this_process(proc: Path = PROC) -> ProcessIdentity | None:
    """The calling process's identity, or None where `/proc` does not tell it (not Linux).

    Cached per pid (a forked child computes its own)."""
    global _here
    if proc == PROC and _here is not None and _here[0] == os.getpid():
        return _here[1]
    boot, ns, ticks = _boot_id(proc), _pid_ns(proc, "self"), start_ticks("self", proc)
    found = None
    if boot is not None and ns is not None and ticks is not None:
        found = ProcessIdentity(socket.gethostname(), os.getpid(), boot, ns, ticks)
    if proc == PROC:
        _here = (os.getpid(), found)
    return found


def lease_text(identity: ProcessIdentity | None) -> bytes:
    """What a writer puts in its lease when it opens ("" where the identity is unknown)."""
    return b"" if identity is None else json.dumps(asdict(identity)).encode()


def parse_lease(raw: bytes) -> ProcessIdentity | None:
    """The identity a lease holds; None for an empty (closed or older writer's) or odd one."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return ProcessIdentity(
            str(data["host"]),
            int(data["pid"]),
            str(data["boot_id"]),
            str(data["pid_ns"]),
            int(data["start_ticks"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def read_lease(path: Path) -> ProcessIdentity | None:
    try:
        with open(path, "rb") as f:
            return parse_lease(f.read(4096))
    except OSError:
        return None


def process_verdict(
    identity: ProcessIdentity | None, here: ProcessIdentity | None, proc: Path = PROC
) -> bool | None:
    """True/False when the lease's process can be checked from here (same host, boot and pid
    namespace): whether it still runs. None when it cannot: the lease rule decides."""
    if identity is None or here is None:
        return None
    if (identity.host, identity.boot_id, identity.pid_ns) != (here.host, here.boot_id, here.pid_ns):
        return None
    return start_ticks(identity.pid, proc) == identity.start_ticks


def fresh_by_wall_clock(mtime: float, now: float, stale_s: float) -> bool:
    """A one-shot reader's lease rule: touched less than `stale_s` ago, or in the future."""
    return now - mtime < stale_s


class LeaseWatch:
    """Leases as one long-lived observer sees them: a lease is stale once this observer has
    seen it unchanged for `stale_s` seconds of its own monotonic clock (wall time unused)."""

    def __init__(self, stale_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_s = stale_s
        self._clock = clock
        self._seen: dict[Path, tuple[float | None, float]] = {}
        self._lock = threading.Lock()

    def unchanged_for(self, path: Path, mtime: float | None) -> float:
        """Seconds this observer has seen `path` with this mtime (0 on a first or new sight)."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(path)
            if seen is None or seen[0] != mtime:
                self._seen[path] = (mtime, now)
                return 0.0
            return now - seen[1]

    def stale(self, path: Path, mtime: float | None, wall_age: float | None = None) -> bool:
        """Whether the lease at `path` is stale. On a first sight the observer has seen
        nothing change yet, so it takes the one-shot rule (`wall_age` ≥ stale_s: a run
        copied from an air-gapped machine, crashed there, is not live forever); it then
        counts as seen unchanged for the threshold already, so later sights agree, and only
        a change of its mtime makes it fresh again."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(path)
            if seen is None:
                old = wall_age is not None and wall_age >= self.stale_s
                self._seen[path] = (mtime, now - self.stale_s if old else now)
                return old
            if seen[0] != mtime:
                self._seen[path] = (mtime, now)
                return False
            return now - seen[1] >= self.stale_s

    def forget(self, prefix: Path) -> None:
        """Drop what was seen under `prefix` (a run that was deleted or moved)."""
        with self._lock:
            for p in [p for p in self._seen if p.is_relative_to(prefix)]:
                del self._seen[p]
