"""The scalars view's endpoints: /api/tags, /api/series (M4, series-v1) and full downloads.

Series queries read only the listed scalars files of the runs asked for (one
`read_parquet` over them), so a chart of five runs never opens the other runs' files; the
tag, run ids and range are bound parameters. Tags come from the snapshot's per-tag tails,
with no scan. Downloads stream every row (never a sample) as CSV or Parquet.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from localtrack._query.views import file_list_sql, ident
from localtrack._store.schema import STREAMS
from localtrack._ui import params as p
from localtrack._ui.answer import Answer, BadRequest, json_answer
from localtrack._ui.m4 import RAW_FACTOR, X_KINDS, SeriesRequest, series_sql
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.wire import FORMAT, encode_series, split_rows

SCALAR_COLUMNS = ("run_id", "tag", "step", "wall_time", "value")
BATCH_ROWS = 256 * 1024
_EMPTY = (
    "(SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS tag, NULL::BIGINT AS step, "
    "NULL::TIMESTAMP AS wall_time, NULL::DOUBLE AS value WHERE false)"
)


def source_sql(snap: Snapshot, runs: tuple[str, ...]) -> str:
    """SQL reading the scalars files of `runs` only (their paths come from the listing)."""
    paths = [path for run in runs for path in snap.files.get(run, [])]
    if not paths:
        return _EMPTY
    columns = ", ".join(ident(c) for c in SCALAR_COLUMNS)
    return (
        f"(SELECT {columns} FROM read_parquet({file_list_sql(paths)}, "
        "hive_partitioning = false, binary_as_string = false))"
    )


def all_runs(snap: Snapshot) -> tuple[str, ...]:
    return tuple(r["run_id"] for r in snap.facts["runs"])


def tags_answer(snap: Snapshot, query: dict[str, str]) -> Answer:
    runs = p.run_ids(query.get("runs"))
    per_tag: pa.Table = snap.facts["per_tag"]
    if runs is not None:
        per_tag = per_tag.filter(pc.is_in(per_tag.column("run_id"), pa.array(runs, pa.string())))
    grouped = per_tag.group_by("tag").aggregate([("run_id", "list"), ("points", "sum")])
    rows = sorted(grouped.to_pylist(), key=lambda r: r["tag"])
    return json_answer(
        {
            "tags": [
                {"tag": r["tag"], "runs": sorted(r["run_id_list"]), "points": r["points_sum"]}
                for r in rows
            ]
        }
    )


def series_request(query: dict[str, str], snap: Snapshot) -> SeriesRequest:
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    runs = p.run_ids(query.get("runs"))
    x = query.get("x") or "step"
    if x not in X_KINDS:
        raise BadRequest(f"x must be one of {', '.join(X_KINDS)}")
    return SeriesRequest(
        tag=tag,
        runs=all_runs(snap) if runs is None else runs,
        x=x,
        width=p.integer(query.get("width"), "width", 800, 1, p.MAX_WIDTH),
        xmin=p.number(query.get("xmin"), "xmin"),
        xmax=p.number(query.get("xmax"), "xmax"),
        after=p.after(query.get("after")),
    )


def series_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    req = series_request(query, snap)
    sql, bound = series_sql(req, source_sql(snap, req.runs))
    table = cur.sql(sql, params=bound).arrow().read_all()
    rows = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}
    series = split_rows(req.runs, rows, RAW_FACTOR * req.width)
    los = [s.lo for s in series if s.lo is not None]
    his = [s.last_x for s in series if s.last_x is not None]
    xmin = req.xmin if req.xmin is not None else min(los, default=None)
    xmax = req.xmax if req.xmax is not None else max(his, default=None)
    header: dict[str, Any] = {
        "tag": req.tag,
        "x": req.x,
        "width": req.width,
        "xmin": xmin,
        "xmax": xmax,
    }
    body = encode_series(header, series)
    return Answer(
        200,
        body,
        "application/octet-stream",
        [("X-Localtrack-Format", FORMAT), ("Cache-Control", "no-store")],
    )


def _rows_sql(snap: Snapshot, tag: str, runs: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    bound: dict[str, Any] = {"tag": tag}
    names = []
    for i, run in enumerate(runs):
        bound[f"r{i}"] = run
        names.append(f"$r{i}")
    run_in = ", ".join(names) or "NULL"
    sql = (
        "SELECT s.run_id, m.name AS run_name, s.tag, s.step, s.wall_time, s.value "
        f"FROM {source_sql(snap, runs)} AS s LEFT JOIN {ident('_localtrack_markers')} AS m "
        f"USING (run_id) WHERE s.tag = $tag AND s.run_id IN ({run_in}) "
        "ORDER BY s.run_id, s.step, s.wall_time"
    )
    return sql, bound


def _download_target(snap: Snapshot, query: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    tag = query.get("tag")
    if not tag:
        raise BadRequest("tag is required")
    runs = p.run_ids(query.get("runs"))
    return tag, all_runs(snap) if runs is None else runs


def _filename(tag: str, ext: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag) or "series"
    return f'attachment; filename="{safe}.{ext}"'


def _batches(
    cur: duckdb.DuckDBPyConnection, sql: str, bound: dict[str, Any]
) -> Iterator[pa.RecordBatch]:
    reader = cur.sql(sql, params=bound).arrow(BATCH_ROWS)
    yield from reader


CSV_SQL = (
    "SELECT run_id, run_name, tag, step, "
    "strftime(wall_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS wall_time, value FROM ({})"
)


def csv_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, query: dict[str, str]) -> Answer:
    tag, runs = _download_target(snap, query)
    sql, bound = _rows_sql(snap, tag, runs)
    batches = _batches(cur, CSV_SQL.format(sql), bound)

    def chunks() -> Iterator[bytes]:
        first = True
        for batch in batches:
            sink = io.BytesIO()
            pcsv.write_csv(
                pa.Table.from_batches([batch]),
                sink,
                pcsv.WriteOptions(include_header=first, quoting_style="needed"),
            )
            first = False
            yield sink.getvalue()
        if first:
            yield b'"run_id","run_name","tag","step","wall_time","value"\n'

    return Answer(
        200,
        content_type="text/csv; charset=utf-8",
        headers=[("Content-Disposition", _filename(tag, "csv"))],
        stream=chunks(),
    )


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
    tag, runs = _download_target(snap, query)
    sql, bound = _rows_sql(snap, tag, runs)
    batches = _batches(cur, sql, bound)

    def chunks() -> Iterator[bytes]:
        sink = _Chunks()
        with pq.ParquetWriter(sink, PARQUET_SCHEMA, compression="zstd") as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_batches([batch]).cast(PARQUET_SCHEMA))
                yield sink.take()
        yield sink.take()

    return Answer(
        200,
        content_type="application/vnd.apache.parquet",
        headers=[("Content-Disposition", _filename(tag, "parquet"))],
        stream=chunks(),
    )
