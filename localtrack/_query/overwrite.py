"""W&B's one value per key per step: which writers logged a key twice at one step, and the SQL.

`run.log({"a": 1}, step=5); run.log({"a": 2}, step=5)` (or `commit=False` then a commit) keeps
`a = 2` at step 5 in W&B. The writer notices a repeated key only when a log() lands on the step
of the previous call, and then records one `overwrite` event for itself (localtrack/_writer/
run.py). For the writers so marked, and only their files, the tagged views keep the last row
per (run_id, writer, tag, step): the greatest `seq`, then the last in its file. Nothing on disk
changes; every row stays in the `_<stream>_all` views. Writers without the event (every
SummaryWriter: TensorBoard keeps every point) are read untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa

from localtrack._query.purge import EventRow

KIND = "overwrite"

OVERWRITERS_TABLE = "_overwriters"
"""The connection's table of the (run_id, writer) pairs whose repeats the views drop."""

LATEST_SQL = (
    "QUALIFY row_number() OVER (PARTITION BY run_id, writer, tag, step "
    "ORDER BY seq DESC, file_row_number DESC) = 1"
)
"""Keeps the last row per (run_id, writer, tag, step) of a read with file_row_number = true."""


def overwriters(events: Iterable[EventRow]) -> set[tuple[str, str]]:
    """The (run_id, writer) pairs that recorded an `overwrite` event."""
    return {(e.run_id, e.writer) for e in events if e.kind == KIND}


def overwriters_table(pairs: Iterable[tuple[str, str]]) -> pa.Table:
    """The pairs as the connection's `_overwriters` table."""
    found = sorted(pairs)
    return pa.table(
        {"run_id": [r for r, _ in found], "writer": [w for _, w in found]},
        schema=pa.schema([pa.field("run_id", pa.string()), pa.field("writer", pa.string())]),
    )


def connection_overwriters(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The runs with a writer so marked, from a connection made by connect()."""
    rows = con.sql(f"SELECT DISTINCT run_id FROM {OVERWRITERS_TABLE}").fetchall()
    return {str(r[0]) for r in rows}
