"""Small Parquet files written directly, for flush() on the caller's thread.

pyarrow's writer costs ~0.4 ms of fixed work per file, however few the rows; a flush() every
step writes a few rows at a time. This writes the same file format by hand: one row group,
one uncompressed PLAIN data page (v1) per column, definition levels as RLE runs. Flat schemas
of string, int32, int64, float64 and timestamp[us] columns only (`supports()` says which
streams qualify). The footer carries pyarrow's own ARROW:schema (taken from a file pyarrow
wrote), so pyarrow reads back exactly the table it would have written, and DuckDB reads the
Parquet logical types. Compaction later merges these files into compressed ones.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._store.layout import SegmentName, segment_path
from localtrack._store.schema import STREAMS, file_metadata
from localtrack._writer.spare_files import SpareFiles

# Parquet physical types, and thrift compact protocol field types.
_INT32, _INT64, _DOUBLE, _BYTE_ARRAY = 1, 2, 5, 6
_T_TRUE, _T_FALSE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 2, 5, 6, 8, 9, 12
_PLAIN, _RLE = 0, 3
_TIMESTAMP_US = pa.timestamp("us")
_U32 = struct.Struct("<I")
_FEW = 64
"""Up to this many values a string column is encoded in Python, above with numpy."""

_PHYSICAL = {
    pa.string(): (_BYTE_ARRAY, None),
    pa.int32(): (_INT32, np.dtype("<i4")),
    pa.int64(): (_INT64, np.dtype("<i8")),
    pa.float64(): (_DOUBLE, np.dtype("<f8")),
    _TIMESTAMP_US: (_INT64, np.dtype("<i8")),
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


class _Struct:
    """A thrift compact-protocol struct, field by field in increasing id order."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._last = 0

    def _head(self, fid: int, kind: int) -> None:
        delta = fid - self._last
        if 0 < delta <= 15:
            self.buf.append((delta << 4) | kind)
        else:
            self.buf.append(kind)
            self.buf += _varint(_zigzag(fid))
        self._last = fid

    def i32(self, fid: int, v: int) -> _Struct:
        self._head(fid, _T_I32)
        self.buf += _varint(_zigzag(v))
        return self

    def i64(self, fid: int, v: int) -> _Struct:
        self._head(fid, _T_I64)
        self.buf += _varint(_zigzag(v))
        return self

    def binary(self, fid: int, v: bytes) -> _Struct:
        self._head(fid, _T_BINARY)
        self.buf += _varint(len(v)) + v
        return self

    def boolean(self, fid: int, v: bool) -> _Struct:
        self._head(fid, _T_TRUE if v else _T_FALSE)
        return self

    def struct(self, fid: int, body: bytes) -> _Struct:
        self._head(fid, _T_STRUCT)
        self.buf += body
        return self

    def items(self, fid: int, kind: int, encoded: list[bytes]) -> _Struct:
        """A list of `kind` elements, each already encoded."""
        self._head(fid, _T_LIST)
        n = len(encoded)
        self.buf += bytes([(n << 4) | kind]) if n < 15 else bytes([0xF0 | kind]) + _varint(n)
        for e in encoded:
            self.buf += e
        return self

    def done(self) -> bytes:
        return bytes(self.buf) + b"\x00"


def _schema_element(field: pa.Field) -> bytes:
    physical, _ = _PHYSICAL[field.type]
    s = _Struct().i32(1, physical).i32(3, 1 if field.nullable else 0)
    s.binary(4, field.name.encode())
    if field.type == pa.string():
        s.i32(6, 0)  # converted type UTF8
        s.struct(10, _Struct().struct(1, b"\x00").done())  # logical type STRING
    elif field.type == _TIMESTAMP_US:  # logical TIMESTAMP(isAdjustedToUTC=false, MICROS)
        unit = _Struct().struct(2, b"\x00").done()
        s.struct(10, _Struct().struct(8, _Struct().boolean(1, False).struct(2, unit).done()).done())
    return s.done()


def supports(stream: str) -> bool:
    """Whether every column of the stream is one this module writes."""
    return all(f.type in _PHYSICAL for f in STREAMS[stream])


class _Layout:
    """What every file of one stream shares: schema elements and footer key-values."""

    def __init__(self, stream: str) -> None:
        schema = STREAMS[stream]
        self.fields = list(schema)
        root = _Struct().binary(4, b"schema").i32(5, len(self.fields)).done()
        schema_elements = [root, *(_schema_element(f) for f in self.fields)]
        sink = pa.BufferOutputStream()  # pyarrow's ARROW:schema, exactly as it writes it
        pq.write_table(schema.empty_table().replace_schema_metadata(file_metadata(stream)), sink)
        kv = pq.ParquetFile(pa.BufferReader(sink.getvalue())).metadata.metadata or {}
        key_values = [_Struct().binary(1, k).binary(2, v).done() for k, v in kv.items()]
        self.columns = [(f, _PHYSICAL[f.type][1], _meta_head(f)) for f in self.fields]
        # FileMetaData: 1 version, 2 schema, [3 num_rows, 4 row groups], 5 key-values, 6 by
        head = _Struct().i32(1, 2).items(2, _T_STRUCT, schema_elements)
        self.footer_head = bytes(head.buf)
        tail = _Struct()
        tail._last = 4
        tail.items(5, _T_STRUCT, key_values).binary(6, b"localtrack quick_parquet")
        self.footer_tail = tail.done()


def _meta_head(field: pa.Field) -> bytes:
    """ColumnMetaData fields 1-4: type, encodings, path, codec (uncompressed)."""
    name = field.name.encode()
    s = _Struct().i32(1, _PHYSICAL[field.type][0])
    s.items(2, _T_I32, [_vz(_PLAIN), _vz(_RLE)]).items(3, _T_BINARY, [_varint(len(name)) + name])
    return bytes(s.i32(4, 0).buf)


_layouts: dict[str, _Layout] = {}


def _def_levels(valid: np.ndarray | None, n: int) -> bytes:
    """Definition levels (bit width 1) as RLE runs, with their 4-byte length prefix."""
    if valid is None:
        runs = _varint(n << 1) + b"\x01"
    else:
        edges = np.flatnonzero(np.diff(valid.astype(np.int8))) + 1
        starts = [0, *edges.tolist()]
        ends = [*edges.tolist(), n]
        runs = b"".join(
            _varint((e - s) << 1) + (b"\x01" if valid[s] else b"\x00")
            for s, e in zip(starts, ends, strict=True)
        )
    return struct.pack("<I", len(runs)) + runs


def _validity(arr: pa.Array) -> np.ndarray | None:
    if arr.null_count == 0:
        return None
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[arr.offset : arr.offset + len(arr)].astype(bool)


def _plain(arr: pa.Array, dtype: np.dtype | None, valid: np.ndarray | None) -> bytes:
    n, off = len(arr), arr.offset
    if dtype is not None:
        values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=n, offset=off * dtype.itemsize)
        return (values if valid is None else values[valid]).tobytes()
    offsets = np.frombuffer(arr.buffers()[1], dtype="<i4", count=n + 1, offset=off * 4)
    if n <= _FEW:
        buffer = arr.buffers()[2]
        raw = buffer.to_pybytes() if buffer is not None else b""
        bounds = offsets.tolist()
        keep = range(n) if valid is None else np.flatnonzero(valid).tolist()
        pack = _U32.pack
        return b"".join(
            pack(bounds[i + 1] - bounds[i]) + raw[bounds[i] : bounds[i + 1]] for i in keep
        )
    data = np.frombuffer(arr.buffers()[2] or b"", dtype=np.uint8)
    if valid is not None:
        keep = np.flatnonzero(valid)
        starts, lengths = offsets[keep], offsets[keep + 1] - offsets[keep]
    else:
        starts, lengths = offsets[:-1], np.diff(offsets)
    m, total = len(lengths), int(lengths.sum())
    before = np.zeros(m, dtype=np.int64)  # bytes of the values before each one
    np.cumsum(lengths[:-1], out=before[1:])
    out = np.empty(4 * m + total, dtype=np.uint8)
    heads = np.arange(m, dtype=np.int64) * 4 + before
    prefix = np.ascontiguousarray(lengths.astype("<u4")).view(np.uint8).reshape(m, 4)
    for k in range(4):
        out[heads + k] = prefix[:, k]
    j = np.arange(total, dtype=np.int64)  # each data byte, in output order
    rows = np.repeat(np.arange(m, dtype=np.int64), lengths)
    out[j + 4 * (rows + 1)] = data[j + np.repeat(starts - before, lengths)]
    return out.tobytes()


def _vz(n: int) -> bytes:
    return _varint(_zigzag(n))


def encode(stream: str, table: pa.Table) -> bytes:
    """The Parquet file of `table`, whose schema is the stream's."""
    layout = _layout(stream)
    n = table.num_rows
    pages = []
    for (field, dtype, _), column in zip(layout.columns, table.columns, strict=True):
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        valid = _validity(arr)
        page = _plain(arr, dtype, valid)
        pages.append(_def_levels(valid, n) + page if field.nullable else page)
    return _assemble(layout, pages, n)


def _layout(stream: str) -> _Layout:
    return _layouts.get(stream) or _layouts.setdefault(stream, _Layout(stream))


def _assemble(layout: _Layout, pages: list[bytes], n: int) -> bytes:
    """The file around one data page per column (definition levels already in the pages).

    Thrift structs that change per file are spelled out as bytes (field header bytes are
    (field id delta << 4) | type), the rest is built once per stream by _Layout."""
    vn = _vz(n)
    data_header = b"\x15" + vn + b"\x15\x00\x15\x06\x15\x06\x00"  # n, PLAIN, RLE, RLE
    body = [b"PAR1"]
    pos = 4
    chunks = []
    for (_, _, meta_head), page in zip(layout.columns, pages, strict=True):
        vlen = _vz(len(page))
        header = b"\x15\x00\x15" + vlen + b"\x15" + vlen + b"\x2c" + data_header + b"\x00"
        size = len(header) + len(page)
        vsize, vpos = _vz(size), _vz(pos)
        meta = meta_head + b"\x16" + vn + b"\x16" + vsize + b"\x16" + vsize + b"\x26" + vpos
        chunks.append(b"\x26" + vpos + b"\x1c" + meta + b"\x00\x00")
        body += [header, page]
        pos += size
    group = _Struct().items(1, _T_STRUCT, chunks).i64(2, pos - 4).i64(3, n).done()
    footer = layout.footer_head + b"\x16" + vn + _list_of_one_struct(group) + layout.footer_tail
    body += [footer, _U32.pack(len(footer)), b"PAR1"]
    return b"".join(body)


_TAGS: dict[str, bytes] = {}
"""PLAIN bytes (length prefix and UTF-8) of tags seen, for scalars_file()."""
_MAX_TAGS = 65536


def _string(text: str) -> bytes:
    data = text.encode()
    return _U32.pack(len(data)) + data


def scalars_file(
    flat: list[Any], run_id: str, writer: str, seq: int, rank: int, host: str, pid: int
) -> bytes | None:
    """The `scalars` file of a small flat add_scalar buffer (tag, value, step, time rows),
    built from the Python values without Arrow; None when a row needs the vetting path of
    sealing.py (a device tensor, a step of None, a tag that is not a string, a bad time)."""
    tags, values, steps = flat[0::4], flat[1::4], flat[2::4]
    n = len(tags)
    try:
        if not all(type(v) is float or type(v) is int for v in values):
            return None
        if not all(type(s) is int for s in steps):
            return None
        seconds = np.array(flat[3::4], dtype=np.float64)
        if not ((seconds >= 0) & (seconds < 9.2e12)).all():
            return None
        tag_page = b"".join([_TAGS.get(t) or _tag(t) for t in tags])
        value_page = np.array(values, dtype="<f8").tobytes()
        step_page = np.array(steps, dtype="<i8").tobytes()
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return None
    ones = _def_levels(None, n)
    pages = [
        _string(run_id) * n,
        tag_page,
        step_page,
        (seconds * 1e6).astype("<i8").tobytes(),
        ones + value_page,
        _string(writer) * n,
        struct.pack("<q", seq) * n,
        ones + struct.pack("<i", rank) * n,
        ones + _string(host) * n,
        ones + struct.pack("<q", pid) * n,
    ]
    return _assemble(_layout("scalars"), pages, n)


def _tag(tag: Any) -> bytes:
    if type(tag) is not str or not tag:
        raise TypeError("a tag that is not a non-empty string")
    data = _string(tag)
    if len(_TAGS) < _MAX_TAGS:
        _TAGS[tag] = data
    return data


def _list_of_one_struct(body: bytes) -> bytes:
    """Field 4 (after field 3) of FileMetaData: a list holding one struct."""
    return b"\x19\x1c" + body


def publish_quick(
    run_dir: Path,
    stream: str,
    name: SegmentName,
    table: pa.Table | bytes,
    spares: SpareFiles,
) -> Path:
    """Publish `table` (or a file scalars_file() built) as segment `name`: written into a
    spare file, renamed into place; no fsync (see segments.sync_published)."""
    final = segment_path(run_dir, stream, name)
    data = table if isinstance(table, bytes) else encode(stream, table)
    spare = spares.take(final.parent)
    if spare is None:
        tmp = final.with_name(f".{final.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:  # the stream's first segment
            final.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    else:
        fd, tmp = spare
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, final)
    return final
