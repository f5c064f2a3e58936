"""Metric points of a run read from its store, in the deterministic order the uploader sends them.

One scalars row is one point. Points come in (writer, seq) order and, within a seq, in the order
the rows sit in the file: compaction copies a writer's segments in seq order without reordering
rows, so "the first n rows of (writer, seq)" names the same rows in a fresh or a compacted file.

Rows a `purge_step` hides (localtrack/_query/purge.py: an earlier writer's steps ≥ N logged
before the purge) stay in the table and in those counts, so a purge that appears between two
passes never shifts which rows "the first n" are; they are only left out of request bodies, and
count as handled once the batch around them is acknowledged.

A key a W&B-API writer logged twice at one step (an `overwrite` event; the query views keep only
the last value, localtrack/_query/overwrite.py) is sent as every row it has, on purpose: MLflow
appends metric points and can neither replace nor delete one, and the uploader sends rows as
they are sealed, so the first value may be on the server before the second is logged. Leaving
out earlier rows only when both happen to be read together would make the server's history
depend on seal timing; sending both keeps it the same whatever the timing, and MLflow's latest
value (greatest step, then timestamp in ms, then value) is normally the one the views keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from localtrack._query import purge
from localtrack._query.purge import Purge
from localtrack._store.layout import SegmentName, live_segments
from localtrack._store.schema import STREAMS
from localtrack._store.segments import check_version, list_segments

from .encode import MetricText, metric_text
from .plan import Batch, Group, groups, plan_batches
from .state import WriterProgress

METRIC_STREAMS = ("scalars",)
"""Streams uploaded as metric points. `hparams` rows are not: the writer logs their metrics as
scalars too (TensorBoard's add_hparams does the same), so sending both would double them."""
_COLUMNS = ["tag", "step", "wall_time", "value"]
_SCHEMA = pa.schema([STREAMS["scalars"].field(c) for c in _COLUMNS])


@dataclass
class Points:
    """The points of some segments: their (writer, seq) groups and their JSON text."""

    groups: list[Group]
    """Runs of one (writer, seq), in point order."""
    tags: list[str]
    """The distinct local keys among the points."""
    text: MetricText
    files: list[SegmentName]
    skipped: int = 0
    """Rows dropped as not sendable (null value, timestamp before 1970)."""
    hidden: np.ndarray | None = None
    """Per row, whether a purge hides it (None: no row is hidden)."""

    def __len__(self) -> int:
        return len(self.text)

    @property
    def purged(self) -> int:
        """How many rows a purge hides (never sent)."""
        return 0 if self.hidden is None else int(self.hidden.sum())

    def batches(self, progress: dict[str, WriterProgress], limit: int) -> list[Batch]:
        """plan_batches over every row, then each batch's slices without the hidden rows: the
        marks (rows of each (writer, seq) done) still count them."""
        plan = plan_batches(self.groups, progress, limit)
        hidden = self.hidden
        if hidden is None:
            return plan
        return [Batch(visible_slices(b.slices, hidden), b.marks) for b in plan]


def visible_slices(
    slices: tuple[tuple[int, int], ...], hidden: np.ndarray
) -> tuple[tuple[int, int], ...]:
    """The row ranges `slices` with the rows `hidden` marks cut out, in order."""
    out: list[tuple[int, int]] = []
    for start, stop in slices:
        shown = np.concatenate([[False], ~hidden[start:stop], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(shown))
        out.extend(
            (start + int(a), start + int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)
        )
    return tuple(out)


def run_purges(events: pa.Table | None) -> list[Purge]:
    """The purge rules of a run, from its `events` rows."""
    return [] if events is None else purge.rules(purge.events_of(events))


def shown(table: pa.Table, purges: Sequence[Purge]) -> pa.Table:
    """The rows of a segment table (with `writer`, `step`, `wall_time`) no purge hides."""
    if not purges or table.num_rows == 0:
        return table
    writers = pc.dictionary_encode(table["writer"]).combine_chunks()
    code = writers.indices.to_numpy(zero_copy_only=False)
    step = table["step"].to_numpy()
    us = table["wall_time"].cast(pa.int64()).to_numpy()
    hidden = hidden_rows(purges, writers.dictionary.to_pylist(), code, step, us)
    return table if hidden is None else table.filter(pa.array(~hidden))


def hidden_rows(
    purges: Sequence[Purge], writers: list[str], code: np.ndarray, step: np.ndarray, us: np.ndarray
) -> np.ndarray | None:
    """Per row (of writer `writers[code[i]]`), whether a purge hides it; None when none is."""
    mask: np.ndarray | None = None
    for p in purges:
        if p.writer not in writers:
            continue
        m = (code == writers.index(p.writer)) & (step >= p.step) & (us < p.before_us)
        mask = m if mask is None else mask | m
    return mask if mask is not None and mask.any() else None


def pending_segments(
    run_dir: Path, stream: str, progress: dict[str, WriterProgress]
) -> list[SegmentName]:
    """Live segments of `stream` holding at least one sequence number not done."""
    live = live_segments(list_segments(run_dir / stream))
    out = []
    for name in live:
        p = progress.get(name.writer)
        if p is None or not p.covers(name.lo, name.hi):
            out.append(name)
    return out


def read_columns(path: Path, columns: list[str]) -> pa.Table:
    """The named columns of one segment, after checking its format version.

    Read on this thread: the daemon shares the node with training, and for segments of a few
    thousand rows Arrow's thread pool costs more CPU than it saves (~0.1 ms per file)."""
    pf = pq.ParquetFile(path)
    check_version(pf.metadata.metadata, path)  # the footer's key-values: no schema conversion
    return pf.read(columns=columns, use_threads=False)


def read_points(
    run_dir: Path, stream: str, files: list[SegmentName], purges: Sequence[Purge] = ()
) -> Points:
    """The sendable points of `files` (segments of `stream`, in live_segments order), with the
    rows `purges` hide marked."""
    parts: list[pa.Table] = []
    seqs: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    writers: dict[str, int] = {}
    for name in files:
        fresh = name.lo == name.hi  # one seq, named by the file: no need to read the column
        table = read_columns(
            run_dir / stream / name.filename, _COLUMNS + ([] if fresh else ["seq"])
        )
        n = table.num_rows
        seqs.append(np.full(n, name.lo, np.int64) if fresh else table["seq"].to_numpy())
        codes.append(np.full(n, writers.setdefault(name.writer, len(writers)), np.int32))
        parts.append(table.select(_COLUMNS))
    table = pa.concat_tables(parts).combine_chunks() if parts else _SCHEMA.empty_table()
    seq = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int32)
    us = table["wall_time"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    keep = np.asarray(table["value"].is_valid()) & (us >= 0)
    skipped = len(keep) - int(keep.sum())
    if skipped:
        table, seq, code, us = table.filter(keep), seq[keep], code[keep], us[keep]
    if not _in_order(code, seq):  # not from this writer's compaction: order it, stably
        order = np.argsort(seq, kind="stable")
        order = order[np.argsort(code[order], kind="stable")]
        table, seq, code, us = table.take(order), seq[order], code[order], us[order]
    tags = _column(table, "tag")
    steps = _column(table, "step")
    text = metric_text(
        tags,
        _column(table, "value"),
        pa.array(us // 1000),  # milliseconds, floored
        steps,
    )
    names = list(writers)
    hidden = (
        hidden_rows(purges, names, code, steps.to_numpy(zero_copy_only=False), us)
        if purges
        else None
    )
    return Points(groups(names, code, seq), tags.unique().to_pylist(), text, files, skipped, hidden)


def _column(table: pa.Table, name: str) -> pa.Array:
    col = table[name]
    return col.chunk(0) if col.num_chunks else pa.array([], col.type)


def _in_order(code: np.ndarray, seq: np.ndarray) -> bool:
    """Whether rows come by writer, then by seq (within a seq, any order is the file's)."""
    dc, ds = np.diff(code), np.diff(seq)
    return bool(np.all((dc > 0) | ((dc == 0) & (ds >= 0))))
