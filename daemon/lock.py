"""At most one uploader per (run, remote): a lock file with a lease, safe on NFS, never stuck.

The lock is `<run>/sync/<remote>.lock`, created with O_CREAT|O_EXCL (atomic on local file
systems and on NFSv3+, where `flock` may not work) and holding its owner as JSON: host, pid, a
random owner id and the lease in seconds. The holder renews the lease by touching the file
(every `lease / 6`) and, each time, reads it back: a file that no longer names it means another
syncer took the run over, and the holder stops uploading it (`LeaseLost`). Another syncer that
finds the lock held skips the run and comes back later.

A lock is *stale* (`judge`) when its holder is a process of this machine that is gone (same
boot and pid namespace, pid absent or reused), or when its lease ran out: the file's mtime is
older than the lease, or this observer saw it unchanged for a lease on its monotonic clock (so
a wrong or jumping wall clock delays a takeover by at most one lease, and a live holder of this
machine is never taken over because of the wall clock). A stale lock is taken over by renaming
it to a name of the taker's own: of two takers only one rename succeeds, and the winner reads
the moved file back to check it moved the stale lock and not a fresh one (which it puts back).
Then the taker creates the lock with O_EXCL, like anyone, and reads it back.
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
from typing import Literal

from localtrack._errors import RetryLater

from .state import state_path

LEASE_S = 30.0
"""How long a holder's silence is trusted: a SIGKILLed holder blocks the run at most this long."""
Verdict = Literal["held", "stale"]


class LeaseLost(RetryLater):
    """Another syncer took this run's lock over: stop uploading it; it is not a failure."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file says."""

    owner: str
    """Random id of one acquisition: two processes (or two leases of one) never share it."""
    host: str
    pid: int
    pid_space: str
    """Boot id and pid namespace of the holder ('' unknown): pids compare only within one."""
    started: str
    """The holder process's start time in its pid space, so a reused pid is not taken for it."""
    lease_s: float
    since: float
    """When it took the lock (seconds since the epoch, for `sync --status`)."""

    def describe(self) -> str:
        return f"{self.host} pid {self.pid}"

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Holder | None:
        """The holder a lock file names; None for a file being written or not a lock."""
        try:
            data = json.loads(raw)
            return cls(
                owner=str(data["owner"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                pid_space=str(data["pid_space"]),
                started=str(data["started"]),
                lease_s=float(data["lease_s"]),
                since=float(data["since"]),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class Sighting:
    """A lock file as one read found it: its holder (None: unreadable) and its identity."""

    holder: Holder | None
    mtime: float
    ino: int

    @property
    def key(self) -> tuple[str, float, int]:
        """Changes whenever the file is replaced or its lease renewed."""
        return (self.holder.owner if self.holder else "", self.mtime, self.ino)


def judge(
    seen: Sighting, *, now: float, unchanged_s: float, alive: bool | None, lease_s: float
) -> Verdict:
    """Whether a lock someone else holds may be taken over (pure).

    `now`: the wall clock; `unchanged_s`: how long this observer has seen the same `seen.key`,
    on its monotonic clock; `alive`: whether the holder process lives (None: not a process of
    this machine, or it cannot tell); `lease_s`: used when the file names no lease.
    """
    lease = seen.holder.lease_s if seen.holder is not None else lease_s
    if alive is False:
        return "stale"
    if unchanged_s >= lease:
        return "stale"  # nobody renewed it for a whole lease, whatever the wall clock says
    if alive is None and now - seen.mtime >= lease:
        return "stale"
    return "held"


# -- this process ---------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def pid_space() -> str:
    """This machine's boot and this process's pid namespace ('' where /proc cannot tell)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}:{ns}" if boot else ""


def start_time(pid: int | str) -> str:
    """A process's start time (clock ticks since boot, from /proc), '' when it does not exist."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def process_alive(holder: Holder, space: str) -> bool | None:
    """Whether the holder process still runs; None when it is not in this pid space."""
    if not space or holder.pid_space != space or not holder.started:
        return None
    return start_time(holder.pid) == holder.started


# -- the lock file ----------------------------------------------------------------------------


def lock_path(run_dir: Path, uri: str) -> Path:
    """`<run>/sync/<remote>.lock`, beside the run's sync state for that remote."""
    return state_path(run_dir, uri).with_suffix(".lock")


def read_lock(path: Path) -> Sighting | None:
    """The lock file now (opened, so NFS revalidates its attributes), or None when absent."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read(4096)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Sighting(Holder.decode(raw), st.st_mtime, st.st_ino)


def _create(path: Path, holder: Holder) -> bool:
    """Create the lock exclusively; False when it exists."""
    path.parent.mkdir(exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, holder.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


class Lease:
    """A lock this process holds: renewed by `Locks`, dropped by `release()`."""

    def __init__(self, path: Path, holder: Holder) -> None:
        self.path = path
        self.holder = holder
        self.lost: Holder | None = None
        """Set when a renewal found the lock gone or naming another owner."""

    def confirm(self) -> None:
        """Read the lock back now; raise LeaseLost when it no longer names this lease."""
        seen = read_lock(self.path)
        if seen is None or seen.holder is None or seen.holder.owner != self.holder.owner:
            self.lost = self.lost or (seen.holder if seen and seen.holder else self.holder)
        if self.lost is not None:
            raise LeaseLost(f"another syncer ({self.lost.describe()}) took this run over")

    def renew(self) -> None:
        try:
            self.confirm()
            os.utime(self.path)
        except (LeaseLost, OSError):
            self.lost = self.lost or self.holder

    def release(self) -> None:
        """Remove the lock if it still names this lease."""
        seen = read_lock(self.path)
        if seen is not None and seen.holder is not None and seen.holder.owner == self.holder.owner:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


class Locks:
    """Takes, renews (on one thread) and releases the run locks of one syncer process."""

    def __init__(
        self,
        uri: str,
        *,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        log: Callable[..., None] | None = None,
    ) -> None:
        self.uri = uri
        self.lease_s = lease_s
        self.clock = clock
        self.monotonic = monotonic
        self.log = log
        self._space = pid_space()
        self._started = start_time("self")
        self._host = socket.gethostname()
        self._seen: dict[Path, tuple[tuple[str, float, int], float]] = {}
        self._held: dict[Path, Lease] = {}
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, run_dir: Path) -> Lease | Holder:
        """The run's lock for this syncer, or who holds it now (then skip the run)."""
        path = lock_path(run_dir, self.uri)
        me = Holder(
            os.urandom(8).hex(), self._host, os.getpid(), self._space, self._started,
            self.lease_s, self.clock(),
        )  # fmt: skip
        unknown = Holder("", "?", 0, "", "", self.lease_s, 0.0)
        for _ in range(3):
            if _create(path, me):
                lease = Lease(path, me)
                lease.confirm()  # read back: it is ours
                self._keep(lease)
                return lease
            seen = read_lock(path)
            if seen is None:
                continue  # released meanwhile: try again
            if self.verdict(path, seen) == "held":
                return seen.holder or unknown
            if not self._take_over(path, seen, me):
                return seen.holder or unknown
        return unknown

    def verdict(self, path: Path, seen: Sighting) -> Verdict:
        """judge() on this sighting, with how long this process has seen it unchanged."""
        now = self.monotonic()
        with self._mutex:
            key, since = self._seen.get(path, (None, now))
            if key != seen.key:
                since = now
            self._seen[path] = (seen.key, since)
        alive = process_alive(seen.holder, self._space) if seen.holder else None
        return judge(
            seen, now=self.clock(), unchanged_s=now - since, alive=alive, lease_s=self.lease_s
        )

    def _take_over(self, path: Path, stale: Sighting, me: Holder) -> bool:
        """Move the stale lock aside; False when what moved was a fresh one (put back)."""
        aside = path.with_name(f"{path.name}.stale-{me.owner}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return True  # another taker moved it: race for the O_EXCL create
        moved = read_lock(aside)
        if moved is not None and moved.key != stale.key:
            os.rename(aside, path)  # a holder renewed or re-created it meanwhile: not stale
            return False
        try:
            aside.unlink()
        except FileNotFoundError:
            pass
        if self.log is not None and stale.holder is not None:
            self.log("lock_taken_over", lock=str(path), holder=stale.holder.describe())
        return True

    # -- renewal -------------------------------------------------------------------------------

    def _keep(self, lease: Lease) -> None:
        with self._mutex:
            self._held[lease.path] = lease
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._renew_loop, name="lock-renewal", daemon=True
                )
                self._thread.start()

    def release(self, lease: Lease) -> None:
        with self._mutex:
            self._held.pop(lease.path, None)
        lease.release()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_s / 6):
            with self._mutex:
                leases = list(self._held.values())
            for lease in leases:
                lease.renew()

    def close(self) -> None:
        """Stop renewing and release every lock still held."""
        self._stop.set()
        with self._mutex:
            leases = list(self._held.values())
        for lease in leases:
            self.release(lease)
        if self._thread is not None:
            self._thread.join(timeout=5)


def holder_now(run_dir: Path, uri: str, now: float | None = None) -> tuple[Holder, bool] | None:
    """Who holds the run's lock to `uri` and whether the lease is still valid; None when free.

    One read-only sighting (for `sync --status`): the wall clock and this machine's processes.
    """
    seen = read_lock(lock_path(run_dir, uri))
    if seen is None:
        return None
    holder = seen.holder or Holder("", "?", 0, "", "", LEASE_S, seen.mtime)
    alive = process_alive(holder, pid_space()) if seen.holder else None
    verdict = judge(
        seen,
        now=time.time() if now is None else now,
        unchanged_s=0.0,
        alive=alive,
        lease_s=LEASE_S,
    )
    return holder, verdict == "held"
