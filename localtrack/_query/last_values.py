"""Each run's last step and last value of every scalar tag, scanning each segment file once ever.

Segment files never change once published (compaction writes new names), so what one file
holds per tag (points, last step and value, min, max) is computed once and kept in a small
cache outside the store ($LOCALTRACK_CACHE_DIR, else ~/.cache/localtrack), keyed by path,
size and mtime. A later call scans only files it has not seen: the new segments of running
writers and freshly compacted files. A missing or unreadable cache is rebuilt; nothing in
the store is written. Files a `purge_step` hides rows of (purge.py) are scanned each time
without those rows and never cached: what a file shows depends on purges logged after it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from localtrack._query import file_cache, overwrite, purge
from localtrack._query.file_cache import FileKey
from localtrack._query.files import StoreListing
from localtrack._query.views import quote
from localtrack._store.schema import WALL_TIME

CACHE_ENV = "LOCALTRACK_CACHE_DIR"
CACHE_NAME = "scalar-tails-v1.parquet"

FILE_TAGS = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("run_id", pa.string()),
        pa.field("tag", pa.string()),
        pa.field("points", pa.int64()),
        pa.field("last_step", pa.int64()),
        pa.field("last_value", pa.float64()),
        pa.field("last_time", WALL_TIME),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
    ]
)
"""One row per (segment file, tag): what that file holds of the tag."""

_FILE_SQL = """
    SELECT filename, run_id, tag, count(*) AS points, max(step) AS last_step,
        arg_max(value, step) AS last_value, max(wall_time) AS last_time,
        min(value) AS min, max(value) AS max
    FROM read_parquet($files, filename = true, hive_partitioning = false)
    WHERE NOT coalesce({hidden}, FALSE)
    GROUP BY filename, run_id, tag
"""

RUN_TAGS_SQL = """
    SELECT run_id, tag, sum(points) AS points, max(last_step) AS last_step,
        arg_max(last_value, (last_step, last_time)) AS last_value, max(last_time) AS last_time,
        min(min) AS min, max(max) AS max
    FROM file_tags GROUP BY run_id, tag
"""
"""Per (run, tag) from per-file rows: the last value is the one at the greatest step."""


def cache_path() -> Path:
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base) / CACHE_NAME
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "localtrack" / CACHE_NAME


def file_keys(listing: StoreListing) -> dict[str, FileKey]:
    """The listed scalars files by absolute path with their keys (file_cache.py)."""
    return file_cache.file_keys(listing, listing.files["scalars"])


def load_cache(keys: dict[str, FileKey]) -> tuple[pa.Table, bool]:
    """The cached rows of files still listed and unchanged, and whether any were dropped."""
    return file_cache.load_rows(cache_path(), FILE_TAGS, keys)


def scan_files(
    con: duckdb.DuckDBPyConnection,
    listing: StoreListing,
    paths: list[str],
    keys: dict[str, FileKey],
    hidden: str = "FALSE",
) -> pa.Table:
    """Per-file tag rows of `paths` (absolute), computed by one DuckDB scan, without the rows
    the SQL condition `hidden` holds for."""
    if not paths:
        return FILE_TAGS.empty_table()
    read_paths = {listing.read_path(keys[p][0]): p for p in paths}
    query = _FILE_SQL.format(hidden=hidden)
    rows = con.sql(query, params={"files": list(read_paths)}).arrow().read_all()
    real = [read_paths[f] for f in rows.column("filename").to_pylist()]
    columns: dict[str, object] = {
        "path": real,
        "size": [keys[p][1] for p in real],
        "mtime_ns": [keys[p][2] for p in real],
    }
    for name in FILE_TAGS.names[3:]:
        columns[name] = rows.column(name)
    return pa.table(columns, schema=FILE_TAGS)


def save_cache(table: pa.Table) -> None:
    file_cache.save_rows(cache_path(), table)


def purged_files(
    listing: StoreListing, keys: dict[str, FileKey], rules: list[purge.Purge]
) -> set[str]:
    """The absolute paths of the listed scalars files a purge may hide rows of."""
    if not rules:
        return set()
    run_ids = {run.path: run.marker["run_id"] for run in listing.runs}
    paths = list(keys)
    hit = purge.affected([keys[p][0] for p in paths], rules, run_ids)
    return {p for p, h in zip(paths, hit, strict=True) if h}


def run_tags(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> pa.Table:
    """(run_id, tag, points, last_step, last_value, last_time, min, max) for every run's tags."""
    keys = file_keys(listing)
    rules = purge.connection_rules(con)
    purged = purged_files(listing, keys, rules)
    cached, pruned = load_cache({p: k for p, k in keys.items() if p not in purged})
    seen = set(cached.column("path").to_pylist())
    fresh = scan_files(con, listing, [p for p in keys if p not in seen and p not in purged], keys)
    file_tags = pa.concat_tables([cached, fresh])
    if fresh.num_rows or pruned:
        save_cache(file_tags)
    if purged:
        shown = scan_files(con, listing, sorted(purged), keys, purge.hidden_sql(rules))
        file_tags = pa.concat_tables([file_tags, shown])
    con.register("file_tags", file_tags)
    try:
        tags = con.sql(RUN_TAGS_SQL).arrow().read_all()
    finally:
        con.unregister("file_tags")
    return with_overwriters(con, tags)


def with_overwriters(con: duckdb.DuckDBPyConnection, tags: pa.Table) -> pa.Table:
    """`tags` with the rows of W&B runs that logged a key twice at one step taken from the
    `scalars` view, which keeps one value per step (overwrite.py); per-file tails count both."""
    marked = sorted(overwrite.connection_overwriters(con))
    if not marked:
        return tags
    names = ", ".join(quote(r) for r in marked)
    viewed = (
        con.sql(
            "SELECT run_id, tag, count(*) AS points, max(step) AS last_step, "
            "arg_max(value, (step, wall_time)) AS last_value, max(wall_time) AS last_time, "
            f"min(value) AS min, max(value) AS max FROM scalars WHERE run_id IN ({names}) "
            "GROUP BY run_id, tag"
        )
        .arrow()
        .read_all()
    )
    keep = pc.invert(pc.is_in(tags.column("run_id"), pa.array(marked, pa.string())))
    return pa.concat_tables([tags.filter(keep), viewed.cast(tags.schema)])
