"""Rows read from a source, collected per stream, then handed to a writer in one go.

Scalars are kept as columns (numpy arrays from the vectorised decoder, plus the few parsed one
by one) and sealed as whole Arrow columns; other streams go through the writer's ordinary
buffers with their explicit step and wall time. Wall times are stored to the microsecond
(the format's resolution), rounded to the nearest one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from localtrack._interop.tb_scalars import FastScalars
from localtrack._store.arrays import dictionary_strings, numbers
from localtrack._writer.core import RunWriter

_TIMESTAMP = pa.timestamp("us")


def sealable(seconds: float) -> float:
    """`seconds` as the writer's buffers take it: the writer truncates to microseconds, so
    hand it the middle of the nearest microsecond to store that one exactly."""
    return (round(seconds * 1e6) + 0.5) / 1e6


@dataclass
class Rows:
    """What one batch of records holds, per stream, in record order."""

    fast: list[FastScalars] = field(default_factory=list)
    scalar_index: list[int] = field(default_factory=list)  # record order of parsed points
    scalar_tags: list[str] = field(default_factory=list)
    scalar_steps: list[int] = field(default_factory=list)
    scalar_walls: list[float] = field(default_factory=list)
    scalar_values: list[float] = field(default_factory=list)
    tagged: dict[str, list[tuple[str, int, float, dict[str, Any]]]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def scalar(self, index: int, tag: str, step: int, wall: float, value: float) -> None:
        self.scalar_index.append(index)
        self.scalar_tags.append(tag)
        self.scalar_steps.append(step)
        self.scalar_walls.append(wall)
        self.scalar_values.append(value)

    def point(self, stream: str, tag: str, step: int, wall: float, payload: dict[str, Any]) -> None:
        self.tagged.setdefault(stream, []).append((tag, step, wall, payload))

    def record(self, stream: str, row: dict[str, Any]) -> None:
        self.records.setdefault(stream, []).append(row)

    def scalar_columns(self) -> dict[str, Any] | None:
        """tag (str list or codes+names), step, wall (seconds), value: all points, record order."""
        parts = [f for f in self.fast if len(f.index)]
        if not parts and not self.scalar_index:
            return None
        names: dict[str, int] = {}
        codes, index, steps, walls, values = [], [], [], [], []
        for f in parts:
            ids = np.array([names.setdefault(t, len(names)) for t in f.tags], np.int32)
            codes.append(ids[f.tag_codes] if len(ids) else f.tag_codes)
            index.append(f.index)
            steps.append(f.steps)
            walls.append(f.wall)
            values.append(f.values.astype(np.float64))
        if self.scalar_index:
            codes.append(np.array([names.setdefault(t, len(names)) for t in self.scalar_tags]))
            index.append(np.array(self.scalar_index, np.int64))
            steps.append(np.array(self.scalar_steps, np.int64))
            walls.append(np.array(self.scalar_walls, np.float64))
            values.append(np.array(self.scalar_values, np.float64))
        order = np.argsort(np.concatenate(index), kind="stable")
        return {
            "codes": np.concatenate(codes).astype(np.int32)[order],
            "names": list(names),
            "step": np.concatenate(steps)[order],
            "wall": np.concatenate(walls)[order],
            "value": np.concatenate(values)[order],
        }

    def write(self, writer: RunWriter, extra_scalars: dict[str, Any] | None = None) -> None:
        """Hand every row to `writer` (it seals them; close() makes them durable)."""
        cols = extra_scalars if extra_scalars is not None else self.scalar_columns()
        if cols is not None and len(cols["step"]):
            writer.seal_columns("scalars", scalar_arrow(cols))
            self.counts["scalars"] += len(cols["step"])
        for stream, points in self.tagged.items():
            for tag, step, wall, payload in points:
                writer.put(stream, (tag, step, sealable(wall), payload), _nbytes(payload))
            self.counts[stream] += len(points)
        for stream, rows in self.records.items():
            for row in rows:
                writer.record(stream, {**row, "wall_time": sealable(row["wall_time"])})
            self.counts[stream] += len(rows)


def scalar_arrow(cols: dict[str, Any]) -> dict[str, pa.Array]:
    micros = np.round(np.asarray(cols["wall"], np.float64) * 1e6).astype(np.int64)
    return {
        "tag": dictionary_strings(cols["codes"], cols["names"]),
        "step": numbers(np.asarray(cols["step"], np.int64), pa.int64()),
        "wall_time": numbers(micros, _TIMESTAMP),
        "value": numbers(np.asarray(cols["value"], np.float64), pa.float64()),
    }


def _nbytes(payload: dict[str, Any]) -> int:
    return sum(len(v) for v in payload.values() if isinstance(v, bytes))
