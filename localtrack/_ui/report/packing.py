"""Numbers in the report's JSON as base64 of little-endian typed arrays, losslessly smaller.

Each array goes as the narrowest type that holds every value exactly: int32 for whole
numbers that fit (steps), float32 when every value round-trips through it (what a float32
tensor's `.item()` logs, the usual PyTorch loss), else float64. The page decodes each with
the matching typed array, so the chart holds the very values the store holds.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

INT32 = (-(2**31), 2**31 - 1)


def narrowest(values: np.ndarray) -> np.ndarray:
    """`values` (float64) as int32, float32 or float64, whichever keeps every one exactly."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return v.astype("<f4")
    finite = np.isfinite(v)
    if finite.all() and (v == np.round(v)).all() and v.min() >= INT32[0] and v.max() <= INT32[1]:
        return v.astype("<i4")
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: inf, not equal
        as32 = v.astype(np.float32)
    if np.array_equal(as32.astype(np.float64), v, equal_nan=True):
        return as32.astype("<f4")
    return v.astype("<f8")


def pack(values: np.ndarray) -> dict[str, Any]:
    """`{"t": "i4"|"f4"|"f8", "n": count, "b": base64 bytes}` of `values`."""
    arr = narrowest(values)
    return {"t": arr.dtype.str[1:], "n": len(arr), "b": base64.b64encode(arr.tobytes()).decode()}


def unpack(packed: dict[str, Any]) -> np.ndarray:
    """The float64 values of a `pack` result (for tests and the bench)."""
    raw = base64.b64decode(packed["b"])
    return np.frombuffer(raw, dtype="<" + packed["t"]).astype(np.float64)
