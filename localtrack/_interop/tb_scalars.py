"""Decode the commonest event record, one `simple_value` scalar, for many records at once.

`SummaryWriter.add_scalar` (torch, tensorboardX, TensorFlow) writes each point as the bytes
`09 <wall_time f64> [10 <step varint>] 2a <n+2> 0a <n> 0a <t> <tag> 15 <value f32>`: an Event
with wall_time, step (absent when 0), and a Summary holding one Value. Records of that exact
shape are decoded with numpy, by groups of equal length and step width; every other record
(another layout, a long tag, other fields) is left to the protobuf parser, so the result is
the same as parsing each record with TensorBoard's Event proto.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MAX_TAG = 118  # longer tags need two-byte lengths: parsed by protobuf instead
_GATHER = 1 << 22


@dataclass
class FastScalars:
    """Points decoded from records `index` (positions in the batch of records)."""

    index: np.ndarray  # int64
    tag_codes: np.ndarray  # int32 into tags
    tags: list[str]
    steps: np.ndarray  # int64
    wall: np.ndarray  # float64 seconds
    values: np.ndarray  # float32


def decode(buf: bytes, data_at: np.ndarray, length: np.ndarray) -> tuple[FastScalars, np.ndarray]:
    """The scalar points of the records that have the simple layout, and the indices of the
    records that do not (in order)."""
    raw = np.frombuffer(buf, np.uint8)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    tag_bytes: list[np.ndarray] = []
    for size in np.unique(length).tolist():
        group = np.flatnonzero(length == size)
        if not 17 <= size <= 9 + 11 + 6 + _MAX_TAG + 5:
            continue
        step = max(1, _GATHER // size)
        for lo in range(0, len(group), step):
            part = group[lo : lo + step]
            rows = raw[data_at[part][:, None] + np.arange(size)]
            for k in range(0, 11):
                found = _layout(rows, size, k)
                if found is not None:
                    ok, decoded, tags = found
                    parts.append((part[ok], *decoded))
                    tag_bytes.append(tags)
    fast = _merge(parts, tag_bytes)
    slow = np.setdiff1d(np.arange(len(length)), fast.index, assume_unique=True)
    return fast, slow


def _layout(
    rows: np.ndarray, size: int, k: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None:
    """Rows that match the layout with a k-byte step varint (k=0: no step field)."""
    at = 9 + (1 + k if k else 0)  # where the summary field starts
    t = size - at - 11  # 2a L1 0a L2 0a T <tag> 15 <f32>
    if t < 1 or t > _MAX_TAG:
        return None
    ok = rows[:, 0] == 0x09
    if k:
        ok &= rows[:, 9] == 0x10
        for i in range(k - 1):
            ok &= rows[:, 10 + i] >= 0x80
        ok &= rows[:, 9 + k] < 0x80
    head = np.array([0x2A, t + 9, 0x0A, t + 7, 0x0A, t], np.uint8)
    ok &= (rows[:, at : at + 6] == head).all(axis=1)
    ok &= rows[:, at + 6 + t] == 0x15
    ok = np.flatnonzero(ok)
    if not ok.size:
        return None
    sel = rows[ok]
    wall = np.ascontiguousarray(sel[:, 1:9]).view("<f8").reshape(-1)
    steps = np.zeros(len(sel), np.uint64)
    for i in range(k):
        steps |= (sel[:, 10 + i].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * i)
    values = np.ascontiguousarray(sel[:, size - 4 :]).view("<f4").reshape(-1)
    tags = np.ascontiguousarray(sel[:, at + 6 : at + 6 + t])
    return ok, (steps.view(np.int64), wall, values), tags


def _merge(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    tag_bytes: list[np.ndarray],
) -> FastScalars:
    if not parts:
        empty = np.zeros(0, np.int64)
        return FastScalars(empty, np.zeros(0, np.int32), [], empty, np.zeros(0), np.zeros(0, "f4"))
    tags: dict[bytes, int] = {}
    codes = []
    for block in tag_bytes:
        view = block.view(np.dtype((np.void, block.shape[1]))).reshape(-1)
        uniq, inverse = np.unique(view, return_inverse=True)
        ids = np.array([tags.setdefault(u.tobytes(), len(tags)) for u in uniq], np.int32)
        codes.append(ids[inverse.reshape(-1)])
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")
    names = [b.decode("utf-8", "replace") for b in tags]
    return FastScalars(
        index[order],
        np.concatenate(codes)[order],
        names,
        np.concatenate([p[1] for p in parts])[order],
        np.concatenate([p[2] for p in parts])[order],
        np.concatenate([p[3] for p in parts])[order],
    )
