"""M4 candidates of one chunk and their merge: reducing the merged candidates of every chunk
gives exactly the answer of reducing all the points at once.

A chunk's candidates are, per pixel column, its first and last finite point by x, its first
minimum and first maximum (in x-then-row order), and the first point of each non-finite kind:
every point the whole series' M4 can pick is one of its chunk's candidates, ties included,
when chunks are merged in file-then-row order and sorted stably by x (`merge`).
Pure: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from localtrack._ui.m4 import EPSILON


def column_of(x: np.ndarray, lo: float, hi: float, width: int) -> np.ndarray:
    """m4.py's pixel column of each x."""
    col = np.floor((x - lo) * width / (hi - lo + EPSILON))
    return np.minimum(width - 1, np.maximum(0, col)).astype(np.int64)


def column_bounds(x: np.ndarray, lo: float, hi: float, width: int) -> np.ndarray:
    """For sorted `x`: bounds[c] is the first row of column c or later (width + 1 values),
    found by binary search and corrected against the exact column formula."""
    n = len(x)
    c = np.arange(1, width, dtype=np.int64)
    idx = np.searchsorted(x, lo + c * ((hi - lo + EPSILON) / width), "left")
    while True:
        back = np.flatnonzero(idx > 0)
        back = back[column_of(x[idx[back] - 1], lo, hi, width) >= c[back]]
        idx[back] = np.searchsorted(x, x[idx[back] - 1], "left")
        fwd = np.flatnonzero(idx < n)
        fwd = fwd[column_of(x[idx[fwd]], lo, hi, width) < c[fwd]]
        idx[fwd] = np.searchsorted(x, x[idx[fwd]], "right")
        if not len(back) and not len(fwd):
            break
    return np.concatenate([[0], idx, [n]])


def stable_by_x(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` sorted by x, rows of equal x in their order (unchanged when already sorted)."""
    if len(x) > 1 and not bool(np.all(x[1:] >= x[:-1])):
        order = np.argsort(x, kind="stable")
        return x[order], y[order]
    return x, y


def _first_of_each(col: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Of `rows` (sorted positions) with pixel columns `col`, the first row of each column."""
    if not len(rows):
        return rows
    _, first = np.unique(col, return_index=True)
    return rows[first]


def _extremes(y: np.ndarray, starts: np.ndarray, ends: np.ndarray, best: np.ndarray) -> np.ndarray:
    hits = np.flatnonzero(y == np.repeat(best, ends - starts))
    return hits[np.searchsorted(hits, starts)]


def candidates(
    x: np.ndarray, y: np.ndarray, lo: float, hi: float, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's candidate points (any order in; out sorted stably by x)."""
    x, y = stable_by_x(x, y)
    finite = np.isfinite(y)
    keep = []
    if finite.all():
        rows, fx, fy = np.arange(len(x)), x, y
    else:
        for bad in (np.isnan(y), y == np.inf, y == -np.inf):
            rows = np.flatnonzero(bad)
            keep.append(_first_of_each(column_of(x[rows], lo, hi, width), rows))
        rows = np.flatnonzero(finite)
        fx, fy = x[rows], y[rows]
    bounds = column_bounds(fx, lo, hi, width)
    full = np.flatnonzero(bounds[1:] > bounds[:-1])
    starts, ends = bounds[full], bounds[full + 1]
    if len(starts):
        keep += [rows[starts], rows[ends - 1]]
        keep.append(rows[_extremes(fy, starts, ends, np.minimum.reduceat(fy, starts))])
        keep.append(rows[_extremes(fy, starts, ends, np.maximum.reduceat(fy, starts))])
    picked = np.unique(np.concatenate(keep)) if keep else rows[:0]
    return x[picked], y[picked]


def merge(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Chunks' candidates (in file-then-row order) as one series sorted stably by x."""
    if not parts:
        return np.empty(0, np.float64), np.empty(0, np.float64)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return stable_by_x(x, y)
