"""Segments are published atomically: a reader sees a whole Parquet file or none.

A segment is written to a dot-prefixed `.tmp` name in its stream folder, fsynced, renamed
into place with os.replace, and the folder is fsynced; readers only ever list `*.parquet`.
"""

from __future__ import annotations

import os
from pathlib import Path

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
from localtrack._store.schema import file_metadata

_DELTA_COLUMNS = ("step", "wall_time", "seq", "pid", "num_samples")
_DICT_COLUMNS = ("run_id", "tag", "writer", "host", "key", "kind", "status", "format", "rank")


def _write_options(schema: pa.Schema) -> dict[str, object]:
    names = set(schema.names)
    encodings = {c: "DELTA_BINARY_PACKED" for c in _DELTA_COLUMNS if c in names}
    if "value" in names and schema.field("value").type == pa.float64():
        encodings["value"] = "BYTE_STREAM_SPLIT"
    return {
        "compression": "zstd",
        "compression_level": 3,
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


def publish(run_dir: Path, stream: str, name: SegmentName, table: pa.Table) -> Path:
    """Write `table` as segment `name` of `stream`, visible only once complete and durable."""
    final = segment_path(run_dir, stream, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    table = table.replace_schema_metadata(file_metadata(stream))
    with open(tmp, "wb") as f:
        pq.write_table(table, f, **_write_options(table.schema))  # type: ignore[arg-type]
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


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


def read_segment(path: Path) -> pa.Table:
    """One segment as an Arrow table, after checking its format version."""
    table = pq.read_table(path)
    check_version(table.schema.metadata, path)
    return table


def read_stream(run_dir: Path, stream: str) -> pa.Table | None:
    """Every live row of one stream of one run, or None when it has no segments yet."""
    tables = [read_segment(p) for p in live_segment_paths(run_dir, stream)]
    if not tables:
        return None
    return pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="default"
    )
