"""Merged chunk candidates reduce to exactly the M4 of all the points (spikes, ties, NaN, ±inf)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from localtrack._ui.m4 import RunStats
from localtrack._ui.m4_partial import candidates, merge, stable_by_x
from localtrack._ui.series_numpy import InRange, m4_reduce

LO, HI, WIDTH = 0.0, 999.0, 40


def whole(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    sx, sy = stable_by_x(x, y)
    return m4_reduce(InRange(sx, sy, RunStats(len(x), None, None, None), None), LO, HI, WIDTH)


def chunked(x: np.ndarray, y: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    bounds = [0, *cuts, len(x)]
    parts = [candidates(x[a:b], y[a:b], LO, HI, WIDTH) for a, b in itertools.pairwise(bounds)]
    mx, my = merge(parts)
    return m4_reduce(InRange(mx, my, RunStats(len(x), None, None, None), None), LO, HI, WIDTH)


def same(x: np.ndarray, y: np.ndarray, cuts: list[int]) -> None:
    for a, b in zip(chunked(x, y, cuts), whole(x, y), strict=True):
        np.testing.assert_array_equal(a, b)


def series(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(1_000, dtype=np.float64), np.random.default_rng(seed).normal(0, 1, 1_000)


@pytest.mark.parametrize("spike_at", [137, 499, 500, 999])
@pytest.mark.parametrize("cuts", [[], [500], [100, 250, 500, 501, 900]])
def test_a_single_spike_survives_inside_a_chunk_and_at_a_boundary(
    spike_at: int, cuts: list[int]
) -> None:
    x, y = series()
    y[spike_at] = 1e6
    same(x, y, cuts)
    got = chunked(x, y, cuts)
    assert 1e6 in got[1] and 1e6 in got[4]  # among the points and the band's maxima


def test_non_finite_values_keep_their_first_x_per_column() -> None:
    x, y = series(1)
    y[[3, 4, 500, 501, 800]] = [np.nan, np.inf, -np.inf, np.nan, np.inf]
    same(x, y, [4, 501])
    got = chunked(x, y, [4, 501])
    assert len(got[0]) == len(whole(x, y)[0])


def test_ties_pick_what_one_pass_picks() -> None:
    x = np.repeat(np.arange(250, dtype=np.float64) * 4, 4)  # four rows at each x
    y = np.tile(np.array([1.0, -1.0, 1.0, -1.0]), 250)  # equal minima and maxima
    y[::7] = np.arange(len(y[::7]), dtype=np.float64)  # and some distinct ones
    for cuts in ([1, 2, 3], [2], [401, 402, 600]):
        same(x, y, cuts)


def test_chunks_out_of_order_reduce_as_if_sorted() -> None:
    x, y = series(2)
    order = np.random.default_rng(5).permutation(len(x))
    same(x[order], y[order], [333, 666])


def test_no_points_give_no_columns() -> None:
    x, y = merge([])
    assert len(x) == len(y) == 0
