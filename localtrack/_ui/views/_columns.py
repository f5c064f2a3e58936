"""The columns-v1 binary answer: a JSON header, then named little-endian Float64 columns.

Layout (as series-v1, docs/UI.md): uint32 little-endian H, H bytes of UTF-8 JSON header,
zero bytes up to a multiple of 8 from the start, then each column of `header["columns"]`,
`header["count"]` float64 values each, in order. The page reads them as Float64Array views
without a copy.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from localtrack._ui.answer import Answer
from localtrack._ui.wire import to_json

FORMAT = "columns-v1"


def encode_columns(header: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> bytes:
    counts = {len(c) for c in columns.values()}
    if len(counts) > 1:
        raise ValueError(f"columns of different lengths: {sorted(counts)}")
    head = {**header, "columns": list(columns), "count": counts.pop() if counts else 0}
    text = to_json(head)
    pad = (-(4 + len(text))) % 8
    parts = [struct.pack("<I", len(text)), text, b"\0" * pad]
    parts += [np.ascontiguousarray(c, dtype="<f8").tobytes() for c in columns.values()]
    return b"".join(parts)


def decode_columns(body: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the named columns (for tests and scripts)."""
    (size,) = struct.unpack_from("<I", body, 0)
    head: dict[str, Any] = json.loads(body[4 : 4 + size])
    at = 4 + size + (-(4 + size)) % 8
    out = {}
    for name in head["columns"]:
        out[name] = np.frombuffer(body, "<f8", head["count"], at)
        at += 8 * head["count"]
    return head, out


def columns_answer(body: bytes) -> Answer:
    headers = [("X-Localtrack-Format", FORMAT), ("Cache-Control", "no-store")]
    return Answer(200, body, "application/octet-stream", headers)
