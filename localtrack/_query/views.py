"""The SQL text of every view `connect()` creates: pure functions from file lists to SQL.

Each stream view reads an explicit list of live segment files with one `read_parquet`, so
DuckDB plans one scan per stream however many runs there are, and it selects the columns of
docs/FORMAT.md by name (columns a newer minor writer adds are ignored). A stream with no
files reads an empty registered table with the same columns, so every view always exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from localtrack._query.hive import HIVE_OPTIONS, HivePath
from localtrack._query.overwrite import LATEST_SQL
from localtrack._store.schema import STREAMS, TAGGED_STREAMS

KEYED_STREAMS = ("config", "summary")
"""Streams of (key, value) writes; their views hold the current value of each key."""


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def empty_table_name(stream: str) -> str:
    return f"_localtrack_empty_{stream}"


def raw_view_name(stream: str) -> str:
    """The view of every row of a stream (keyed streams' public view collapses it, tagged
    streams' public view hides what a purge hides)."""
    if stream in KEYED_STREAMS:
        return f"_{stream}_rows"
    return f"_{stream}_all" if stream in TAGGED_STREAMS else stream


def file_list_sql(paths: Sequence[str | Path]) -> str:
    return "[" + ", ".join(quote(str(p)) for p in paths) + "]"


def _source_sql(stream: str, paths: Sequence[str | Path], row_numbers: bool = False) -> str:
    """SELECT the stream's columns from `paths` (or from its empty table when there are none);
    with `row_numbers`, also each row's position in its file as `file_row_number`.

    HivePath entries (hive.py) are read in a second scan whose `run_id` comes from their
    `run_id=` folder, so a filter on run_id skips other runs' files unopened."""
    names = STREAMS[stream].names
    columns = ", ".join(ident(c) for c in names)
    if not paths:
        return f"SELECT {columns} FROM {ident(empty_table_name(stream))}"
    options = "binary_as_string = false" + (", file_row_number = true" if row_numbers else "")
    hive = [] if row_numbers else [p for p in paths if isinstance(p, HivePath)]
    plain = [p for p in paths if not isinstance(p, HivePath)] if hive else paths
    scans = []
    if plain:
        scans.append(f"read_parquet({file_list_sql(plain)}, hive_partitioning = false, {options})")
    if hive:
        scans.append(f"read_parquet({file_list_sql(hive)}, {HIVE_OPTIONS}, {options})")
    if len(scans) == 1:
        return f"SELECT {columns} FROM {scans[0]}"
    union = " UNION ALL ".join(f"SELECT {columns} FROM {scan}" for scan in scans)
    return f"SELECT * FROM ({union})"  # one SELECT, so that a WHERE appended holds for both


def stream_view_sql(stream: str, paths: Sequence[str | Path]) -> str:
    """CREATE VIEW of every row of one stream over `paths` (its raw view)."""
    return f"CREATE VIEW {ident(raw_view_name(stream))} AS {_source_sql(stream, paths)}"


def visible_view_sql(
    stream: str,
    plain: Sequence[str | Path],
    filtered: Sequence[str | Path],
    hidden: str,
    latest: Sequence[str | Path] = (),
) -> str:
    """CREATE VIEW of a tagged stream's rows that no purge hides and no later value replaces.

    `plain` files are read as they are (no purge hides any of their rows); rows of `filtered`
    files are kept unless the SQL condition `hidden` holds; `latest` files (of writers that
    logged a key twice at one step, overwrite.py) also keep only the last row per (run_id,
    writer, tag, step). Without filtered or latest files the view is the raw view itself, so
    a store without purges or overwrites pays nothing.
    """
    name = ident(stream)
    if not filtered and not latest:
        return f"CREATE VIEW {name} AS SELECT * FROM {ident(raw_view_name(stream))}"
    keep = f"WHERE NOT coalesce({hidden}, FALSE)"
    parts = [f"{_source_sql(stream, plain)}"] if plain else []
    if filtered:
        parts.append(f"{_source_sql(stream, filtered)} {keep}")
    if latest:
        columns = ", ".join(ident(c) for c in STREAMS[stream].names)
        last = f"{_source_sql(stream, latest, row_numbers=True)} {keep} {LATEST_SQL}"
        parts.append(f"SELECT {columns} FROM ({last})")
    return f"CREATE VIEW {name} AS " + " UNION ALL ".join(parts)


def keyed_view_sql(stream: str) -> str:
    """The current value of each key of each run: the row with the greatest (wall_time, seq)."""
    raw = ident(raw_view_name(stream))
    return (
        f"CREATE VIEW {ident(stream)} AS "
        f"SELECT run_id, key, value::JSON AS value, wall_time FROM {raw} "
        "QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY wall_time DESC, seq DESC) = 1"
    )


MARKERS_TABLE = "_localtrack_markers"
LIVE_STATUS_TABLE = "_localtrack_live_status"
WRITER_FILES_TABLE = "_localtrack_writer_files"
"""What each `events` file says of each writer, as kept (writer_states.py)."""
WRITER_STATES_VIEW = "_localtrack_writer_rows"
"""Those rows and the rows of files not scanned yet: what the runs view merges."""

RUNS_VIEW_SQL = f"""
CREATE VIEW runs AS
WITH writer_states AS (
    SELECT run_id, writer,
        bool_or(started) AS started,
        bool_or(finished) AS finished,
        arg_max(finish_status, ended_at) FILTER (WHERE finished) AS finish_status,
        min(started_at) AS started_at,
        max(ended_at) AS ended_at,
        arg_min(start_payload, payload_at) AS start_payload,
        min(rank) AS rank,
        any_value(host) AS host
    FROM {WRITER_STATES_VIEW}
    GROUP BY run_id, writer
),
from_events AS (
    SELECT run_id,
        min(started_at) AS started_at,
        CASE WHEN bool_and(finished) THEN max(ended_at) END AS ended_at,
        CASE WHEN NOT bool_and(finished) THEN 'crashed'
             WHEN bool_or(finish_status <> 'finished') THEN 'failed'
             ELSE 'finished' END AS status,
        arg_min(start_payload, (coalesce(rank, 0), started_at))
            FILTER (WHERE start_payload IS NOT NULL) AS metadata,
        arg_min(host, (coalesce(rank, 0), started_at)) AS host,
        count(*) AS writers
    FROM writer_states
    GROUP BY run_id
),
configs AS (
    SELECT run_id, map_from_entries(list((key, value) ORDER BY key)) AS config
    FROM config GROUP BY run_id
)
SELECT
    m.run_id,
    m.project,
    m.name,
    -- no events and no fresh lease: starting (fresh marker) or killed before its first seal
    coalesce(l.status, e.status, CASE WHEN m.fresh THEN 'running' ELSE 'crashed' END) AS status,
    coalesce(e.started_at, m.created_at) AS started_at,
    CASE WHEN coalesce(l.status, e.status, 'running') <> 'running' THEN e.ended_at END
        AS ended_at,
    e.host,
    coalesce(c.config, MAP {{}}::MAP(VARCHAR, JSON)) AS config,
    coalesce(try_cast(json_extract(e.metadata, '$.tags') AS VARCHAR[]), []::VARCHAR[]) AS tags,
    json_extract_string(e.metadata, '$.notes') AS notes,
    json_extract_string(e.metadata, '$.group') AS "group",
    json_extract_string(e.metadata, '$.job_type') AS job_type,
    e.metadata::JSON AS metadata,
    coalesce(e.writers, 0) AS writers,
    m.api,
    m.path
FROM {MARKERS_TABLE} AS m
LEFT JOIN from_events AS e USING (run_id)
LEFT JOIN {LIVE_STATUS_TABLE} AS l USING (run_id)
LEFT JOIN configs AS c USING (run_id)
"""
"""One row per run: marker fields, status and times from `events`, config as a MAP."""


LOCKDOWN_SQL = (
    "SET allowed_paths = $paths",
    "SET allowed_configs = ['threads', 'memory_limit', 'TimeZone', 'Calendar']",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)
"""Statements that leave a connection able to read exactly the files in $paths, write nothing.

DuckDB keeps allowing those files after external access is switched off; every other path
(COPY TO, ATTACH, read_csv of anything, extensions) is refused, and the configuration is
locked so SQL cannot switch access back on."""
