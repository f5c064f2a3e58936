"""The daemon loop: find runs, upload them in parallel (bounded, one uploader per run), back off.

Runs are found by a periodic rescan of the root (the truth) and by watchdog hints (speed).
A failed pass is retried after exponential back-off with full jitter, capped; a run that needs
a person is retried only rarely and never holds up the others. A run whose lock another syncer
holds (`lock.py`) is skipped and tried again every `held_retry_s`; that is not a failure.
`stop()` (SIGTERM) lets every request in flight finish, records it, and returns.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from localtrack._errors import NeedsPerson, RetryLater, SyncError
from localtrack._store.layout import MARKER_NAME

from . import tls
from .aimd import Change, make_limit
from .lock import LEASE_S, Holder, Lease, LeaseLost, Locks
from .log import EventLog
from .remote import Remote
from .scan import Print, fingerprint, scan_runs
from .state import Problem, public_url, state_path
from .upload import Outcome, Progress, RunUpload
from .watch import Watcher


@dataclass
class Options:
    root: Path
    uri: str
    workers: int = 4
    rescan_s: float = 30.0
    grace_s: float = 60.0
    timeout_s: float = 30.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 60.0
    needs_person_retry_s: float = 600.0
    once: bool = False
    once_attempts: int = 6
    """In --once mode, passes tried per run before a retry-later failure is given up."""
    watch: bool = True
    pipeline: int = 2
    """Log-batch requests of one run in flight at once."""
    report: bool = True
    """Upload each run's report as the artifact localtrack/report.html (report_artifact.py)."""
    concurrency: str = "adaptive"
    """"adaptive": the log-batch requests in flight over all runs follow the server's answers
    (AIMD, `aimd.py`) between 1 and `max_in_flight`, starting at 4; "fixed": always at most
    `max_in_flight` (MLflow holds two pooled database connections per request: 8 at once
    exhaust one server worker's default pool of 15)."""
    max_in_flight: int | None = None
    """The ceiling of the requests in flight (None: 64 adaptive, 4 fixed)."""
    initial_in_flight: int = 4
    lease_s: float = LEASE_S
    """A run lock's lease: how long a SIGKILLed syncer can keep the others off its runs."""
    held_retry_s: float = 1.0
    """How soon a run another syncer holds is tried again."""
    held_wait_s: float = 600.0
    """In --once mode, how long a run another syncer keeps uploading is waited for."""


@dataclass
class Slot:
    """The daemon's memory of one run between passes."""

    dirty: bool = True
    busy: bool = False
    next_try: float = 0.0
    failures: int = 0
    complete_print: Print | None = None
    """The run's fingerprint when a pass last found it complete on the remote."""
    last_error: SyncError | None = None
    done_once: bool = False
    held_by: Holder | None = None
    """The other syncer that held the run's lock at the last try (None: none did)."""
    held_since: float | None = None
    gone: bool = False
    """The run vanished during a pass: skipped until a rescan finds a run at its path again."""


def backoff(failures: int, low: float, high: float, rng: random.Random) -> float:
    """Seconds to wait after `failures` consecutive failures: full jitter, capped at `high`."""
    ceiling = min(high, low * 2 ** min(failures, 30))
    return max(low / 2, rng.uniform(0, ceiling))


SETTLE_NS = 2_000_000_000
"""A folder changed this recently may still change within its mtime's granularity (NFS: 1 s)."""

SCAN_DUTY = 200
"""With the watcher running, a rescan comes at most every SCAN_DUTY × its CPU time (and at
least every 10 × --rescan), so rescans of a large root never take more than 0.5 % of a core
(10,000 runs: ~0.6 s a rescan on a loaded 2-core machine, so every 2 minutes rather than 30 s).
Watchdog's events bring new data in the meantime; the rescan catches what they miss."""


def settled(print_: Print) -> bool:
    """True when no folder of the print changed in the last SETTLE_NS."""
    newest = max((m for _, m in print_), default=0)
    return time.time_ns() - newest > SETTLE_NS


def _recorded_print(run_dir: Path, uri: str) -> Print | None:
    """The fingerprint a previous daemon recorded when it found the run complete, if any."""
    try:
        with open(state_path(run_dir, uri), encoding="utf-8") as f:
            recorded = json.load(f).get("complete_print")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(recorded, list):
        return None
    try:
        return tuple((str(n), int(m)) for n, m in recorded)
    except (TypeError, ValueError):
        return None


@dataclass
class Daemon:
    opts: Options
    log: Callable[..., None] = field(default_factory=EventLog)
    progress: Progress | None = None

    def __post_init__(self) -> None:
        self.slots: dict[Path, Slot] = {}
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._local = threading.local()
        self._remotes: list[Remote] = []
        self._in_flight = make_limit(
            self.opts.concurrency,
            self.max_in_flight,
            initial=self.opts.initial_in_flight,
            max_pause_s=self.opts.backoff_max_s,
            on_change=self._limit_changed,
        )
        self._experiments: dict[str, str] = {}
        self._rng = random.Random()
        self._next_scan = 0.0
        self._down_until = 0.0
        self._down_failures = 0
        """Consecutive passes that could not reach the remote at all (connection, timeout)."""
        self._locks = Locks(self.opts.uri, lease_s=self.opts.lease_s, log=self.log)
        self._checked: set[Path] = set()
        """Runs whose MLflow run this process looked up by tag (duplicates retired)."""

    # -- control ---------------------------------------------------------------------------

    @property
    def max_in_flight(self) -> int:
        """The ceiling of log-batch requests in flight: --max-in-flight, else by mode."""
        if self.opts.max_in_flight is not None:
            return max(1, self.opts.max_in_flight)
        return 4 if self.opts.concurrency == "fixed" else 64

    def _limit_changed(self, change: Change) -> None:
        self.log("concurrency_changed", limit=change.limit, before=change.before, why=change.why)

    def stop(self) -> None:
        """Ask the loop to finish the requests in flight and return (safe in a signal handler)."""
        self._stop.set()
        self._in_flight.close()  # a Retry-After pause ends: the requests left finish now
        self._poke()

    def _poke(self) -> None:
        if self._wake.acquire(blocking=False):
            try:
                self._wake.notify_all()
            finally:
                self._wake.release()

    def hint(self, run_dir: Path | None) -> None:
        """A watchdog event: `run_dir` changed (None: something did, rescan)."""
        with self._wake:
            if run_dir is None:
                self._next_scan = 0.0
            else:
                slot = self.slots.setdefault(run_dir, Slot())
                slot.dirty = True
            self._wake.notify_all()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        """Sync until stopped (or, with `once`, until every run had its pass); the exit code."""
        o = self.opts
        self.log(
            "daemon_started", root=str(o.root), remote=public_url(o.uri), once=o.once,
            concurrency=o.concurrency, max_in_flight=self.max_in_flight,
        )  # fmt: skip
        if tls.insecure():
            self.log(
                "tls_insecure", level="warning", remote=public_url(o.uri),
                message=tls.INSECURE_WARNING,
            )  # fmt: skip
        watcher = None
        if o.watch and not o.once:
            o.root.mkdir(parents=True, exist_ok=True)  # training may not have logged yet
            watcher = Watcher(o.root, self.hint)
        if watcher is not None and not watcher.start():
            self.log("watch_unavailable", root=str(o.root))
        self._next_scan = 0.0
        busy: set[Future[None]] = set()
        with ThreadPoolExecutor(max_workers=max(1, o.workers), thread_name_prefix="upload") as pool:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= self._next_scan:
                    walk = self._scan()  # with no watcher the rescan is all there is
                    stretch = walk * SCAN_DUTY if watcher is not None else 0.0
                    self._next_scan = now + min(max(o.rescan_s, stretch), 10 * o.rescan_s)
                for run_dir in self._due(now):
                    busy.add(pool.submit(self._pass, run_dir))
                busy = {f for f in busy if not f.done()}
                if o.once and not busy and self._once_finished():
                    break
                with self._wake:
                    self._wake.wait(timeout=self._sleep_s(now))
            for f in busy:
                f.result()
        if watcher is not None:
            watcher.stop()
        self._locks.close()
        for r in self._remotes:
            r.close()
        code = self._exit_code()
        self.log("daemon_stopped", exit_code=code, concurrency=self._in_flight.stats())
        return code

    def _scan(self) -> float:
        """Rescan the root; the CPU seconds it took (the walk and the comparison of each run's
        print with the last: ~0.6 s for 10,000 runs on a loaded 2-core machine)."""
        cpu = time.thread_time()
        found = scan_runs(self.opts.root)
        with self._wake:
            for run_dir, print_ in found.items():
                slot = self.slots.get(run_dir)
                if slot is None or (slot.gone and not slot.busy):
                    recorded = _recorded_print(run_dir, self.opts.uri)
                    # A run a previous daemon found complete, unchanged since: no pass at
                    # start-up (10,000 synced runs cost ~10 min of a core in start-up passes).
                    # `sync --once` still passes every run.
                    slot = self.slots[run_dir] = Slot(
                        dirty=self.opts.once or recorded != print_, complete_print=recorded
                    )
                if slot.complete_print is None or slot.complete_print != print_:
                    slot.dirty = True
            for gone in set(self.slots) - set(found):
                if not self.slots[gone].busy:
                    del self.slots[gone]
        return time.thread_time() - cpu

    def _due(self, now: float) -> list[Path]:
        """Runs to pass now: no more than free workers, one probe while the remote is down."""
        with self._wake:
            if now < self._down_until:
                return []
            busy = sum(s.busy for s in self.slots.values())
            room = max(1, self.opts.workers) - busy
            if self._down_failures:
                room = 1 - busy  # probe with one run until the remote answers again
            due = [
                d
                for d, s in self.slots.items()
                if s.dirty and not s.busy and s.next_try <= now and not s.done_once
            ][: max(0, room)]
            for d in due:
                self.slots[d].busy = True
                self.slots[d].dirty = False
        return due

    def _sleep_s(self, now: float) -> float:
        with self._wake:
            waits = [self._next_scan - now, self._down_until - now if self._down_failures else 1e9]
            waits += [s.next_try - now for s in self.slots.values() if s.dirty and not s.busy]
        return min(max(0.02, min(waits)), self.opts.rescan_s)

    def _session(self) -> Remote:
        """This upload thread's HTTP session (its pool holds a connection per request in flight)."""
        remote: Remote | None = getattr(self._local, "remote", None)
        if remote is None:
            remote = self._local.remote = Remote(
                self.opts.uri, timeout=self.opts.timeout_s, slots=self._in_flight
            )
            self._remotes.append(remote)
        return remote

    def _pass(self, run_dir: Path) -> None:
        slot = self.slots[run_dir]
        before = fingerprint(run_dir)
        upload: RunUpload | None = None
        lease: Lease | None = None
        try:
            lease = self._lease(run_dir, slot)
            if lease is None:
                return  # another syncer holds the run: its turn comes later
            upload = RunUpload(
                run_dir,
                self._session(),
                # one request at a time after a failure: a slow server is not pushed harder
                pipeline=1 if slot.failures else self.opts.pipeline,
                log=self.log,
                experiments=self._experiments,
                grace_s=self.opts.grace_s,
                stop=self._stop,
                progress=self.progress,
                lease=lease,
                check_duplicates=run_dir not in self._checked,
                report=self.opts.report,
            )
            out = upload.sync()
        except LeaseLost as e:
            assert lease is not None and lease.lost is not None
            if not self._vanished(run_dir, slot, e):  # the lock went with a moved run
                self._held(run_dir, slot, lease.lost)
        except Exception as e:
            if self._vanished(run_dir, slot, e):
                pass
            elif isinstance(e, SyncError):
                self._failed(run_dir, slot, upload, e)
            elif isinstance(e, (OSError, ValueError, KeyError)):  # unreadable: a person looks
                self._failed(run_dir, slot, upload, NeedsPerson(f"cannot read run: {e!r}"))
            else:  # a bug: report it, keep the other runs going
                self._failed(run_dir, slot, upload, NeedsPerson(f"unexpected error: {e!r}"))
        else:
            assert upload is not None
            self._succeeded(run_dir, slot, out, before, upload)
        finally:
            if upload is not None and not upload.check_duplicates:
                self._checked.add(run_dir)
            if lease is not None:
                self._locks.release(lease)
            with self._wake:
                slot.busy = False
                self._wake.notify_all()

    def _lease(self, run_dir: Path, slot: Slot) -> Lease | None:
        """The run's lock for this pass, or None when another syncer holds it."""
        got = self._locks.acquire(run_dir)
        if isinstance(got, Holder):
            self._held(run_dir, slot, got)
            return None
        slot.held_by = slot.held_since = None
        return got

    def _held(self, run_dir: Path, slot: Slot, holder: Holder) -> None:
        """Another syncer uploads the run: try again soon (in --once mode, up to held_wait_s)."""
        now = time.monotonic()
        if slot.held_by is None or slot.held_by.owner != holder.owner:
            self.log("run_held", run=str(run_dir), holder=holder.describe())
        slot.held_by = holder
        slot.held_since = slot.held_since or now
        slot.dirty = True
        slot.next_try = now + self.opts.held_retry_s
        if self.opts.once and now - slot.held_since >= self.opts.held_wait_s:
            slot.done_once = True  # the holder uploads it; `sync --status` says when it is done

    def held(self) -> list[tuple[Path, Holder]]:
        """Runs another syncer still held when this one last tried them."""
        with self._wake:
            return [(d, s.held_by) for d, s in self.slots.items() if s.held_by is not None]

    def _succeeded(
        self, run_dir: Path, slot: Slot, out: Outcome, before: Print, upload: RunUpload
    ) -> None:
        with self._wake:
            self._down_failures = 0
        slot.failures = 0
        slot.last_error = None
        if self.opts.once:
            slot.done_once = True
        if out.complete and settled(before) and fingerprint(run_dir) == before:
            slot.complete_print = before
            if upload.state.complete_print != [list(p) for p in before]:
                upload.state.complete_print = [list(p) for p in before]
                upload.save()
        else:
            slot.complete_print = None
        if out.sent:
            self.log("run_synced", run=str(run_dir), points=out.sent, complete=out.complete)

    def _vanished(self, run_dir: Path, slot: Slot, e: Exception) -> bool:
        """A run deleted, renamed or moved while its pass ran: log it once and drop it (a
        rescan that finds a run there again starts afresh); False while the run is there."""
        if (run_dir / MARKER_NAME).is_file():
            return False
        self.log("run_vanished", run=str(run_dir), error=repr(e))
        slot.gone = True
        slot.dirty = False
        slot.done_once = True
        slot.last_error = None
        slot.next_try = math.inf
        return True

    def _failed(self, run_dir: Path, slot: Slot, upload: RunUpload | None, e: SyncError) -> None:
        kind = "needs_person" if isinstance(e, NeedsPerson) else "retry_later"
        slot.failures += 1
        slot.last_error = e
        slot.dirty = True
        slot.complete_print = None
        if isinstance(e, RetryLater) and e.status is None:  # the remote is unreachable
            with self._wake:
                self._down_failures += 1
                down = backoff(
                    self._down_failures, self.opts.backoff_min_s, self.opts.backoff_max_s, self._rng
                )
                self._down_until = time.monotonic() + down
                if self.opts.once and self._down_failures >= self.opts.once_attempts:
                    for other in self.slots.values():  # give up: nothing can be uploaded now
                        other.done_once = True
                        other.last_error = other.last_error or e
        if isinstance(e, RetryLater):
            wait = backoff(
                slot.failures, self.opts.backoff_min_s, self.opts.backoff_max_s, self._rng
            )
            if self.opts.once and slot.failures >= self.opts.once_attempts:
                slot.done_once = True
        else:
            wait = self.opts.needs_person_retry_s
            if self.opts.once:
                slot.done_once = True
        slot.next_try = time.monotonic() + wait
        self.log(
            "sync_failed",
            run=str(run_dir),
            error=str(e),
            retry_in_s=round(wait, 2),
            **{"class": kind},
        )
        if upload is not None:
            upload.state.problem = Problem(kind, str(e), time.time())
            try:
                upload.save()
            except (OSError, SyncError):  # LeaseLost: the new holder keeps the state now
                pass

    def _once_finished(self) -> bool:
        with self._wake:
            return all(s.done_once for s in self.slots.values())

    def _exit_code(self) -> int:
        errors = [s.last_error for s in self.slots.values() if s.last_error is not None]
        if any(isinstance(e, NeedsPerson) for e in errors):
            return 1
        return 2 if errors else 0
