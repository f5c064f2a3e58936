"""Segments are published atomically: a reader sees a whole Parquet file or none.

A segment is written to a dot-prefixed `.tmp` name in its stream folder, fsynced, renamed
into place with os.replace, and the folder is fsynced; readers only ever list `*.parquet`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._errors import FormatVersionError
from localtrack._store.layout import (
    FORMAT_VERSION,
    SegmentName,
    live_segments,
    parse_segment_name,
    segment_path,
)
from localtrack._store.schema import STREAMS, file_metadata

ROW_GROUP_ROWS = 65536
"""Rows per Parquet row group: bounds the memory a writer or compaction holds at once."""
ROW_GROUP_BYTES = 8 * 2**20
"""And bytes per row group (Arrow's size of its rows): a reader that wants one row decodes
the whole group's column, so 1,000 images of 256×256 compacted into one 187 MB group passed
the dashboard's 128 MB DuckDB limit for every image of that run (and held it all in memory
while compacting). The step statistics of each group let readers skip the others."""

_DELTA_COLUMNS = ("step", "wall_time", "seq", "pid", "num_samples")
_DICT_COLUMNS = ("run_id", "tag", "writer", "host", "key", "kind", "status", "format", "rank")
"""Dictionary-encoded: readers (DuckDB, compaction) then hold one copy of each value."""


_SMALL_OPTIONS: dict[str, object] = {
    "compression": "none",
    "use_dictionary": False,
    "write_statistics": False,
}
"""For a small segment published at once on a caller's thread (flush()): the cheapest file
pyarrow writes; compaction later merges it into a file with the options below."""


def _write_options(schema: pa.Schema) -> dict[str, object]:
    names = set(schema.names)
    encodings = {c: "DELTA_BINARY_PACKED" for c in _DELTA_COLUMNS if c in names}
    if "value" in names and schema.field("value").type == pa.float64():
        encodings["value"] = "BYTE_STREAM_SPLIT"
    return {
        "compression": "zstd",
        "compression_level": 1,
        "use_dictionary": [c for c in _DICT_COLUMNS if c in names],
        "column_encoding": encodings,
        "write_statistics": ["step", "wall_time", "seq"],
    }


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def publish(
    run_dir: Path,
    stream: str,
    name: SegmentName,
    table: pa.Table | Iterable[pa.RecordBatch],
    *,
    durable: bool = True,
) -> Path:
    """Write `table` (or a stream of record batches, as compaction does) as segment `name` of
    `stream`, visible only once complete and durable.

    durable=False (flush() on a caller's thread) writes a small uncompressed file and skips
    both fsyncs: the file is whole and visible to every process at once, and survives the
    writer being killed (the page cache outlives it); the caller makes it survive a power
    loss later with sync_published()."""
    final = segment_path(run_dir, stream, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    schema = _schema(stream)
    batches = table.to_batches() if isinstance(table, pa.Table) else table
    try:
        with open(tmp, "wb") as f:
            _write_file(f, schema, batches, durable)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    if durable:
        fsync_dir(final.parent)
    return final


def sync_published(paths: Iterable[Path]) -> None:
    """Make files published with durable=False durable: fsync each one still there (one that
    compaction already merged and deleted is durable in the merged file), then their folders."""
    folders = set()
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        folders.add(path.parent)
    for folder in folders:
        fsync_dir(folder)


_schemas: dict[str, pa.Schema] = {}


def _schema(stream: str) -> pa.Schema:
    """The stream's schema with its footer metadata (built once per stream)."""
    schema = _schemas.get(stream)
    if schema is None:
        schema = _schemas[stream] = STREAMS[stream].with_metadata(file_metadata(stream))
    return schema


def _write_file(
    f: BinaryIO, schema: pa.Schema, batches: Iterable[pa.RecordBatch], durable: bool
) -> None:
    pool = pa.default_memory_pool()  # mimalloc keeps freed pages unless asked: bound RSS
    options = _write_options(schema) if durable else _SMALL_OPTIONS
    with pq.ParquetWriter(f, schema, **options) as writer:  # type: ignore[arg-type]
        for group in _row_groups(batches, schema):
            writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
            del group
            if durable:
                pool.release_unused()
    if durable:
        f.flush()
        os.fsync(f.fileno())


def _pieces(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches, each one of more than ROW_GROUP_BYTES cut into slices of about that size."""
    for batch in batches:
        size = batch.nbytes
        if size <= ROW_GROUP_BYTES or batch.num_rows < 2:
            yield batch
            continue
        step = max(1, batch.num_rows * ROW_GROUP_BYTES // size)
        for start in range(0, batch.num_rows, step):
            yield batch.slice(start, step)


def _row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """Small batches gathered into tables of about ROW_GROUP_ROWS rows or ROW_GROUP_BYTES
    bytes, whichever comes first (one row group each)."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in _pieces(batches):
        if pending and size + batch.nbytes > ROW_GROUP_BYTES:
            yield pa.Table.from_batches(pending, schema)
            pending, rows, size = [], 0, 0
        pending.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows >= ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
            yield pa.Table.from_batches(pending, schema)
            pending, rows, size = [], 0, 0
    if pending or rows == 0:
        yield pa.Table.from_batches(pending, schema)


def list_segments(stream_dir: Path) -> list[SegmentName]:
    """Every published segment in a stream folder (covered ones included)."""
    try:
        entries = os.listdir(stream_dir)
    except FileNotFoundError:
        return []
    names = (parse_segment_name(e) for e in entries)
    return sorted(n for n in names if n is not None)


def live_segment_paths(run_dir: Path, stream: str) -> list[Path]:
    """Paths a reader should read for one stream: each row exactly once."""
    names = live_segments(list_segments(run_dir / stream))
    return [segment_path(run_dir, stream, n) for n in names]


def check_version(metadata: dict[bytes, bytes] | None, path: Path) -> None:
    """Refuse a file from a newer format, with the fix in the message."""
    raw = (metadata or {}).get(b"localtrack.format_version")
    if raw is None:
        return
    version = int(raw)
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{path} has localtrack format version {version}, newer than this localtrack "
            f"reads ({FORMAT_VERSION}); upgrade localtrack: pip install -U localtrack"
        )


@contextmanager
def open_segment(path: Path) -> Iterator[pq.ParquetFile]:
    """A segment opened for reading, after checking its format version.

    ParquetFile, unlike pq.read_table, does not make pyarrow import pandas.
    """
    with pq.ParquetFile(path) as f:
        check_version(f.schema_arrow.metadata, path)
        yield f


def read_segment(path: Path) -> pa.Table:
    """One segment as an Arrow table, after checking its format version."""
    with open_segment(path) as f:
        return f.read()


def read_stream(run_dir: Path, stream: str) -> pa.Table | None:
    """Every live row of one stream of one run, or None when it has no segments yet."""
    tables = [read_segment(p) for p in live_segment_paths(run_dir, stream)]
    if not tables:
        return None
    return pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="default"
    )
