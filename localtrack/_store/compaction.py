"""Compaction merges a writer's small segments into one file, invisibly to readers.

The merged file covers the inputs' sequence range and is published before any input is
deleted, so a reader that drops covered files (layout.live_segments) counts every row once
at every instant. Planning is pure; merge_segments is the thin I/O shell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from localtrack._store.layout import SegmentName, live_segments, segment_path
from localtrack._store.schema import STREAMS
from localtrack._store.segments import open_segment, publish

MERGE_BATCH_ROWS = 16384

FANOUT = 16
"""Segments of one level merged at a time: a 24-hour run at 2 seals/s keeps < 100 files."""


def level(name: SegmentName) -> int:
    """0 for a fresh segment, 1 for a merge of FANOUT of them, and so on."""
    span, lv = name.hi - name.lo + 1, 0
    while span >= FANOUT:
        span //= FANOUT
        lv += 1
    return lv


def _contiguous(names: list[SegmentName]) -> bool:
    return all(b.lo == a.hi + 1 for a, b in itertools.pairwise(names))


def plan_tail_merge(names: list[SegmentName], fanout: int = FANOUT) -> list[SegmentName] | None:
    """The newest `fanout` live segments of one writer, when they share a level and touch.

    Applied after every seal this keeps a writer's live files at most (fanout - 1) per level.
    """
    live = live_segments(names)
    if len(live) < fanout:
        return None
    tail = live[-fanout:]
    if len({n.writer for n in tail}) != 1 or len({level(n) for n in tail}) != 1:
        return None
    return tail if _contiguous(tail) else None


def plan_full_merge(names: list[SegmentName]) -> list[list[SegmentName]]:
    """For writers that are gone: every writer's contiguous live segments, one group each."""
    groups: list[list[SegmentName]] = []
    for n in live_segments(names):
        if groups and groups[-1][-1].writer == n.writer and groups[-1][-1].hi + 1 == n.lo:
            groups[-1].append(n)
        else:
            groups.append([n])
    return [g for g in groups if len(g) > 1]


def merge_segments(
    run_dir: Path,
    stream: str,
    names: list[SegmentName],
    check: Callable[[], None] = lambda: None,
) -> SegmentName:
    """Publish one segment holding every row of `names` (which must be one writer's, in order).

    The inputs are left in place; delete them with delete_segments once readers moved on.
    `check` runs before each batch and may raise to abandon the merge (nothing is published).
    """
    target = SegmentName(names[0].writer, names[0].lo, names[-1].hi)
    publish(run_dir, stream, target, _batches(run_dir, stream, names, check))
    return target


def _batches(
    run_dir: Path, stream: str, names: list[SegmentName], check: Callable[[], None]
) -> Iterator[pa.RecordBatch]:
    """Every row of the named segments, a bounded batch at a time (memory stays flat)."""
    schema = STREAMS[stream]
    for name in names:
        with open_segment(segment_path(run_dir, stream, name)) as f:
            for batch in f.iter_batches(batch_size=MERGE_BATCH_ROWS):
                check()
                yield batch.cast(schema) if batch.schema != schema else batch


def delete_segments(run_dir: Path, stream: str, names: list[SegmentName]) -> None:
    for n in names:
        segment_path(run_dir, stream, n).unlink(missing_ok=True)
