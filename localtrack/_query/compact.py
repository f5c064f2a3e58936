"""`localtrack compact`: merge the small segments of writers that are gone, invisibly to queries.

Deletion waits: every merge of a pass is published first, and the inputs are deleted
together GRACE_SECS after the last publish, so a query that listed files just before a
merge appeared still finds them (a query that lists after it skips them as covered).

Only writers that are not alive (finished, or crashed: no fresh lease) are compacted here; a
live writer compacts its own segments as it goes, so two processes never merge the same
files. Each merge publishes the merged file (covering the inputs' sequence range) before it
deletes the inputs, so a query at any instant counts every row once (docs/FORMAT.md rule 2).
Files another file already covers (left by an interrupted compaction) are deleted. A file
that cannot be read is reported, left in place and never merged. A folder compaction cannot
write to (a read-only mount, another user's store, a full disk) is left as it is and named
in `CompactionReport.errors` as one it cannot *write*; `localtrack compact` then exits 1 when
nothing could be merged.
"""

from __future__ import annotations

import errno
import os
import time
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from localtrack._errors import LocaltrackWarning
from localtrack._query.files import looks_whole, warn_skipped
from localtrack._store.compaction import delete_segments, merge_segments, plan_full_merge
from localtrack._store.layout import SegmentName, covered_segments, runs_root, segment_path
from localtrack._store.runs import find_runs, writer_alive, writer_states
from localtrack._store.schema import STREAMS
from localtrack._store.segments import list_segments

GRACE_SECS = 1.0
"""How long merged inputs stay on disk after the merged file is published."""


@dataclass
class CompactionReport:
    """What one compaction pass did."""

    runs: int = 0
    merged_files: int = 0
    written_files: int = 0
    deleted_covered: int = 0
    skipped_writers: int = 0
    pending: list[tuple[Path, str, list[SegmentName]]] = field(default_factory=list)
    last_publish: float = 0.0
    errors: list[str] = field(default_factory=list)
    """Why a folder could not be compacted: it cannot be written to (nothing there changed)."""

    def delete_pending(self, grace: float) -> None:
        """Delete the merged inputs once `grace` seconds passed since the last publish."""
        if self.pending:
            time.sleep(max(0.0, self.last_publish + grace - time.monotonic()))
        for run_dir, stream, names in self.pending:
            try:
                delete_segments(run_dir, stream, names)
            except OSError as e:  # the merged file covers them: readers skip them, no harm
                self.errors.append(write_error(run_dir / stream, e, "merged inputs are kept"))
        self.pending.clear()


WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT})
"""Errors that mean compaction may not write a folder (not that a file is unreadable)."""


def is_write_error(e: BaseException, inputs: Collection[Path] = ()) -> bool:
    """True when `e` says a folder cannot be written to, not that an input cannot be read."""
    if not isinstance(e, OSError) or e.errno not in WRITE_ERRNOS:
        return False
    name = e.filename
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    return not (isinstance(name, str) and Path(name) in set(inputs))


def write_error(folder: Path, e: OSError, kept: str = "nothing was changed") -> str:
    return f"cannot write to {folder}: {e.strerror or e} ({kept})"


def live_writers(run_dir: Path) -> set[str]:
    """Writers of the run that may still be sealing segments."""
    return {s.writer for s in writer_states(run_dir) if writer_alive(run_dir, s)}


def readable_groups(
    run_dir: Path, stream: str, groups: list[list[SegmentName]]
) -> list[list[SegmentName]]:
    """Split merge groups around files that are not whole Parquet (those stay untouched)."""
    out: list[list[SegmentName]] = []
    for group in groups:
        current: list[SegmentName] = []
        for name in group:
            path = segment_path(run_dir, stream, name)
            if looks_whole(path):
                current.append(name)
                continue
            warn_skipped(path, "not a whole Parquet file; left in place, not compacted")
            if len(current) > 1:
                out.append(current)
            current = []
        if len(current) > 1:
            out.append(current)
    return out


def compact_stream(run_dir: Path, stream: str, busy: set[str], report: CompactionReport) -> None:
    names = list_segments(run_dir / stream)
    idle = [n for n in names if n.writer not in busy]
    stale = covered_segments(idle)
    try:
        delete_segments(run_dir, stream, stale)
    except OSError as e:
        if not is_write_error(e):
            raise
        report.errors.append(write_error(run_dir / stream, e))
        return  # a folder we may not write: no merge could be published there either
    report.deleted_covered += len(stale)
    for group in readable_groups(run_dir, stream, plan_full_merge(idle)):
        try:
            merge_segments(run_dir, stream, group)
        except (OSError, pa.ArrowException) as e:
            if is_write_error(e, [segment_path(run_dir, stream, n) for n in group]):
                assert isinstance(e, OSError)
                report.errors.append(write_error(run_dir / stream, e))
                return
            first = segment_path(run_dir, stream, group[0])
            warn_skipped(
                first.parent,
                f"segments {group[0].lo}..{group[-1].hi} of writer "
                f"{group[0].writer} not merged: one cannot be read ({e})",
            )
            continue
        report.last_publish = time.monotonic()
        report.pending.append((run_dir, stream, group))
        report.merged_files += len(group)
        report.written_files += 1


def compact_run(
    run_dir: Path, report: CompactionReport | None = None, grace: float = GRACE_SECS
) -> CompactionReport:
    """Compact every stream of one run (its live writers' files are left alone)."""
    if report is None:
        report = compact_run(run_dir, CompactionReport(), grace)
        report.delete_pending(grace)
        return report
    busy = live_writers(run_dir)
    report.skipped_writers += len(busy)
    for stream in STREAMS:
        if (run_dir / stream).is_dir():
            compact_stream(run_dir, stream, busy, report)
    report.runs += 1
    return report


def compact(
    root: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[int, int, Path], None] | None = None,
    grace: float = GRACE_SECS,
) -> CompactionReport:
    """Compact every run under `root` (default $LOCALTRACK_DIR, then ./runs).

    Returns after the merged inputs are deleted, `grace` seconds after the last merge.
    """
    report = CompactionReport()
    runs = find_runs(runs_root(root))
    for i, run_dir in enumerate(runs):
        if progress is not None:
            progress(i, len(runs), run_dir)
        compact_run(run_dir, report, grace)
    report.delete_pending(grace)
    if report.errors:
        warnings.warn(
            f"localtrack: compact could not write {len(report.errors)} folders: {report.errors[0]}",
            CompactionWarning,
            stacklevel=2,
        )
    return report


class CompactionWarning(LocaltrackWarning):
    """Compaction could not write some folders (they were left as they are)."""
