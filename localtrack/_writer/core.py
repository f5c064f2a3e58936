"""One writer process's connection to a run: column buffers in, sealed segments out.

The hot path only appends to a buffer (no I/O; run.log's columns take a short lock). A daemon
thread seals every buffer every `flush_secs` (and sooner when a buffer passes its soft cap):
it takes the rows present with one slice and deletes them with one `del` (both atomic under
the GIL, while appends only ever add at the end), builds Arrow tables, and publishes them as
segments in sequence order. flush() seals on the caller's thread into small files published
without fsync (visible to every new query at once, cheap enough to call every step); the
sealer makes them durable within flush_secs. Memory is bounded: at a buffer's hard cap the policy `on_full`
applies, "block" (the logging call waits for the sealer) or "drop" (the row is dropped and
counted in `dropped`). Sealed segments survive SIGKILL; close() loses nothing.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa

from localtrack._store.layout import SegmentName, lease_path
from localtrack._store.liveness import lease_text, this_process
from localtrack._store.marker import Marker, create_or_join
from localtrack._store.runs import LEASE_TOUCH_SECS
from localtrack._store.schema import STREAMS, TAGGED_STREAMS
from localtrack._store.segments import ROW_GROUP_ROWS, publish, sync_published
from localtrack._writer import lifecycle
from localtrack._writer.blocks import ScalarBlock, TakenBlock
from localtrack._writer.compactor import Compactor
from localtrack._writer.identity import WriterIdentity, run_metadata
from localtrack._writer.quick_parquet import publish_quick, scalars_file
from localtrack._writer.quick_parquet import supports as supports_quick
from localtrack._writer.sealing import (
    SCALAR_WIDTH,
    scalar_rows,
    seal_columns,
    seal_records,
    seal_scalars,
    seal_tagged,
)
from localtrack._writer.spare_files import SpareFiles
from localtrack._writer.values import SnapshotPool, WarnOnce

ON_FULL = ("block", "drop")

SEAL_EARLY_BYTES = 4 << 20
"""Unsealed snapshot bytes that wake the sealer before its deadline."""

SEAL_COST_MEMORY = 32
"""Seals whose cost the sealer remembers: the worst of them sets how early it starts."""
MAX_EARLY = 0.6
"""The sealer starts at most this fraction of flush_secs before a deadline."""

SCALAR_STEP = 2048
"""Rows the scalars buffer grows between two calls of scalar_pressure() past its soft cap."""
SEAL_PART_VALUES = ROW_GROUP_ROWS
"""run.log numbers per table built: a bigger block is sealed as several segments."""
QUICK_ROWS = 4096
"""Tables of at most this many rows that flush() seals are published small and unsynced."""


def _take(rows: list[Any]) -> list[Any]:
    """Remove and return the rows present now: one slice, one del, both atomic under the GIL."""
    n = len(rows)
    if n == 0:
        return []
    chunk = rows[:n]
    del rows[:n]
    return chunk


class RunWriter:
    """Buffers, the sealer thread and the lifecycle of one process writing one run."""

    def __init__(
        self,
        run_dir: Path,
        proposed: Marker,
        *,
        flush_secs: float = 0.5,
        max_rows: int = 16384,
        on_full: str = "block",
        start_payload: dict[str, Any] | None = None,
        max_pending_bytes: int = 64 << 20,
        start_wall_time: float | None = None,
    ) -> None:
        if on_full not in ON_FULL:
            raise ValueError(f"on_full must be one of {ON_FULL}, got {on_full!r}")
        if not flush_secs > 0:
            raise ValueError(f"flush_secs must be > 0 seconds, got {flush_secs!r}")
        self.run_dir = Path(run_dir)
        self.identity = WriterIdentity.here()
        self.marker, self.created = create_or_join(self.run_dir, proposed)
        self.run_id = self.marker["run_id"]
        self.flush_secs = float(flush_secs)
        self.max_rows = int(max_rows)
        self.hard_cap = 2 * self.max_rows  # rows; the flat scalars buffer holds rows of 4 items
        # The scalars buffer's length at which the hot path calls scalar_pressure(): the soft
        # cap again after each seal takes the buffer, a step higher after each call, so a
        # buffer past the soft cap costs one call per SCALAR_STEP rows, not one per row.
        self.scalar_limit = [SCALAR_WIDTH * self.max_rows]
        # run.log's numbers cost 8 bytes each (no tuple), and a seal's cost barely grows with
        # its size: the columns may hold a few fsyncs' worth of steps before on_full applies.
        self.block_soft_cap = 8 * self.max_rows
        self.block_hard_cap = 8 * self.block_soft_cap
        self.on_full = on_full
        self.dropped = 0
        self.max_pending_bytes = max_pending_bytes
        self.bytes_in = 0  # snapshot bytes buffered, counted by logging threads
        self.bytes_out = 0  # snapshot bytes sealed, counted by the sealer
        self.warn = WarnOnce()
        self.pool = SnapshotPool()
        self.buffers: dict[str, list[Any]] = {s: [] for s in STREAMS}
        self.scalar_block = ScalarBlock()  # run.log's plain numbers, sealed as scalars
        # Counted by the hot path before it appends a device tensor; a seal that sees the
        # count move resolves its values with one transfer per device.
        self.device_scalars = 0
        self._device_sealed = 0
        self._next_seq = dict.fromkeys(STREAMS, 0)
        self._unpublished: dict[str, list[tuple[SegmentName, pa.Table]]] = {s: [] for s in STREAMS}
        self._unsynced: list[Path] = []  # segments flush() published without fsync
        # Re-entrant: a SIGTERM handler may close() while the main thread is inside flush().
        self._seal_lock = threading.RLock()
        # Held while the sealer takes a buffer and while a logging call drops a row it just
        # added (on_full="drop"), so the row dropped is one that was added, counted once.
        self._take_lock = threading.Lock()
        self._wake = threading.Event()
        self._drained = threading.Event()
        self._stopping = False
        self.closed = False
        self.before_close: list[Callable[[], None]] = []
        self._io_error_reported = False
        self._compactor = Compactor(self.run_dir, self._report_io_error)
        self._spares = SpareFiles(self.identity.writer)  # files flush() writes into
        self._touch_lease(create=True)
        payload = {**run_metadata(self.identity), **(start_payload or {})}
        start: dict[str, Any] = {"kind": "start", "payload": json.dumps(payload, default=str)}
        if start_wall_time is not None:  # an importer replays a run that started earlier
            start["wall_time"] = start_wall_time
        self.record("events", start)
        with self._seal_lock:
            self._seal_all()
        self._thread = threading.Thread(target=self._loop, name="localtrack-sealer", daemon=True)
        self._thread.start()
        lifecycle.register(self)

    # ---- hot-path support -------------------------------------------------------------

    def pressure(self, rows: list[Any]) -> None:
        """Called by the hot path when a buffer passed its soft cap (max_rows): wake the
        sealer; at the hard cap (2x) apply the on_full policy."""
        if not self._wake.is_set():  # is_set() is an attribute read; set() takes a lock
            self._wake.set()
        self._apply_cap(rows, self.hard_cap, 1)

    def scalar_pressure(self, rows: list[Any]) -> None:
        """Called by the hot path when the flat scalars buffer reached scalar_limit."""
        if not self._wake.is_set():
            self._wake.set()
        cap = self.hard_cap * SCALAR_WIDTH
        self.scalar_limit[0] = min(len(rows) + SCALAR_STEP * SCALAR_WIDTH, cap)
        self._apply_cap(rows, cap, SCALAR_WIDTH)

    def _apply_cap(self, rows: list[Any], cap: int, width: int) -> None:
        """At `cap` items (rows of `width` items), apply the on_full policy to the newest row."""
        if len(rows) < cap:
            return
        if self._dropping():
            with self._take_lock:
                if len(rows) >= cap:
                    del rows[-width:]
                    self.dropped += 1
            return
        self._wait_while(lambda: len(rows) >= cap)

    def admit(self, block: ScalarBlock) -> bool:
        """Called by run.log before it adds to a block holding block_soft_cap numbers or more:
        wake the sealer; at block_hard_cap apply the on_full policy (False: drop the step)."""
        if not self._wake.is_set():
            self._wake.set()
        if len(block.values) < self.block_hard_cap:
            return True
        if self._dropping():
            self.dropped += 1
            return False
        self._wait_while(lambda: len(block.values) >= self.block_hard_cap)
        return True

    def _dropping(self) -> bool:
        """Whether a row past a cap is dropped: on_full="drop", or no sealer left to wait for."""
        return self.on_full == "drop" or not self._thread.is_alive()

    def _wait_while(self, full: Callable[[], bool]) -> None:
        """on_full="block": wait for the sealer to take rows while `full()` holds."""
        while full() and self._thread.is_alive():
            self._drained.clear()
            self._wake.set()
            self._drained.wait(0.05)

    def put(self, stream: str, row: tuple[Any, ...], nbytes: int = 0) -> None:
        """Buffer one row of a tagged stream (tag, step, time, payload) holding `nbytes` of
        snapshots; past max_pending_bytes of unsealed snapshots the on_full policy applies."""
        rows = self.buffers[stream]
        item = (*row, nbytes)
        rows.append(item)
        self.bytes_in += nbytes
        if len(rows) >= self.max_rows:
            self.pressure(rows)
        pending = self.bytes_in - self.bytes_out
        if pending >= SEAL_EARLY_BYTES and not self._wake.is_set():
            self._wake.set()  # big snapshots: bin/encode now, and hand their buffers back
        if pending <= self.max_pending_bytes:
            return
        self._wake.set()
        if self._dropping():
            with self._take_lock:
                if rows and rows[-1] is item:  # not taken by the sealer yet
                    rows.pop()
                    self.bytes_in -= nbytes
                    self.dropped += 1
            return
        self._wait_while(lambda: self.bytes_in - self.bytes_out > self.max_pending_bytes)

    def record(self, stream: str, row: dict[str, Any]) -> None:
        """Buffer one row of an untagged stream (events, config, summary)."""
        row.setdefault("wall_time", time.time())
        self.buffers[stream].append(row)

    # ---- sealing -----------------------------------------------------------------------

    def seal_columns(self, stream: str, columns: dict[str, pa.Array]) -> None:
        """Publish the caller's columns (tag, step, wall_time and the stream's payload, as
        Arrow arrays) as the stream's next segment, durably. For importers, which hold whole
        columns of rows logged elsewhere; the writer adds the run and writer columns."""
        with self._seal_lock:
            seq = self._next_seq[stream]
            table = seal_columns(stream, columns, self.run_id, self.identity, seq)
            self._next_seq[stream] = seq + 1
            self._unpublished[stream].append((SegmentName(self.identity.writer, seq, seq), table))
            self._publish(stream)

    def flush(self) -> None:
        """Seal and publish everything logged so far: a new query sees it when this returns.

        Small tables are written uncompressed and not fsynced, so a flush() every step costs
        well under a millisecond; they survive a SIGKILL of this process at once, and the
        sealer makes them survive a power loss within flush_secs."""
        with self._seal_lock:
            self._seal_all(durable=False)

    def _seal_all(self, durable: bool = True) -> None:
        for stream, rows in self.buffers.items():
            with self._take_lock:
                chunk = _take(rows)
                if stream == "scalars":
                    self.scalar_limit[0] = SCALAR_WIDTH * self.max_rows
            block = self.scalar_block.take() if stream == "scalars" else None
            if not chunk and block is None:
                continue
            self._drained.set()  # the buffer has room again: a blocked logging call goes on
            if not durable and stream == "scalars" and block is None and self._quick(chunk):
                continue
            # A big block of run.log numbers is sealed in parts, each built and written
            # before the next is built, so a seal's tables stay small.
            parts = [None] if block is None else block.split(SEAL_PART_VALUES)
            for i, part in enumerate(parts):
                self._build_next(stream, chunk if i == 0 else [], part)
                self._publish(stream, durable)
        self._drained.set()
        for stream in self._unpublished:
            self._publish(stream)  # what an I/O error left behind earlier

    def _quick(self, chunk: list[Any]) -> bool:
        """flush()'s shortcut for a few add_scalar rows: their file built straight from the
        Python values (quick_parquet.scalars_file); False leaves them to the normal path."""
        if (
            len(chunk) > QUICK_ROWS * SCALAR_WIDTH
            or self._unpublished["scalars"]
            or self.device_scalars != self._device_sealed
        ):
            return False
        ident, seq = self.identity, self._next_seq["scalars"]
        data = scalars_file(
            chunk, self.run_id, ident.writer, seq, ident.rank, ident.host, ident.pid
        )
        if data is None:
            return False
        name = SegmentName(ident.writer, seq, seq)
        try:
            path = publish_quick(self.run_dir, "scalars", name, data, self._spares)
        except OSError as exc:
            self._report_io_error(exc)
            return False  # the normal path builds the rows and keeps retrying them
        self._next_seq["scalars"] = seq + 1
        self._unsynced.append(path)
        self._compactor.published("scalars", name)
        return True

    def _build_next(self, stream: str, chunk: list[Any], block: TakenBlock | None) -> None:
        seq = self._next_seq[stream]
        table = self._build(stream, chunk, seq, block)
        if stream in TAGGED_STREAMS and stream != "scalars":
            self.bytes_out += sum(row[4] for row in chunk)
        if table is not None:
            self._next_seq[stream] = seq + 1
            self._unpublished[stream].append((SegmentName(self.identity.writer, seq, seq), table))

    def _publish(self, stream: str, durable: bool = True) -> None:
        """Write the stream's built tables in sequence order; on an I/O error keep them.

        durable=False publishes small tables unsynced (flush()); _settle() syncs them later."""
        queue = self._unpublished[stream]
        while queue:
            name, table = queue[0]
            synced = durable or table.num_rows > QUICK_ROWS
            try:
                if not synced and supports_quick(stream):
                    path = publish_quick(self.run_dir, stream, name, table, self._spares)
                elif not synced:
                    path = publish(self.run_dir, stream, name, table, durable=False)
                else:
                    path = publish(self.run_dir, stream, name, table)
            except OSError as exc:
                self._report_io_error(exc)
                return
            queue.pop(0)
            if not synced:
                self._unsynced.append(path)
            self._compactor.published(stream, name)

    def _settle(self) -> None:
        """fsync what flush() published unsynced (a merged file is synced by compaction)."""
        paths = _take(self._unsynced)
        if not paths:
            return
        try:
            sync_published(paths)
        except OSError as exc:
            self._report_io_error(exc)
            self._unsynced[:0] = paths  # retried on the next round

    def _build(
        self, stream: str, chunk: list[Any], seq: int, block: TakenBlock | None
    ) -> pa.Table | None:
        """The chunk's table; should one row break building, the others are still kept."""
        try:
            return self._build_rows(stream, chunk, seq, block)
        except Exception as exc:
            rows = scalar_rows(chunk) if stream == "scalars" else chunk
            rows += block.rows() if block is not None else []
            good = [row for row in rows if self._builds(stream, [row], seq)]
            print(
                f"localtrack: {len(rows) - len(good)} {stream} row(s) could not be stored "
                f"({exc!r}); the other {len(good)} were kept",
                file=sys.stderr,
            )
            return self._build_rows(stream, self._chunk(stream, good), seq) if good else None

    @staticmethod
    def _chunk(stream: str, rows: list[Any]) -> list[Any]:
        """A buffer's content holding `rows` (the scalars buffer is flat)."""
        return list(chain.from_iterable(rows)) if stream == "scalars" else rows

    def _builds(self, stream: str, rows: list[Any], seq: int) -> bool:
        try:
            self._build_rows(stream, self._chunk(stream, rows), seq)
        except Exception:
            return False
        return True

    def _build_rows(
        self,
        stream: str,
        chunk: list[Any],
        seq: int,
        block: TakenBlock | None = None,
    ) -> pa.Table | None:
        ident, run_id = self.identity, self.run_id
        if stream == "scalars":
            pending = self.device_scalars  # read after the chunk was taken
            device, self._device_sealed = pending != self._device_sealed, pending
            return seal_scalars(chunk, run_id, ident, seq, self.warn, block, device)
        if stream in TAGGED_STREAMS:
            return seal_tagged(stream, chunk, run_id, ident, seq, self.warn)
        return seal_records(stream, chunk, run_id, ident, seq)

    def _report_io_error(self, exc: OSError) -> None:
        if not self._io_error_reported:
            self._io_error_reported = True
            print(
                f"localtrack: cannot write to {self.run_dir}: {exc}. Everything already "
                "sealed is on disk; new rows are kept in memory and retried.",
                file=sys.stderr,
            )

    def _touch_lease(self, create: bool = False) -> None:
        path = lease_path(self.run_dir, self.identity.writer)
        try:
            if create:  # the lease names this process, so a reused pid cannot pass for it
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(lease_text(this_process()))
            else:
                path.touch()
        except OSError as exc:
            self._report_io_error(exc)

    def _loop(self) -> None:
        """Seal on fixed deadlines, starting early by what a seal costs, so a row waits at most
        flush_secs between being logged and being on disk.

        A seal's cost is how late it finished against the instant the sealer asked to wake:
        the seal itself plus any oversleep, which on a starved machine (other processes on
        every core, the GIL held by the training loop) can outweigh the seal. The sealer
        starts early by the worst cost of its recent seals plus a margin."""
        next_lease = time.monotonic() + LEASE_TOUCH_SECS
        deadline = time.monotonic() + self.flush_secs
        # Slack for a seal slower than the slowest recent one (a busy machine, GC): a SIGKILL
        # then still loses at most flush_secs of rows.
        margin = 0.15 * self.flush_secs
        recent: deque[float] = deque([0.05 * self.flush_secs], maxlen=SEAL_COST_MEMORY)
        while True:
            cost = min(MAX_EARLY * self.flush_secs, max(recent))
            wake = deadline - cost - margin
            self._wake.wait(max(0.0, wake - time.monotonic()))
            self._wake.clear()
            if self._stopping:
                return
            started = time.monotonic()
            try:
                with self._seal_lock:
                    self._seal_all()
                self._settle()
                if started >= next_lease:
                    self._touch_lease()
                    next_lease = started + LEASE_TOUCH_SECS
            except Exception as exc:  # the sealer must outlive any single failure
                print(f"localtrack: sealing failed, will retry: {exc!r}", file=sys.stderr)
            # Woken early (a buffer past its soft cap) counts only the seal; late, the oversleep too.
            recent.append(time.monotonic() - min(started, wake))
            deadline = started + self.flush_secs

    # ---- end ------------------------------------------------------------------------------

    def close(
        self, status: str = "finished", exit_code: int | None = None, wall_time: float | None = None
    ) -> None:
        """Seal everything, record how the run ended, stop the sealer. Idempotent.

        The before_close callbacks run first (run.finish's work: the summary), whoever
        closes: finish(), atexit, SIGTERM."""
        if self.closed:
            return
        for callback in self.before_close:
            try:
                callback()
            except Exception as exc:  # the rest of close() must still happen
                print(f"localtrack: finishing the run failed: {exc!r}", file=sys.stderr)
        self.closed = True
        self._stopping = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        finish: dict[str, Any] = {"kind": "finish", "status": status, "exit_code": exit_code}
        if wall_time is not None:  # an importer replays a run that ended earlier
            finish["wall_time"] = wall_time
        self.record("events", finish)
        with self._seal_lock:
            self._seal_all()
        self._settle()
        self._spares.close()
        self._compactor.close()
        try:  # an empty lease is a closed writer (docs/FORMAT.md "Run status")
            lease_path(self.run_dir, self.identity.writer).write_bytes(b"")
        except OSError:
            pass
        lifecycle.unregister(self)
