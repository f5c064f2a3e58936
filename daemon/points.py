"""Metric points of a run read from its store, in the deterministic order the uploader sends them.

Scalars map one row to one point; hparams rows expand to one point per metric (sorted by key).
Points are sorted by (writer, seq, key, step, timestamp, value) so that "the first n rows of
(writer, seq)" names the same rows in any file that holds that seq (a fresh or compacted one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from localtrack._store.layout import SegmentName, live_segments
from localtrack._store.segments import check_version, list_segments

from .encode import metric_fragments
from .state import WriterProgress

METRIC_STREAMS = ("scalars",)
"""Streams uploaded as metric points. `hparams` rows are not: the writer logs their metrics as
scalars too (TensorBoard's add_hparams does the same), so sending both would double them."""
POINT_SCHEMA = pa.schema(
    [
        ("writer", pa.string()),
        ("seq", pa.int64()),
        ("tag", pa.string()),
        ("step", pa.int64()),
        ("ts", pa.int64()),  # milliseconds since the epoch
        ("value", pa.float64()),
    ]
)
_SORT = [(c, "ascending") for c in ("writer", "seq", "tag", "step", "ts", "value")]


@dataclass
class Points:
    """Sorted points of some segments, as Python lists (the hot loop reads them by slice)."""

    writers: list[str]
    seqs: list[int]
    tags: list[str]
    """The distinct local keys among the points."""
    fragments: list[str]
    """Each point as the JSON text of one MLflow metric (see encode.metric_fragments)."""
    files: list[SegmentName]
    skipped: int = 0
    """Rows dropped as not sendable (null value, timestamp before 1970)."""

    def __len__(self) -> int:
        return len(self.seqs)


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


def _ms(wall_time: pa.ChunkedArray) -> pa.ChunkedArray:
    """Microsecond timestamps to milliseconds (floor); times before 1970 become -1 (dropped)."""
    us = wall_time.cast(pa.int64())
    return pc.if_else(pc.less(us, 0), -1, pc.divide(us, 1000))


def _scalar_points(table: pa.Table) -> pa.Table:
    return pa.table(
        [
            table["writer"],
            table["seq"],
            table["tag"],
            table["step"],
            _ms(table["wall_time"]),
            table["value"],
        ],
        schema=POINT_SCHEMA,
    )


def _hparam_points(table: pa.Table) -> pa.Table:
    rows: dict[str, list[object]] = {n: [] for n in POINT_SCHEMA.names}
    table = table.set_column(
        table.schema.get_field_index("wall_time"), "wall_time", _ms(table["wall_time"])
    )
    cols = table.select(["writer", "seq", "step", "wall_time", "metrics"]).to_pylist()
    for r in cols:
        try:
            metrics = json.loads(r["metrics"] or "{}")
        except ValueError:
            continue
        ts = r["wall_time"]
        for key in sorted(metrics):
            value = metrics[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            for n, v in zip(
                POINT_SCHEMA.names,
                (r["writer"], r["seq"], key, r["step"], ts, float(value)),
                strict=True,
            ):
                rows[n].append(v)
    return pa.table(rows, schema=POINT_SCHEMA)


_COLUMNS = {
    "scalars": ["writer", "seq", "tag", "step", "wall_time", "value"],
    "hparams": ["writer", "seq", "step", "wall_time", "metrics"],
}


def read_columns(path: Path, columns: list[str]) -> pa.Table:
    """The named columns of one segment, after checking its format version.

    Read on this thread: the daemon shares the node with training, and for segments of a few
    thousand rows Arrow's thread pool costs more CPU than it saves (~0.1 ms per file)."""
    pf = pq.ParquetFile(path)
    check_version(pf.metadata.metadata, path)  # the footer's key-values: no schema conversion
    return pf.read(columns=columns, use_threads=False)


def read_points(run_dir: Path, stream: str, files: list[SegmentName]) -> Points:
    """The points of `files` (segments of `stream`), filtered and sorted."""
    parts = []
    for name in files:
        table = read_columns(run_dir / stream / name.filename, _COLUMNS[stream])
        parts.append(_scalar_points(table) if stream == "scalars" else _hparam_points(table))
    table = pa.concat_tables(parts) if parts else POINT_SCHEMA.empty_table()
    keep = pc.and_(pc.is_valid(table["value"]), pc.greater_equal(table["ts"], 0))
    keep = keep.fill_null(False)
    skipped = table.num_rows - pc.sum(keep).as_py() if table.num_rows else 0
    table = table.filter(keep)
    table = table.take(pc.sort_indices(table, sort_keys=_SORT))
    return Points(
        writers=table["writer"].to_pylist(),
        seqs=table["seq"].to_pylist(),
        tags=pc.unique(table["tag"]).to_pylist(),
        fragments=metric_fragments(table["tag"], table["value"], table["ts"], table["step"]),
        files=files,
        skipped=int(skipped or 0),
    )
