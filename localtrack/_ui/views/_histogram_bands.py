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


Lists = tuple[np.ndarray, np.ndarray]
"""A column of variable-length rows as (values, offsets): row i is values[offsets[i]:offsets[i+1]]
(an Arrow list array's own buffers)."""


def flat(rows: Sequence[np.ndarray]) -> Lists:
    """Rows as one Lists."""
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([row.size for row in rows], out=offsets[1:])
    values = np.concatenate(rows).astype(float) if rows else np.zeros(0)
    return values, offsets


def padded(lists: Lists, start: int, end: int, width: int) -> np.ndarray:
    """Rows start..end of `lists` as a (rows, width) block, zeros after each row's end."""
    values, offsets = lists
    lengths = np.diff(offsets[start : end + 1])
    out = np.zeros((end - start, width))
    # a mask filled in row-major order takes each row's values in turn
    out[np.arange(width) < lengths[:, None]] = values[offsets[start] : offsets[end]]
    return out


def bands(
    limits: Sequence[np.ndarray],
    counts: Sequence[np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """(steps, 9) values at BASIS_POINTS of each histogram: bucket i holds the values in
    (limits[i-1], limits[i]], all within [lo, hi] (the histogram's min and max)."""
    return bands_flat(flat(limits), flat(counts), lo, hi)


def bands_flat(limits: Lists, counts: Lists, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """bands() of rows given as Lists (no numpy array per row)."""
    steps = len(counts[1]) - 1
    out = np.empty((steps, len(BASIS_POINTS)))
    lengths = np.diff(counts[1])
    offsets = counts[1]
    # a 0 past the end keeps every start a valid index; reduceat gives an empty row the
    # next value instead of 0, so those are set apart
    values = np.append(counts[0][: offsets[-1]], 0.0)
    totals = np.where(lengths > 0, np.add.reduceat(values, offsets[:-1]), 0.0)
    for start in range(0, steps, CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, steps)
        width = int(lengths[start:end].max(initial=0))
        out[start:end] = _bands_block(
            padded(limits, start, end, width) if width else np.zeros((end - start, 0)),
            padded(counts, start, end, width) if width else np.zeros((end - start, 0)),
            totals[start:end],
            np.asarray(lo[start:end], dtype=float),
            np.asarray(hi[start:end], dtype=float),
        )
    return out


def _bands_block(
    edge: np.ndarray, c: np.ndarray, totals: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    rows, width = c.shape
    out = np.empty((rows, len(BASIS_POINTS)))
    if width == 0:  # no buckets: no values (TensorBoard's num == 0 case below)
        out[:] = 0.0
        return out
    weights = np.cumsum(c * BASIS_POINTS[-1] / np.where(totals == 0, 1.0, totals)[:, None], axis=1)
    r = np.arange(rows)
    for j, bp in enumerate(BASIS_POINTS):
        # The bucket that holds bp: the first whose cumulative weight passes it (a per-row
        # searchsorted, side="right"). It holds values: its weight rose past the one before.
        i = (weights <= bp).sum(axis=1)
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
