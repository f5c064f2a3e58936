"""A chart's full-resolution rows as a download: /api/series.csv and /api/series.parquet.

Every row of the tag for each run, never a sample, ordered by run id, step, wall time, and
streamed in batches (chunked), so memory stays flat however long the series. Each run is
sorted by queries over step ranges of about SORT_ROWS rows that sort only (step, wall_time,
value); the run id, run name and tag columns are added per batch.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from localtrack._store.schema import STREAMS
from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest
from localtrack._ui.scalars import all_runs, source_sql
from localtrack._ui.snapshot import Snapshot

BATCH_ROWS = 256 * 1024
SORT_ROWS = 1_000_000
"""About how many rows one sort holds: a long series is sorted in step ranges of this size,
so the sort's memory stays under the snapshot's limit."""
COLUMNS = ["run_id", "run_name", "tag", "step", "wall_time", "value"]
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("run_name", pa.string()),
        pa.field("tag", pa.string()),
        pa.field("step", pa.int64()),
        pa.field("wall_time", STREAMS["scalars"].field("wall_time").type),
        pa.field("value", pa.float64()),
    ]
)
ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"


def target(snap: Snapshot, query: dict[str, str]) -> tuple[str, list[str]]:
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    runs = p.run_ids(query.get("runs"))
    return tag, sorted(all_runs(snap) if runs is None else runs)


def run_sql(snap: Snapshot, run: str, iso_time: bool) -> str:
    """One run's rows of $tag with $lo <= step < $hi, sorted (the run id is $run)."""
    rows = (
        f"SELECT s.step, s.wall_time, s.value FROM {source_sql(snap, (run,))} AS s "
        "WHERE s.tag = $tag AND s.run_id = $run AND s.step >= $lo AND s.step < $hi "
        "ORDER BY s.step, s.wall_time"
    )
    if not iso_time:
        return rows
    return f"SELECT step, strftime(wall_time, '{ISO_UTC}') AS wall_time, value FROM ({rows})"


def batches(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, tag: str, runs: list[str], iso_time: bool
) -> Iterator[pa.RecordBatch]:
    """Every row of `tag` of `runs`, in batches with all six columns."""
    names = {r["run_id"]: r["name"] for r in snap.facts["runs"]}
    for run in runs:
        for lo, hi in step_ranges(snap, cur, tag, run):
            bound = {"tag": tag, "run": run, "lo": lo, "hi": hi}
            reader = cur.sql(run_sql(snap, run, iso_time), params=bound).arrow(BATCH_ROWS)
            yield from _with_run(reader, run, names.get(run), tag)


def step_ranges(
    snap: Snapshot, cur: duckdb.DuckDBPyConnection, tag: str, run: str
) -> list[tuple[int, int]]:
    """Half-open step ranges covering the run's series of `tag`, about SORT_ROWS rows each
    when steps are spread evenly (more or fewer otherwise: only the sort's size changes)."""
    found = cur.sql(
        f"SELECT count(*), min(s.step), max(s.step) FROM {source_sql(snap, (run,))} AS s "
        "WHERE s.tag = $tag AND s.run_id = $run",
        params={"tag": tag, "run": run},
    ).fetchall()
    count, lo, hi = found[0] if found else (0, None, None)
    if not count or lo is None or hi is None:
        return []
    parts = max(1, min(-(-count // SORT_ROWS), hi - lo + 1))
    edges = [lo + (hi + 1 - lo) * k // parts for k in range(parts)] + [hi + 1]
    return list(itertools.pairwise(edges))


def _with_run(
    reader: Iterator[pa.RecordBatch], run: str, name: str | None, tag: str
) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        n = batch.num_rows
        if not n:
            continue
        constant = [pa.repeat(pa.scalar(v, pa.string()), n) for v in (run, name, tag)]
        yield pa.RecordBatch.from_arrays([*constant, *batch.columns], COLUMNS)


def _disposition(tag: str, ext: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag) or "series"
    return f'attachment; filename="{safe}.{ext}"'


def csv_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    tag, runs = target(snap, query)
    rows = batches(snap, cur, tag, runs, iso_time=True)

    def chunks() -> Iterator[bytes]:
        yield (",".join(f'"{c}"' for c in COLUMNS) + "\n").encode()
        options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        for batch in rows:
            sink = io.BytesIO()
            pcsv.write_csv(batch, sink, options)
            yield sink.getvalue()

    return Answer(
        200,
        content_type="text/csv; charset=utf-8",
        headers=[("Content-Disposition", _disposition(tag, "csv"))],
        stream=chunks(),
    )


class _Chunks(io.RawIOBase):
    """A write-only file whose bytes are collected and handed out as chunks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        self.parts.append(b)
        self.position += len(b)
        return len(b)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def parquet_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    tag, runs = target(snap, query)
    rows = batches(snap, cur, tag, runs, iso_time=False)

    def chunks() -> Iterator[bytes]:
        sink = _Chunks()
        with pq.ParquetWriter(sink, PARQUET_SCHEMA, compression="zstd") as writer:
            for batch in rows:
                writer.write_batch(batch.cast(PARQUET_SCHEMA))
                yield sink.take()
        yield sink.take()

    return Answer(
        200,
        content_type="application/vnd.apache.parquet",
        headers=[("Content-Disposition", _disposition(tag, "parquet"))],
        stream=chunks(),
    )
