"""Per-file facts kept outside the store, keyed by each segment's path, size and mtime.

Segments never change once published, so what a scan found in one file stays true while the
file's (path, size, mtime_ns) does. A cache is one Parquet file whose first three columns are
that key; a missing or unreadable cache reads as empty, and one that cannot be written only
costs speed next time. Nothing in the store is ever written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._query.files import StoreListing
from localtrack._store.segments import write_atomic

FileKey = tuple[Path, int, int]
"""(the listed path, size, mtime_ns) of a file."""


def file_keys(listing: StoreListing, paths: Iterable[Path]) -> dict[str, FileKey]:
    """`paths` by absolute path with their keys; files that vanished are left out."""
    keys: dict[str, FileKey] = {}
    for path in paths:
        fd = listing.pinned.get(path)
        try:
            st = os.fstat(fd) if fd is not None else os.stat(path)
        except FileNotFoundError:
            continue  # the query over it will fail and be retried on a fresh listing
        keys[os.path.abspath(path)] = (path, st.st_size, st.st_mtime_ns)
    return keys


def load_rows(cache: Path, schema: pa.Schema, keys: dict[str, FileKey]) -> tuple[pa.Table, bool]:
    """The cached rows of files still listed and unchanged, and whether any were dropped."""
    try:
        table = pq.read_table(cache, schema=schema)
    except (OSError, pa.ArrowException):
        return schema.empty_table(), False
    paths = table.column("path").to_pylist()
    sizes = table.column("size").to_pylist()
    mtimes = table.column("mtime_ns").to_pylist()
    keep = [
        p in keys and keys[p][1:] == (s, m) for p, s, m in zip(paths, sizes, mtimes, strict=True)
    ]
    return table.filter(pa.array(keep, pa.bool_())), not all(keep)


def save_rows(cache: Path, table: pa.Table) -> None:
    """Write the cache whole (atomically); a folder we cannot write is left alone."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        write_atomic(cache, sink.getvalue().to_pybytes())
    except OSError:
        pass
