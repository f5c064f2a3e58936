"""PCA of an embedding matrix for the projector: the top principal components in numpy.

The matrix is centred, then its components come from the D×D covariance (`eigh`), which for
the projector's usual shapes (N up to 10⁵, D up to a couple of thousand) costs one N·D² product and
is exact; a wide matrix (D > 2048) uses a randomized SVD (Halko, Martinsson and Tropp 2011:
a Gaussian sketch with oversampling and four power iterations), which stays within float
precision of the exact components for the leading few that the projector shows. Each
component's sign is fixed so that its largest loading is positive (as scikit-learn's
`svd_flip`), so the same matrix always gives the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDE = 2048


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray  # (N, k) float64: the centred rows on the components
    components: np.ndarray  # (k, D)
    explained: np.ndarray  # (k,) the share of the total variance each component carries


def pca(mat: np.ndarray, k: int, seed: int = 0) -> Projection:
    """The first `k` principal components of `mat` (N, D); fewer when the matrix has fewer
    rows or columns (missing components are zeros, so the page still gets `k` columns)."""
    x = np.asarray(mat, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"an embedding matrix is 2-d (N, D), got shape {x.shape}")
    n, d = x.shape
    if not np.isfinite(x).all():  # a NaN row would blank the whole picture: count it as 0
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if n:
        x = x - x.mean(axis=0)
    keep = max(0, min(k, n, d))
    total = float((x * x).sum())
    if keep == 0:
        components = np.zeros((0, d))
        variances = np.zeros(0)
    elif d <= WIDE:
        values, vectors = np.linalg.eigh(x.T @ x)
        order = np.argsort(values)[::-1][:keep]
        components = vectors[:, order].T
        variances = np.clip(values[order], 0.0, None)
    else:
        components, variances = _randomized(x, keep, seed)
    big = np.argmax(np.abs(components), axis=1) if keep else np.zeros(0, int)
    signs = np.sign(components[np.arange(keep), big]) if keep else np.zeros(0)
    signs[signs == 0] = 1.0
    components = components * signs[:, None]
    coords = np.zeros((n, k))
    coords[:, :keep] = x @ components.T
    explained = np.zeros(k)
    if total > 0:
        explained[:keep] = variances / total
    padded = np.zeros((k, d))
    padded[:keep] = components
    return Projection(coords, padded, explained)


def _randomized(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sketch = x @ rng.standard_normal((x.shape[1], k + 10))
    q, _ = np.linalg.qr(sketch)
    for _ in range(4):
        q, _ = np.linalg.qr(x.T @ q)
        q, _ = np.linalg.qr(x @ q)
    _, s, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    return vt[:k], s[:k] ** 2
