"""What the server sends: JSON with non-finite floats as strings, and the series-v1 binary layout.

series-v1 (docs/UI.md): a little-endian uint32 H, H bytes of UTF-8 JSON header, zero bytes
up to a multiple of 8 from the start, then little-endian Float64Array columns in header
order, per series: x, y, band_x, band_min, band_max, nonfinite_x, nonfinite_y.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import numpy as np

COLUMNS = ["x", "y", "band_x", "band_min", "band_max", "nonfinite_x", "nonfinite_y"]
FORMAT = "series-v1"


def finite_or_text(value: Any) -> Any:
    """JSON-safe values: NaN and ±inf become "NaN"/"Infinity"/"-Infinity", times epoch seconds."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, dict):
        return {str(k): finite_or_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_text(v) for v in value]
    return value


def to_json(value: Any) -> bytes:
    """UTF-8 JSON of `value` (strict: no bare NaN)."""
    return json.dumps(finite_or_text(value), ensure_ascii=False, allow_nan=False).encode()


@dataclass
class Series:
    """One run's series as sent: its header fields and its seven columns."""

    run_id: str
    points: int
    reduced: bool
    first_wall: float | None
    last_x: float | None
    columns: list[np.ndarray]
    """x, y, band_x, band_min, band_max, nonfinite_x, nonfinite_y"""

    def header(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "points": self.points,
            "reduced": self.reduced,
            "count": len(self.columns[0]),
            "band_count": len(self.columns[2]),
            "nonfinite_count": len(self.columns[5]),
            "first_wall": self.first_wall,
            "last_x": self.last_x,
        }


def f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype="<f8"))


def encode_series(header: dict[str, Any], series: list[Series]) -> bytes:
    """The series-v1 body for `series` under `header` (which gains "series" and "columns")."""
    head = dict(header)
    head["series"] = [s.header() for s in series]
    head["columns"] = COLUMNS
    text = to_json(head)
    pad = (-(4 + len(text))) % 8
    parts = [struct.pack("<I", len(text)), text, b"\0" * pad]
    for s in series:
        parts.extend(f64(c).tobytes() for c in s.columns)
    return b"".join(parts)


def decode_series(body: bytes) -> tuple[dict[str, Any], list[dict[str, np.ndarray]]]:
    """The header and, per series, its named columns (for tests and scripts)."""
    (size,) = struct.unpack_from("<I", body, 0)
    head: dict[str, Any] = json.loads(body[4 : 4 + size])
    at = 4 + size + (-(4 + size)) % 8
    out = []
    for s in head["series"]:
        counts = [s["count"]] * 2 + [s["band_count"]] * 3 + [s["nonfinite_count"]] * 2
        cols = {}
        for name, count in zip(head["columns"], counts, strict=True):
            cols[name] = np.frombuffer(body, "<f8", count, at)
            at += 8 * count
        out.append(cols)
    return head, out
