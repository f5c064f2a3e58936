"""Histogram binning as TensorBoard does it, run on the sealer thread, plus PR curves."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from localtrack._writer.values import BadValue


@lru_cache(maxsize=1)
def tensorflow_bins() -> np.ndarray:
    """TensorBoard's default bucket edges: ±1e-12 growing by 1.1 up to 1e20, and 0."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    arr = np.array(pos)
    return np.concatenate([-arr[::-1], [0.0], arr])


def histogram_payload(values: np.ndarray, bins: Any, max_bins: int | None = None) -> dict[str, Any]:
    """min/max/num/sum/sum_squares and TensorBoard-style bucket limits and counts."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        raise BadValue(f"a histogram needs at least one finite value, got {flat.size} values")
    edges = tensorflow_bins() if isinstance(bins, str) and bins == "tensorflow" else bins
    try:
        counts, limits = np.histogram(finite, bins=edges)
    except (ValueError, TypeError) as exc:
        raise BadValue(f"cannot bin the values with bins={bins!r}: {exc}") from exc
    counts, limits = _trim(counts.astype(np.float64), limits, max_bins)
    return {
        "min": float(finite.min()),
        "max": float(finite.max()),
        "num": float(finite.size),
        "sum": float(finite.sum()),
        "sum_squares": float(finite.dot(finite)),
        "bucket_limits": limits.tolist(),
        "bucket_counts": counts.tolist(),
    }


def _trim(
    counts: np.ndarray, limits: np.ndarray, max_bins: int | None
) -> tuple[np.ndarray, np.ndarray]:
    if max_bins is not None and counts.size > max_bins:
        sub = -(-counts.size // max_bins)
        pad = (-counts.size) % sub
        counts = np.pad(counts, (0, pad)).reshape(-1, sub).sum(axis=1)
        limits = np.append(limits[:-1:sub], limits[-1])
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        return counts[:1], limits[1:2]
    lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
    # bucket i counts values in (limits[i], limits[i+1]]: keep right edges, TensorBoard style
    return counts[lo:hi], limits[lo + 1 : hi + 1]


def pr_curve_payload(
    labels: np.ndarray, predictions: np.ndarray, num_thresholds: int, weights: np.ndarray | None
) -> dict[str, Any]:
    """TensorBoard's PR curve: counts of tp/fp/tn/fn at evenly spaced thresholds in [0, 1]."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if labels.size != predictions.size:
        raise BadValue(
            f"labels ({labels.size}) and predictions ({predictions.size}) differ in size"
        )
    if num_thresholds < 2:
        raise BadValue(f"num_thresholds must be at least 2, got {num_thresholds}")
    if predictions.size and (predictions.min() < 0 or predictions.max() > 1):
        raise BadValue("predictions must lie in [0, 1]")
    w = (
        np.ones_like(predictions)
        if weights is None
        else np.asarray(weights, dtype=np.float64).reshape(-1)
    )
    bucket = np.floor(predictions * (num_thresholds - 1)).astype(np.int64)
    tp_hist = np.bincount(bucket, weights=w * labels, minlength=num_thresholds)
    fp_hist = np.bincount(bucket, weights=w * ~labels, minlength=num_thresholds)
    tp = np.cumsum(tp_hist[::-1])[::-1]
    fp = np.cumsum(fp_hist[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return {
        "num_thresholds": num_thresholds,
        "thresholds": np.linspace(0, 1, num_thresholds).tolist(),
        "tp": tp.tolist(),
        "fp": fp.tolist(),
        "tn": tn.tolist(),
        "fn": fn.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
    }
