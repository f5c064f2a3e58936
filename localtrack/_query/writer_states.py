"""What each `events` file says of each of its writers, scanned once ever: the `runs` view's input.

The `runs` view derives a run's status, start, end and metadata from its writers' `start` and
`finish` events. Reading every run's `events` files at each query made `localtrack runs` cost
the whole store; but what one file says of a writer (started? finished, with which status and
when? its first start's payload, rank, host) is fixed once the file is published, and such
per-file facts merge exactly (bool_or of bool_or, min of min, arg_min by the same key). So
each file's rows are kept in a cache outside the store beside the others
($LOCALTRACK_CACHE_DIR, else ~/.cache/localtrack), keyed by path, size and mtime
(file_cache.py), and a connection scans only the `events` files it has not seen.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from localtrack._query import file_cache, views
from localtrack._query.file_cache import FileKey
from localtrack._query.files import StoreListing
from localtrack._query.last_values import cache_path
from localtrack._store.schema import WALL_TIME

CACHE_NAME = "writer-states-v1.parquet"

FILE_WRITERS = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("run_id", pa.string()),
        pa.field("writer", pa.string()),
        pa.field("started", pa.bool_()),
        pa.field("finished", pa.bool_()),
        pa.field("finish_status", pa.string()),
        pa.field("started_at", WALL_TIME),
        pa.field("ended_at", WALL_TIME),
        pa.field("start_payload", pa.string()),
        pa.field("payload_at", WALL_TIME),
        pa.field("rank", pa.int32()),
        pa.field("host", pa.string()),
    ]
)
"""One row per (events file, run_id, writer). `finish_status` is the status of the file's last
`finish` (at `ended_at`), `start_payload` the payload of its first `start` with one (at
`payload_at`): merged over files by those times, they are what one scan of every file gives."""

_FILE_SQL = """
    SELECT filename, run_id, writer,
        bool_or(kind = 'start') AS started,
        bool_or(kind = 'finish') AS finished,
        arg_max(coalesce(status, 'finished'), wall_time) FILTER (WHERE kind = 'finish')
            AS finish_status,
        min(wall_time) FILTER (WHERE kind = 'start') AS started_at,
        max(wall_time) FILTER (WHERE kind = 'finish') AS ended_at,
        arg_min(payload, wall_time) FILTER (WHERE kind = 'start') AS start_payload,
        min(wall_time) FILTER (WHERE kind = 'start' AND payload IS NOT NULL) AS payload_at,
        min(rank) AS rank,
        any_value(host) AS host
    FROM read_parquet($files, filename = true, hive_partitioning = false)
    GROUP BY filename, run_id, writer
"""


def states_cache_path() -> Path:
    return cache_path().with_name(CACHE_NAME)


def scan_files(
    con: duckdb.DuckDBPyConnection,
    listing: StoreListing,
    paths: list[str],
    keys: dict[str, FileKey],
) -> pa.Table:
    """Rows of `paths` (absolute), by one DuckDB scan."""
    if not paths:
        return FILE_WRITERS.empty_table()
    read_paths = {listing.read_path(keys[p][0]): p for p in paths}
    rows = con.sql(_FILE_SQL, params={"files": list(read_paths)}).arrow().read_all()
    real = [read_paths[f] for f in rows.column("filename").to_pylist()]
    columns: dict[str, object] = {
        "path": real,
        "size": [keys[p][1] for p in real],
        "mtime_ns": [keys[p][2] for p in real],
    }
    for name in FILE_WRITERS.names[3:]:
        columns[name] = rows.column(name)
    return pa.table(columns, schema=FILE_WRITERS)


EAGER_FILES = 512
"""How many `events` files not seen before connect() scans at once; the rest are read by the
`runs` view when it is queried, so a first connect() to a big store reads no events file
until the runs are asked for (`localtrack runs` and the dashboard scan them all: complete)."""

COLUMNS = FILE_WRITERS.names[3:]


def writer_files(
    con: duckdb.DuckDBPyConnection, listing: StoreListing, limit: int | None = None
) -> tuple[pa.Table, list[str]]:
    """The per-file writer rows of the listed `events` files (cached ones not read again, at
    most `limit` others scanned now), and the read paths of the files left for later."""
    keys = file_cache.file_keys(listing, listing.files.get("events", []))
    cached, pruned = file_cache.load_rows(states_cache_path(), FILE_WRITERS, keys)
    seen = set(cached.column("path").to_pylist())
    new = [p for p in keys if p not in seen]
    now, later = (new, []) if limit is None else (new[:limit], new[limit:])
    fresh = scan_files(con, listing, now, keys)
    table = pa.concat_tables([cached, fresh]) if fresh.num_rows else cached
    if fresh.num_rows or pruned:
        file_cache.save_rows(states_cache_path(), table)
    return table, [listing.read_path(keys[p][0]) for p in later]


def view_sql(later: list[str]) -> str:
    """CREATE VIEW of every writer row the runs view merges: the registered table, plus the
    rows of the `later` files computed when the view is read."""
    columns = ", ".join(COLUMNS)
    query = f"SELECT {columns} FROM {views.WRITER_FILES_TABLE}"
    if later:
        source = f"read_parquet({views.file_list_sql(later)}, filename = true, hive_partitioning = false)"
        scan = _FILE_SQL.replace(
            "read_parquet($files, filename = true, hive_partitioning = false)", source
        )
        query += f" UNION ALL SELECT {columns} FROM ({scan})"
    return f"CREATE OR REPLACE VIEW {views.WRITER_STATES_VIEW} AS {query}"


def register(con: duckdb.DuckDBPyConnection, listing: StoreListing, limit: int | None) -> None:
    """Give `con` the runs view's writer rows (see writer_files and view_sql)."""
    table, later = writer_files(con, listing, limit)
    con.register(views.WRITER_FILES_TABLE, table)
    con.execute(view_sql(later))


def complete(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> None:
    """Scan (and keep) what connect() left for the runs view to read, when it left anything:
    for callers that read every run, so that their next look finds it all cached."""
    found = con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = $name", {"name": views.WRITER_STATES_VIEW}
    ).fetchall()
    if found and "read_parquet" in found[0][0]:
        register(con, listing, None)
