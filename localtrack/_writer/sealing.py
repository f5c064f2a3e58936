"""Sealing turns buffered rows into one Arrow table per stream, off the training thread.

Row shapes in the buffers (appended by the hot path, consumed here):
- scalars: (tag, value, step, wall_time_seconds); value is a float/int or a device tensor
- other tagged streams: (tag, step, wall_time_seconds, payload), payload a dict of the
  stream's payload columns or a zero-argument callable returning one (deferred work such as
  binning or PNG encoding); a callable raising BadValue drops that row with one warning
- events, config, summary: dicts of the stream's own columns (wall_time in seconds)
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from localtrack._store.schema import STREAMS
from localtrack._writer.identity import WriterIdentity
from localtrack._writer.values import (
    BadValue,
    WarnOnce,
    capture_scalar,
    capture_step,
    check_walltime,
    resolve_scalars,
)

Payload = dict[str, Any] | Callable[[], dict[str, Any]]


def _micros(seconds: list[float] | np.ndarray) -> pa.Array:
    us = (np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pa.array(us, type=pa.timestamp("us"))


def _writer_columns(n: int, ident: WriterIdentity, seq: int) -> dict[str, pa.Array]:
    return {
        "writer": pa.repeat(pa.scalar(ident.writer), n),
        "seq": pa.repeat(pa.scalar(seq, pa.int64()), n),
        "rank": pa.repeat(pa.scalar(ident.rank, pa.int32()), n),
        "host": pa.repeat(pa.scalar(ident.host), n),
        "pid": pa.repeat(pa.scalar(ident.pid, pa.int64()), n),
    }


def _table(stream: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = STREAMS[stream]
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


_TAG, _VALUE, _STEP, _TIME = (itemgetter(i) for i in range(4))


def seal_scalars(
    rows: list[tuple[Any, ...]],
    run_id: str,
    ident: WriterIdentity,
    seq: int,
    warn: WarnOnce,
    dict_rows: list[tuple[dict[str, Any], int, float]] = (),  # type: ignore[assignment]
) -> pa.Table | None:
    """The scalars table of add_scalar rows and run.log dicts (dict, step, time).

    Rows the hot path could not vet (steps, tags, times) are vetted here, one by one,
    only when the vectorised conversion refuses the chunk.
    """
    try:
        return _scalar_table(_columns(rows, dict_rows), run_id, ident, seq)
    except (TypeError, ValueError, OverflowError, pa.ArrowException):
        flat = rows + [(k, v, step, t) for d, step, t in dict_rows for k, v in d.items()]
        good = [r for r in map(_vet_scalar_row, flat, repeat(warn)) if r is not None]
        return _scalar_table(_columns(good, ()), run_id, ident, seq) if good else None


def _vet_scalar_row(row: tuple[Any, ...], warn: WarnOnce) -> tuple[Any, ...] | None:
    tag, value, step, wall_time = row
    try:
        if not isinstance(tag, str) or not tag:
            raise BadValue(f"a tag must be a non-empty string, got {tag!r}")
        value = capture_scalar(value)
        step = 0 if step is None else capture_step(step)
        wall_time = check_walltime(wall_time)
    except BadValue as exc:
        warn(str(tag), f"scalar:{str(exc)[:20]}", str(exc))
        return None
    return tag, value, step, wall_time


_Columns = tuple[pa.Array, list[Any], np.ndarray, np.ndarray]


def _columns(rows: list[tuple[Any, ...]], dict_rows: Any) -> _Columns:
    """Tag, value, step and time columns of add_scalar rows followed by run.log dict rows."""
    n = len(rows)
    tags = pa.array(list(map(_TAG, rows)), type=pa.string())
    values = list(map(_VALUE, rows))
    steps = np.fromiter(map(_STEP, rows), dtype=np.int64, count=n)
    times = np.fromiter(map(_TIME, rows), dtype=np.float64, count=n)
    if not dict_rows:
        return tags, values, steps, times
    dtags, dsteps, dtimes = _dict_row_keys(dict_rows)
    for data, _, _ in dict_rows:
        values.extend(data.values())
    return (
        pa.concat_arrays([tags, dtags]),
        values,
        np.concatenate([steps, dsteps]),
        np.concatenate([times, dtimes]),
    )


def _dict_row_keys(
    dict_rows: list[tuple[dict[str, Any], int, float]],
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Tags, steps and times of dict rows; logs repeat the same keys, so tags are dictionary
    codes of each row's key tuple (a dict lookup per row, not a string per value)."""
    codes: dict[tuple[Any, ...], np.ndarray] = {}
    names: dict[Any, int] = {}
    parts, sizes = [], np.empty(len(dict_rows), dtype=np.int64)
    for i, (data, _, _) in enumerate(dict_rows):
        keys = tuple(data)
        code = codes.get(keys)
        if code is None:
            code = codes[keys] = np.array(
                [names.setdefault(k, len(names)) for k in keys], dtype=np.int32
            )
        parts.append(code)
        sizes[i] = len(keys)
    indices = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
    dictionary = pa.array(list(names), type=pa.string())
    tags = pa.DictionaryArray.from_arrays(pa.array(indices), dictionary).cast(pa.string())
    steps = np.repeat(np.fromiter(map(_DSTEP, dict_rows), np.int64, len(dict_rows)), sizes)
    times = np.repeat(np.fromiter(map(_DTIME, dict_rows), np.float64, len(dict_rows)), sizes)
    return tags, steps, times


_DSTEP, _DTIME = itemgetter(1), itemgetter(2)


def _scalar_table(cols: _Columns, run_id: str, ident: WriterIdentity, seq: int) -> pa.Table:
    tags, values, steps, times = cols
    n = len(tags)
    if n and pc.min(pc.utf8_length(tags)).as_py() == 0:
        raise ValueError("empty tag")
    try:
        # pyarrow refuses tensors instead of calling float() on each (a device sync apiece)
        value_arr = pa.array(values, type=pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        value_arr = pa.array(resolve_scalars(values), type=pa.float64())
    columns = {
        "run_id": pa.repeat(pa.scalar(run_id), n),
        "tag": tags,
        "step": pa.array(steps),
        "wall_time": _micros(times),
        "value": value_arr,
        **_writer_columns(n, ident, seq),
    }
    return _table("scalars", columns)


def seal_tagged(
    stream: str,
    rows: list[tuple[Any, ...]],
    run_id: str,
    ident: WriterIdentity,
    seq: int,
    warn: WarnOnce,
) -> pa.Table | None:
    kept: list[dict[str, Any]] = []
    times: list[float] = []
    for tag, step, wall_time, payload in rows:
        try:
            values = payload() if callable(payload) else payload
        except BadValue as exc:
            warn(tag, f"{stream}:{exc}", str(exc))
            continue
        kept.append({"tag": tag, "step": step, **values})
        times.append(wall_time)
    return _from_dicts(stream, kept, times, run_id, ident, seq)


def seal_records(
    stream: str, rows: list[dict[str, Any]], run_id: str, ident: WriterIdentity, seq: int
) -> pa.Table | None:
    times = [r["wall_time"] for r in rows]
    records = [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]
    return _from_dicts(stream, records, times, run_id, ident, seq)


def _from_dicts(
    stream: str,
    records: list[dict[str, Any]],
    times: list[float],
    run_id: str,
    ident: WriterIdentity,
    seq: int,
) -> pa.Table | None:
    if not records:
        return None
    n = len(records)
    schema = STREAMS[stream]
    skip = {"run_id", "wall_time", "writer", "seq", "rank", "host", "pid"}
    body = pa.Table.from_pylist(
        records, schema=pa.schema([f for f in schema if f.name not in skip])
    )
    cols: dict[str, pa.Array] = {
        "run_id": pa.repeat(pa.scalar(run_id), n),
        "wall_time": _micros(times),
        **_writer_columns(n, ident, seq),
    }
    for name in body.column_names:
        cols[name] = body.column(name).combine_chunks()
    return _table(stream, cols)
