"""Sealing turns buffered rows into one Arrow table per stream, off the training thread.

Row shapes in the buffers (appended by the hot path, consumed here):
- scalars: flat, four items per row, tag, value, step, wall_time_seconds (value a float/int or
  a device tensor), added by one `list.extend((tag, value, step, time))`: atomic under the GIL,
  so threads may share the buffer; the extend's tuple is freed at once (and reused), and the
  seal reads each column as one slice (`buffer[1::4]`), with no per-row tuple to take apart
- run.log's plain numbers: columns in a ScalarBlock (localtrack._writer.blocks), sealed as scalars
- other tagged streams: (tag, step, wall_time_seconds, payload, nbytes), payload a dict of the
  stream's payload columns or a zero-argument callable returning one (deferred work such as
  binning or PNG encoding); a callable raising BadValue drops that row with one warning
- events, config, summary: dicts of the stream's own columns (wall_time in seconds)

Columns are built through numpy buffers (localtrack._store.arrays), so logging never makes
pyarrow import pandas.
"""

from __future__ import annotations

from itertools import chain, repeat
from typing import Any

import numpy as np
import pyarrow as pa

from localtrack._store.arrays import column, constant, dictionary_strings, numbers, strings
from localtrack._store.schema import STREAMS
from localtrack._writer.blocks import TakenBlock
from localtrack._writer.identity import WriterIdentity
from localtrack._writer.values import (
    BadValue,
    WarnOnce,
    capture_scalar,
    capture_step,
    check_walltime,
    resolve_scalars,
)

SCALAR_WIDTH = 4
"""Items per row in the flat scalars buffer: tag, value, step, wall time."""
_TIMESTAMP = pa.timestamp("us")
_DOUBLE_MAX = int(np.finfo(np.float64).max)


def _micros(seconds: Any) -> pa.Array:
    return numbers((np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64), _TIMESTAMP)


_CONSTANT_COLUMNS = ("run_id", "writer", "rank", "host", "pid")
_CACHED_WRITERS = 4
_constants: dict[tuple[str, WriterIdentity], dict[str, pa.Array]] = {}


def _head_and_writer(n: int, run_id: str, ident: WriterIdentity, seq: int) -> dict[str, pa.Array]:
    """The columns every row of a segment shares, as zero-copy slices of cached arrays (a seal
    builds them once per writer, not once per row)."""
    cached = _constants.get((run_id, ident))
    if cached is None or len(cached["run_id"]) < n:
        size = max(n, 2 * len(cached["run_id"]) if cached else 1 << 15)
        while len(_constants) >= _CACHED_WRITERS:
            del _constants[next(iter(_constants))]  # the oldest writer's
        cached = _constants[(run_id, ident)] = {
            "run_id": constant(run_id, pa.string(), size),
            "writer": constant(ident.writer, pa.string(), size),
            "rank": constant(ident.rank, pa.int32(), size),
            "host": constant(ident.host, pa.string(), size),
            "pid": constant(ident.pid, pa.int64(), size),
        }
    columns = {name: cached[name].slice(0, n) for name in _CONSTANT_COLUMNS}
    columns["seq"] = constant(seq, pa.int64(), n)
    return columns


def _table(stream: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = STREAMS[stream]
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


# ---- scalars -----------------------------------------------------------------------------


def scalar_rows(flat: list[Any]) -> list[tuple[Any, ...]]:
    """The (tag, value, step, time) rows of a flat scalars buffer."""
    items = iter(flat)
    return list(zip(items, items, items, items, strict=True))


def seal_scalars(
    flat: list[Any],
    run_id: str,
    ident: WriterIdentity,
    seq: int,
    warn: WarnOnce,
    block: TakenBlock | None = None,
    device: bool = False,
) -> pa.Table | None:
    """The scalars table of add_scalar rows (a flat buffer) and run.log's block of numbers.

    `device` says device tensors may be among the values: they are then moved in one
    transfer per device. Rows the hot path did not vet (steps, tags, times) are vetted here,
    one by one, only when the vectorised conversion refuses the chunk.
    """
    try:
        return _scalar_table(flat, block, device, run_id, ident, seq)
    except (TypeError, ValueError, OverflowError, UnicodeError, pa.ArrowException):
        rows = scalar_rows(flat) + (block.rows() if block is not None else [])
        good = [r for r in map(_vet_scalar_row, rows, repeat(warn)) if r is not None]
        if not good:
            return None
        return _scalar_table(list(chain.from_iterable(good)), None, device, run_id, ident, seq)


def _vet_scalar_row(row: tuple[Any, ...], warn: WarnOnce) -> tuple[Any, ...] | None:
    tag, value, step, wall_time = row
    try:
        if not isinstance(tag, str) or not tag:
            raise BadValue(f"a tag must be a non-empty string, got {tag!r}")
        value = capture_scalar(value)
        if type(value) is int and not -_DOUBLE_MAX <= value <= _DOUBLE_MAX:
            raise BadValue(f"{str(value)[:12]}... is too big for a float64 value")
        step = 0 if step is None else capture_step(step)
        wall_time = check_walltime(wall_time)
    except BadValue as exc:
        warn(str(tag), f"scalar:{str(exc)[:20]}", str(exc))
        return None
    return tag, value, step, wall_time


def _check_tags(names: list[Any]) -> None:
    """Refuse the chunk (its rows are then vetted one by one) when a tag is not a string."""
    if any(type(t) is not str or not t for t in names):
        raise ValueError("a tag that is not a non-empty string")


def _tag_codes(tags: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes of the tags and the distinct tags.

    A training loop logs the same tags in the same order every step: when the tags repeat
    with a period, the codes are that period's, tiled, found by list compares that mostly
    compare identical string objects; other mixes are coded one tag at a time."""
    n = len(tags)
    if n == 0:
        return np.zeros(0, np.int32), []
    first = tags.count(tags[0])
    if first == n:  # one tag
        _check_tags(tags[:1])
        return np.zeros(n, np.int32), tags[:1]
    period = tags.index(tags[0], 1) if first > 1 else n
    head = tags[:period]
    if period < n and tags[period:] == tags[:-period] and len(set(head)) == period:
        _check_tags(head)
        return np.resize(np.arange(period, dtype=np.int32), n), head
    names = list(dict.fromkeys(tags))
    _check_tags(names)
    position = {t: i for i, t in enumerate(names)}
    return np.fromiter(map(position.__getitem__, tags), np.int32, n), names


def _steps(steps: list[Any]) -> np.ndarray:
    try:
        return np.fromiter(steps, np.int64, len(steps))
    except TypeError:  # global_step=None is TensorBoard's step 0
        return np.fromiter((0 if s is None else s for s in steps), np.int64, len(steps))


_FEW_ROWS = 256
"""Up to this many rows, a string column built directly beats a dictionary cast."""


def _tags(codes: np.ndarray, names: list[str]) -> pa.Array:
    if len(codes) <= _FEW_ROWS:  # a flush() every step seals a few rows at a time
        return strings([names[c] for c in codes.tolist()])
    return dictionary_strings(codes, names)


def _scalar_table(
    flat: list[Any],
    block: TakenBlock | None,
    device: bool,
    run_id: str,
    ident: WriterIdentity,
    seq: int,
) -> pa.Table:
    n = len(flat) // SCALAR_WIDTH  # one slice and one C-level pass per column (GIL held)
    codes, names = _tag_codes(flat[0::SCALAR_WIDTH])
    steps = _steps(flat[2::SCALAR_WIDTH])
    times = np.fromiter(flat[3::SCALAR_WIDTH], np.float64, n)
    if device:
        value_arr = np.array(resolve_scalars(flat[1::SCALAR_WIDTH]), dtype=np.float64)
    else:
        value_arr = np.fromiter(flat[1::SCALAR_WIDTH], np.float64, n)
    if block is not None:  # plain numbers only (the hot path checked)
        d_codes, d_names, d_values, d_steps, d_times = block.columns()
        _check_tags(d_names)
        codes = np.concatenate([codes, d_codes + len(names)])
        names = names + d_names
        value_arr = np.concatenate([value_arr, d_values])
        steps = np.concatenate([steps, d_steps])
        times = np.concatenate([times, d_times])
    n = len(codes)
    columns = {
        **_head_and_writer(n, run_id, ident, seq),
        "tag": _tags(codes, names),
        "step": numbers(steps, pa.int64()),
        "wall_time": _micros(times),
        "value": numbers(value_arr, pa.float64()),
    }
    return _table("scalars", columns)


# ---- everything else ---------------------------------------------------------------------


def seal_columns(
    stream: str, columns: dict[str, pa.Array], run_id: str, ident: WriterIdentity, seq: int
) -> pa.Table:
    """The table of a tagged stream from whole columns (tag, step, wall_time, payload)."""
    n = len(columns["tag"])
    return _table(stream, {**_head_and_writer(n, run_id, ident, seq), **columns})



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
    for tag, step, wall_time, payload, *_ in rows:
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
    return _from_dicts(stream, rows, times, run_id, ident, seq)


_WRITER_FILLED = frozenset({"run_id", "wall_time", "writer", "seq", "rank", "host", "pid"})


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
    columns = {**_head_and_writer(n, run_id, ident, seq), "wall_time": _micros(times)}
    for field in STREAMS[stream]:
        if field.name not in _WRITER_FILLED:
            columns[field.name] = column([r.get(field.name) for r in records], field.type)
    return _table(stream, columns)
