"""run.log's scalar buffer: columns of plain numbers, so sealing them costs no per-value work.

A step's numbers go into one array of doubles, its step and wall time into two more, and its
tuple of keys is kept once per run of steps logging the same keys. The logging thread fills the
columns under a lock (several threads may log to one run); the sealer swaps them for empty ones
under the same lock and reads them with numpy, without touching a Python object per value.
"""

from __future__ import annotations

import threading
from array import array
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TakenBlock:
    """The columns a seal took: values, one step and time per logged step, and key runs."""

    values: array[float]
    steps: array[int]
    times: array[float]
    key_runs: list[tuple[int, tuple[Any, ...]]]  # (first step row, keys of the steps from it)

    def __len__(self) -> int:
        return len(self.values)

    def rows(self) -> list[tuple[Any, float, int, float]]:
        """(tag, value, step, time) rows, for the slow path that vets rows one by one."""
        keys = list(chain.from_iterable(repeat(k, n) for k, n in self._run_counts()))
        sizes = list(map(len, keys))
        tags = chain.from_iterable(keys)
        steps = chain.from_iterable(map(repeat, self.steps, sizes))
        times = chain.from_iterable(map(repeat, self.times, sizes))
        return list(zip(tags, self.values, steps, times, strict=True))

    def _run_counts(self) -> list[tuple[tuple[Any, ...], int]]:
        ends = [start for start, _ in self.key_runs[1:]] + [len(self.steps)]
        return [(keys, end - start) for (start, keys), end in zip(self.key_runs, ends, strict=True)]

    def split(self, limit: int) -> list[TakenBlock]:
        """Consecutive parts of about `limit` numbers each (a step is never cut in two), so
        the tables built from a big block, one at a time, stay small."""
        if len(self.values) <= limit:
            return [self]
        parts: list[TakenBlock] = []
        runs: list[tuple[int, tuple[Any, ...]]] = []
        first_step = first_value = step = value = 0
        for keys, count in self._run_counts():
            size = len(keys)
            left = count
            while left:
                room = max(1, (limit - (value - first_value)) // max(size, 1))
                take = min(room, left)
                runs.append((step - first_step, keys))
                step, value, left = step + take, value + take * size, left - take
                if value - first_value >= limit or (size and take == room):
                    parts.append(self._part(first_step, step, first_value, value, runs))
                    first_step, first_value, runs = step, value, []
        if step > first_step:
            parts.append(self._part(first_step, step, first_value, value, runs))
        return parts

    def _part(
        self, s0: int, s1: int, v0: int, v1: int, runs: list[tuple[int, tuple[Any, ...]]]
    ) -> TakenBlock:
        return TakenBlock(self.values[v0:v1], self.steps[s0:s1], self.times[s0:s1], runs)

    def columns(self) -> tuple[np.ndarray, list[Any], np.ndarray, np.ndarray, np.ndarray]:
        """Tag codes, tag names (keys as logged, unchecked), values, steps and times."""
        names: dict[Any, int] = {}
        codes, sizes = [], []
        for keys, count in self._run_counts():
            coded = np.array([names.setdefault(k, len(names)) for k in keys], dtype=np.int32)
            codes.append(np.tile(coded, count))
            sizes.append(np.full(count, len(keys), dtype=np.int64))
        per_step = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
        return (
            np.concatenate(codes) if codes else np.zeros(0, np.int32),
            list(names),
            np.frombuffer(self.values, dtype=np.float64),
            np.repeat(np.frombuffer(self.steps, dtype=np.int64), per_step),
            np.repeat(np.frombuffer(self.times, dtype=np.float64), per_step),
        )


class ScalarBlock:
    """The columns run.log appends to. Fill them only while holding `lock`:

    with block.lock:
        block.values.fromlist(numbers)      # all or nothing
        if keys != block.keys:
            block.new_keys(keys)
        block.steps.append(step)
        block.times.append(wall_time)
    """

    __slots__ = ("key_runs", "keys", "lock", "steps", "times", "values")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.values: array[float] = array("d")
        self.steps: array[int] = array("q")
        self.times: array[float] = array("d")
        self.key_runs: list[tuple[int, tuple[Any, ...]]] = []
        self.keys: tuple[Any, ...] | None = None

    def new_keys(self, keys: tuple[Any, ...]) -> None:
        """The steps from the next one on log `keys` (call with the lock held)."""
        self.keys = keys
        self.key_runs.append((len(self.steps), keys))

    def take(self) -> TakenBlock | None:
        """Everything logged so far, leaving the columns empty; None when there is nothing."""
        with self.lock:
            if not self.steps:
                return None
            taken = TakenBlock(self.values, self.steps, self.times, self.key_runs)
            self._reset()
        return taken
