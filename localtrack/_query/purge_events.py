"""The `start`, `purge` and `overwrite` events the views need, reading each `events` file once ever.

Only runs whose `events` folder holds files of two writers or more can have a purge that hides
anything (purge.multi_writer_runs), and only W&B-API runs (marker `api`) an `overwrite`
(overwrite.py); their files' `start`, `purge` and `overwrite` rows are kept, per file, in
a small cache outside the store beside last_values' (`$LOCALTRACK_CACHE_DIR`, else
~/.cache/localtrack), keyed by path, size and mtime. Segments never change once published, so
a later `connect()` reads only files it has not seen: a store of many multi-writer runs (DDP
ranks) pays a `stat` per such file, not a Parquet read. A missing or unreadable cache is
rebuilt; nothing in the store is written, and a cache that cannot be written only costs speed.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from localtrack._query import file_cache
from localtrack._query.file_cache import FileKey
from localtrack._query.files import StoreListing
from localtrack._query.last_values import cache_path
from localtrack._query.purge import EventRow, events_of, multi_writer_runs

CACHE_NAME = "purge-events-v2.parquet"

FILE_EVENTS = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("run_id", pa.string()),
        pa.field("writer", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("wall_time", pa.timestamp("us")),
        pa.field("payload", pa.string()),
    ]
)
"""One row per `start`/`purge`/`overwrite` event of a file, or one row with a null `kind` for a file that
has none (so it counts as seen)."""

_FILE_SQL = """
    SELECT filename, run_id, writer, kind, wall_time, payload
    FROM read_parquet($files, filename = true, hive_partitioning = false)
    WHERE kind IN ('start', 'purge', 'overwrite')
"""


def events_cache_path() -> Path:
    return cache_path().with_name(CACHE_NAME)


def file_keys(listing: StoreListing, paths: list[Path]) -> dict[str, FileKey]:
    """The listed files by absolute path with their keys (file_cache.py)."""
    return file_cache.file_keys(listing, paths)


def load_cache(keys: dict[str, FileKey]) -> tuple[pa.Table, bool]:
    """The cached rows of files still listed and unchanged, and whether any were dropped."""
    return file_cache.load_rows(events_cache_path(), FILE_EVENTS, keys)


def scan_files(
    con: duckdb.DuckDBPyConnection,
    listing: StoreListing,
    paths: list[str],
    keys: dict[str, FileKey],
) -> pa.Table:
    """Cache rows of `paths` (absolute), read by one DuckDB scan."""
    if not paths:
        return FILE_EVENTS.empty_table()
    read_paths = {listing.read_path(keys[p][0]): p for p in paths}
    rows = con.sql(_FILE_SQL, params={"files": list(read_paths)}).arrow().read_all()
    real = [read_paths[f] for f in rows.column("filename").to_pylist()]
    quiet = sorted(set(paths) - set(real))  # files without such an event
    columns: dict[str, list[object]] = {
        "path": [*real, *quiet],
        "size": [keys[p][1] for p in [*real, *quiet]],
        "mtime_ns": [keys[p][2] for p in [*real, *quiet]],
    }
    for name in FILE_EVENTS.names[3:]:
        columns[name] = [*rows.column(name).to_pylist(), *([None] * len(quiet))]
    return pa.table(columns, schema=FILE_EVENTS)


def save_cache(table: pa.Table) -> None:
    file_cache.save_rows(events_cache_path(), table)


def purge_events(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> list[EventRow]:
    """The `start`, `purge` and `overwrite` events of the listing's multi-writer and W&B runs."""
    files = listing.files.get("events", [])
    wandb = {str(run.path) for run in listing.runs if run.marker.get("api") == "wandb"}
    candidates = multi_writer_runs(files)
    if wandb:  # string work only: this runs on every connect()
        multi = set(candidates)
        dirname = os.path.dirname
        candidates = [p for p in files if p in multi or dirname(dirname(str(p))) in wandb]
    if not candidates:
        return []
    keys = file_keys(listing, candidates)
    cached, pruned = load_cache(keys)
    seen = set(cached.column("path").to_pylist())
    fresh = scan_files(con, listing, [p for p in keys if p not in seen], keys)
    table = pa.concat_tables([cached, fresh])
    if fresh.num_rows or pruned:
        save_cache(table)
    return events_of(table.filter(pc.is_valid(table["kind"])))
