"""Arrow arrays built from Python values through numpy buffers, never pyarrow's converter.

pyarrow's Python-object converter (pa.array on lists, pa.scalar, Table.from_pylist) imports
pandas on first use when it is installed: ~40 MB of memory in a training process that never
asked for it. The writer builds every column here instead, for the types its schemas use:
strings, binaries, numbers, timestamps, lists of numbers and structs of those.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

_STRING = pa.string()

_NUMPY = {
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.float64(): np.float64,
    pa.float32(): np.float32,
}


def _validity(values: list[Any]) -> tuple[pa.Buffer | None, int]:
    present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    nulls = len(values) - int(present.sum())
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(present, bitorder="little")), nulls


def numbers(values: Any, type_: pa.DataType) -> pa.Array:
    """A numeric or timestamp array from a numpy array or a list (None allowed in a list)."""
    if isinstance(values, np.ndarray):
        arr, validity, nulls = values, None, 0
    else:
        validity, nulls = _validity(values)
        fill = 0 if nulls else None
        source = values if fill is None else [fill if v is None else v for v in values]
        arr = np.asarray(source)
    storage = pa.int64() if pa.types.is_timestamp(type_) else type_
    arr = np.ascontiguousarray(arr, dtype=_NUMPY[storage])
    return pa.Array.from_buffers(type_, len(arr), [validity, pa.py_buffer(arr)], null_count=nulls)


def _encode(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if value is None:
        return b""
    raise TypeError(f"expected str or bytes, got {type(value).__name__}")


def strings(values: list[Any], type_: pa.DataType = _STRING) -> pa.Array:
    """A string (or binary) array; str values are UTF-8 encoded, None is null."""
    validity, nulls = _validity(values)
    encoded = [_encode(v) for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64 if _large(type_) else np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(
        type_, len(values), [validity, pa.py_buffer(offsets), data], null_count=nulls
    )


def _large(type_: pa.DataType) -> bool:
    return bool(pa.types.is_large_string(type_) or pa.types.is_large_binary(type_))


def dictionary_strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """A plain string array from int32 codes into `names` (cheap for repeated tags).

    Gathered with numpy, not with a dictionary cast: that cast imports pyarrow.compute, a
    second or more of GIL-bound import on a busy machine inside a writer's first seal,
    which then lost more than flush_secs of rows to a SIGKILL (scripts/crash_test.py)."""
    encoded = [_encode(n) for n in names]
    name_lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    name_starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(name_lengths[:-1], out=name_starts[1:])
    pool = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    codes = codes.astype(np.intp, copy=False)
    lengths = name_lengths[codes]
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total >= 1 << 31:
        raise ValueError("a seal's tag strings passed 2 GiB; seal smaller batches")
    # byte j of row r comes from pool[name_starts[code] + (j - offsets[r])]
    gather = np.repeat(name_starts[codes] - offsets[:-1], lengths) + np.arange(total)
    data = pool[gather].tobytes() if total else b""
    return pa.Array.from_buffers(
        pa.string(),
        len(codes),
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)],
    )


def constant(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    """`value` repeated n times."""
    if pa.types.is_string(type_):
        data = _encode(value)
        offsets = np.arange(n + 1, dtype=np.int32) * len(data)
        return pa.Array.from_buffers(
            type_, n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
        )
    return numbers(np.full(n, value), type_)


def lists(values: list[Any], type_: pa.ListType) -> pa.Array:
    validity, nulls = _validity(values)
    items = [[] if v is None else list(v) for v in values]
    offsets = np.zeros(len(items) + 1, dtype=np.int32)
    np.cumsum([len(i) for i in items], out=offsets[1:])
    flat = [x for i in items for x in i]
    child = column(flat, type_.value_type)
    return pa.Array.from_buffers(
        type_, len(items), [validity, pa.py_buffer(offsets)], null_count=nulls, children=[child]
    )


def structs(values: list[Any], type_: pa.StructType) -> pa.Array:
    validity, nulls = _validity(values)
    rows = [{} if v is None else v for v in values]
    children = [column([r.get(f.name) for r in rows], f.type) for f in type_]
    return pa.Array.from_buffers(type_, len(rows), [validity], null_count=nulls, children=children)


def column(values: list[Any], type_: pa.DataType) -> pa.Array:
    """An array of `type_` from Python values (None is null)."""
    if pa.types.is_string(type_) or pa.types.is_binary(type_):
        return strings(values, type_)
    if pa.types.is_list(type_):
        return lists(values, type_)
    if pa.types.is_struct(type_):
        return structs(values, type_)
    return numbers(values, type_)
