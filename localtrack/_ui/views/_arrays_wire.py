"""arrays-v1: a JSON header and typed arrays in one body, for the 3-D views (docs/UI.md).

Layout: uint32 little-endian H, H bytes of UTF-8 JSON header, zero bytes up to a multiple of
8 from the start; then each array of the header's ``arrays`` list (``name``, ``dtype`` one of
float32/float64/uint8/uint32/int32, ``shape``), little-endian, C order, each padded with zero
bytes to a multiple of 8. The page wraps them in typed arrays without a copy.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from localtrack._ui.answer import Answer
from localtrack._ui.wire import to_json

FORMAT = "arrays-v1"
DTYPES = ("float32", "float64", "uint8", "uint32", "int32")


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 8)


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays-v1 body of `header` (given an ``arrays`` list) and `arrays` in that order."""
    listed = []
    parts = []
    for name, array in arrays.items():
        dtype = array.dtype.name
        if dtype not in DTYPES:
            raise ValueError(f"arrays-v1 has no dtype {dtype} ({name})")
        data = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
        listed.append({"name": name, "dtype": dtype, "shape": list(array.shape)})
        parts += [data, _pad(len(data))]
    head = to_json({**header, "arrays": listed})
    start = struct.pack("<I", len(head)) + head
    return b"".join([start, _pad(len(start)), *parts])


def unpack(body: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and arrays of an arrays-v1 body (for tests and tools)."""
    import json

    (length,) = struct.unpack_from("<I", body)
    header = json.loads(body[4 : 4 + length])
    at = 4 + length
    at += -at % 8
    arrays = {}
    for item in header["arrays"]:
        dtype = np.dtype(item["dtype"]).newbyteorder("<")
        count = int(np.prod(item["shape"], dtype=np.int64))
        arrays[item["name"]] = np.frombuffer(body, dtype, count, at).reshape(item["shape"])
        at += count * dtype.itemsize
        at += -at % 8
    return header, arrays


def answer(body: bytes) -> Answer:
    headers = [("X-Localtrack-Format", FORMAT), ("Cache-Control", "no-store")]
    return Answer(200, body, "application/octet-stream", headers)
