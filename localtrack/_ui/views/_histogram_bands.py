"""Histogram arithmetic for the histograms view: TensorBoard's percentile bands, and re-binning
onto one grid for the ridges. Pure numpy over the stored buckets; no sampling of steps.

Bands are TensorBoard's `compress_histogram_proto` (tensorboard/plugins/distribution/
compressor.py), vectorised over every step at once: the basis points 0, 668, 1587, 3085,
5000, 6915, 8413, 9332, 10000 (min, about 7/16/31/50/69/84/93 %, max) of each histogram,
linearly interpolated inside the bucket that holds them, within [min, max].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BASIS_POINTS = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)
BAND_NAMES = ("p0", "p7", "p16", "p31", "p50", "p69", "p84", "p93", "p100")
CHUNK_ROWS = 1024
"""Steps computed together (a padded rows × buckets block each)."""


def padded(lists: Sequence[np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((len(lists), width))
    for i, row in enumerate(lists):
        out[i, : row.size] = row
    return out


def bands(
    limits: Sequence[np.ndarray],
    counts: Sequence[np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """(steps, 9) values at BASIS_POINTS of each histogram: bucket i holds the values in
    (limits[i-1], limits[i]], all within [lo, hi] (the histogram's min and max)."""
    out = np.empty((len(counts), len(BASIS_POINTS)))
    for start in range(0, len(counts), CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, len(counts))
        out[start:end] = _bands_block(
            limits[start:end], counts[start:end], lo[start:end], hi[start:end]
        )
    return out


def _bands_block(
    limits: Sequence[np.ndarray], counts: Sequence[np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    rows = len(counts)
    width = max((c.size for c in counts), default=0)
    out = np.empty((rows, len(BASIS_POINTS)))
    if width == 0:
        out[:] = np.asarray(hi, dtype=float)[:, None]
        return out
    c = padded(counts, width)
    edge = padded(limits, width)
    totals = np.array([row.sum() for row in counts])
    weights = np.cumsum(c * BASIS_POINTS[-1] / np.where(totals == 0, 1.0, totals)[:, None], axis=1)
    nonzero = c > 0
    index = np.arange(width)
    # the first bucket at or after each position that holds anything (width: none)
    after = np.where(nonzero, index, width)
    next_filled = np.minimum.accumulate(after[:, ::-1], axis=1)[:, ::-1]
    r = np.arange(rows)
    for j, bp in enumerate(BASIS_POINTS):
        first = (weights <= bp).sum(axis=1)  # np.searchsorted(side="right") per row
        i = np.where(first < width, next_filled[r, np.minimum(first, width - 1)], width)
        found = i < width
        k = np.minimum(i, width - 1)
        cumsum = weights[r, k]
        prev = np.where(k > 0, weights[r, np.maximum(k - 1, 0)], 0.0)
        left = np.where((k == 0) | (prev == 0), lo, np.maximum(edge[r, np.maximum(k - 1, 0)], lo))
        right = np.minimum(edge[r, k], hi)
        span = np.where(cumsum == prev, 1.0, cumsum - prev)
        value = left + (bp - prev) * (right - left) / span
        out[:, j] = np.where(found, value, hi)
    empty = totals == 0
    out[empty] = 0.0  # TensorBoard: a histogram of no values has 0 at every basis point
    return out


def rebin(
    limits: np.ndarray, counts: np.ndarray, lo: float, hi: float, grid: np.ndarray
) -> np.ndarray:
    """The histogram's counts in the bins of `grid` (edges), each bucket's count spread
    evenly over its (clipped) range, as TensorBoard's histogram dashboard does."""
    if counts.size == 0:
        return np.zeros(grid.size - 1)
    edges = np.clip(np.concatenate([[lo], limits]), lo, hi)
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    if edges[-1] <= edges[0]:  # every value equal: one spike at lo
        out = np.zeros(grid.size - 1)
        out[np.clip(np.searchsorted(grid, lo, side="right") - 1, 0, grid.size - 2)] = cdf[-1]
        return out
    # a run of zero-width buckets is one point: keep its last (cumulative) value
    keep = np.concatenate([np.diff(edges) > 0, [True]])
    at_edges = np.interp(grid, edges[keep], cdf[keep], left=0.0, right=cdf[-1])
    at_edges[0], at_edges[-1] = 0.0, cdf[-1]  # the grid spans [lo, hi]: every value is in it
    return np.diff(at_edges)


def grid(lo: float, hi: float, bins: int) -> np.ndarray:
    """`bins` equal bins from lo to hi (a tiny range around lo when they are equal)."""
    if not hi > lo:
        pad = max(abs(lo) * 1e-3, 1e-3)
        lo, hi = lo - pad, hi + pad
    return np.linspace(lo, hi, bins + 1)
