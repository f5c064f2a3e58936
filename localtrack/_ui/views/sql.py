"""The SQL console: one read-only DuckDB query over the views of `localtrack sql`.

`/api/sql/query?sql=…` answers the first ROW_LIMIT rows and the total count (the rest of
the result is read and counted, not kept), `/api/sql/query.csv?sql=…` streams every row as
CSV, `/api/sql/schema` lists the views and their columns. Queries run on the snapshot's
cursor, so they read exactly what `localtrack.connect()` reads; _sql_guard.py says what is
refused and stops a query at its time limit.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.types as pt

from localtrack._ui.answer import Answer, json_answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.views import View
from localtrack._ui.views._sql_cells import table_json
from localtrack._ui.views._sql_guard import Limit, Refused, check_query, query_error
from localtrack._ui.wire import finite_or_text

VIEW = View("sql", "SQL", 90, "js/views/sql.js")

ROW_LIMIT = 10_000
"""Rows the console's table receives; the answer says how many the result has."""
QUERY_SECONDS = 10.0
"""A console query is interrupted after this long (counting the rest of its rows included)."""
DOWNLOAD_SECONDS = 120.0
"""A CSV download is cut off after this long."""
BATCH_ROWS = 8192


def store_paths(snap: Snapshot) -> Iterator[str]:
    for runs in snap.streams.values():
        for paths in runs.values():
            yield from paths


def failed(message: str, kind: str) -> Answer:
    return json_answer({"error": message, "kind": kind}, 400)


def read_head(reader: pa.RecordBatchReader, limit: Limit) -> tuple[pa.Table, int, bool]:
    """The first ROW_LIMIT rows, the number of rows counted, and whether that is all of
    them (False: the time limit stopped the count after the first ROW_LIMIT rows)."""
    kept: list[pa.RecordBatch] = []
    have = 0
    total = 0
    try:
        for batch in reader:
            if have < ROW_LIMIT:
                part = batch.slice(0, ROW_LIMIT - have)
                kept.append(part)
                have += part.num_rows
            total += batch.num_rows
    except OSError:
        if not (limit.fired and have >= ROW_LIMIT):
            raise
        return pa.Table.from_batches(kept, reader.schema), total, False
    return pa.Table.from_batches(kept, reader.schema), total, True


def query_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    try:
        text = check_query(query.get("sql", ""))
    except Refused as e:
        return failed(str(e), "refused")
    started = time.monotonic()
    with Limit(cur, QUERY_SECONDS) as limit:
        try:
            relation = cur.sql(text)
            types = [str(t) for t in relation.types]
            head, total, exact = read_head(relation.arrow(BATCH_ROWS), limit)
        except (duckdb.Error, OSError) as e:
            message = query_error(e, limit, store_paths(snap))
            if message is None:
                raise duckdb.IOException(str(e)) from e  # the server retries once
            return failed(message, "timeout" if limit.fired else "query")
    columns, data = table_json(head)
    for column, duck_type in zip(columns, types, strict=True):
        column["type"] = duck_type
    return json_answer(
        {
            "columns": columns,
            "data": data,
            "rows": head.num_rows,
            "total": total,
            "total_exact": exact,
            "row_limit": ROW_LIMIT,
            "seconds": round(time.monotonic() - started, 4),
            "time_limit": QUERY_SECONDS,
        }
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return json.dumps(finite_or_text(value), ensure_ascii=False, default=str)


def csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with the columns a CSV cannot hold as they are (lists, structs, maps,
    blobs, intervals) turned into text: JSON, blobs as base64."""
    arrays = []
    for array in batch.columns:
        t = array.type
        plain = not (pt.is_nested(t) or pt.is_binary(t) or pt.is_large_binary(t))
        plain = plain and not pt.is_interval(t) and not pt.is_fixed_size_binary(t)
        arrays.append(
            array if plain else pa.array([_text(v) for v in array.to_pylist()], pa.string())
        )
    return pa.RecordBatch.from_arrays(arrays, batch.schema.names)


def csv_chunks(reader: pa.RecordBatchReader, limit: Limit) -> Iterator[bytes]:
    try:
        header = pcsv.WriteOptions(include_header=True, quoting_style="needed")
        rest = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        empty = pa.RecordBatch.from_pylist([], reader.schema)
        sink = io.BytesIO()
        pcsv.write_csv(csv_ready(empty), sink, header)
        yield sink.getvalue()
        for batch in reader:
            if batch.num_rows:
                sink = io.BytesIO()
                pcsv.write_csv(csv_ready(batch), sink, rest)
                yield sink.getvalue()
    finally:
        limit.cancel()


def csv_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    try:
        text = check_query(query.get("sql", ""))
    except Refused as e:
        return failed(str(e), "refused")
    limit = Limit(cur, DOWNLOAD_SECONDS).start()
    try:
        reader = cur.sql(text).arrow(BATCH_ROWS)
    except duckdb.Error as e:
        limit.cancel()
        message = query_error(e, limit, store_paths(snap))
        if message is None:
            raise
        return failed(message, "timeout" if limit.fired else "query")
    return Answer(
        200,
        content_type="text/csv; charset=utf-8",
        headers=[("Content-Disposition", 'attachment; filename="query.csv"')],
        stream=csv_chunks(reader, limit),
    )


SCHEMA_SQL = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = 'main' AND NOT starts_with(table_name, '_') "
    "ORDER BY table_name, ordinal_position"
)


def schema_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    """The views a query can read, each with its columns and their types."""
    views: dict[str, list[dict[str, str]]] = {}
    for table, column, data_type in cur.sql(SCHEMA_SQL).fetchall():
        views.setdefault(table, []).append({"name": column, "type": data_type})
    return json_answer({"views": [{"name": n, "columns": c} for n, c in views.items()]})


QUERIES = {"/api/sql/query": query_answer, "/api/sql/schema": schema_answer}
STREAMS = {"/api/sql/query.csv": csv_answer}
