"""The M4 query on known data: spikes kept, non-finite values apart, raw when small."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from localtrack._ui.m4 import RunStats, SeriesRequest, m4_sql, stats_sql
from localtrack._ui.series import reduce_series
from localtrack._ui.wire import Series

T0_US = 1_700_000_000_000_000


def table(run: str, values: np.ndarray, tag: str = "loss", start: int = 0) -> pa.Table:
    n = len(values)
    steps = np.arange(start, start + n, dtype=np.int64)
    wall = (T0_US + steps * 10_000).astype("datetime64[us]")
    return pa.table(
        {
            "run_id": [run] * n,
            "tag": [tag] * n,
            "step": steps,
            "wall_time": pa.array(wall),
            "value": np.asarray(values, dtype=np.float64),
        }
    )


def reduce(tables: list[pa.Table], req: SeriesRequest) -> list[Series]:
    con = duckdb.connect()
    con.register("scalars", pa.concat_tables(tables))
    return reduce_series(con, req, lambda runs: "scalars")


def test_a_single_spike_in_many_points_is_kept() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 200_000)
    values[123_457] = 1_000.0
    values[7] = -500.0
    (s,) = reduce([table("a", values)], SeriesRequest("loss", ("a",), width=100))
    x, y, band_x, band_min, band_max = s.columns[:5]
    assert s.reduced and s.points == 200_000
    assert len(x) <= 4 * 100 and len(band_x) == 100
    assert 1_000.0 in y and x[list(y).index(1_000.0)] == 123_457
    assert -500.0 in y
    assert band_max.max() == 1_000.0 and band_min.min() == -500.0
    assert x[0] == 0 and x[-1] == 199_999  # first and last points
    assert y[0] == values[0] and y[-1] == values[-1]
    assert np.all(np.diff(x) >= 0)
    # each column's band is the min and max of its points
    cols = np.minimum(100 - 1, np.floor(np.arange(200_000) * 100 / (199_999 + 1e-9))).astype(int)
    assert np.allclose(band_min, [values[cols == c].min() for c in range(100)])
    assert np.allclose(band_max, [values[cols == c].max() for c in range(100)])


def test_non_finite_values_come_apart_at_most_one_of_each_kind_per_column() -> None:
    values = np.linspace(0, 1, 10_000)
    values[[10, 11, 12]] = np.nan
    values[500] = np.inf
    values[501] = np.inf
    values[9_000] = -np.inf
    (s,) = reduce([table("a", values)], SeriesRequest("loss", ("a",), width=10))
    _x, y, _bx, band_min, band_max, nx, ny = s.columns
    assert (
        np.all(np.isfinite(y)) and np.all(np.isfinite(band_min)) and np.all(np.isfinite(band_max))
    )
    assert list(nx) == [10, 500, 9_000]
    assert np.isnan(ny[0]) and ny[1] == np.inf and ny[2] == -np.inf


def test_raw_series_keeps_every_non_finite_point() -> None:
    values = np.array([1.0, np.nan, np.nan, np.inf, 2.0])
    (s,) = reduce([table("a", values)], SeriesRequest("loss", ("a",), width=800))
    assert not s.reduced
    assert list(s.columns[0]) == [0, 4] and list(s.columns[1]) == [1.0, 2.0]
    assert list(s.columns[5]) == [1, 2, 3]
    assert len(s.columns[2]) == 0  # no band for a raw series


def test_small_series_is_sent_whole_and_equals_what_was_logged() -> None:
    values = np.sin(np.arange(3_200) / 10)
    (s,) = reduce([table("a", values)], SeriesRequest("loss", ("a",), width=800))
    assert not s.reduced and s.points == 3_200
    assert np.array_equal(s.columns[0], np.arange(3_200))
    assert np.array_equal(s.columns[1], values)


def test_constant_series_and_one_point() -> None:
    (s,) = reduce([table("a", np.full(100_000, 3.5))], SeriesRequest("loss", ("a",), width=50))
    assert s.reduced and set(s.columns[1]) == {3.5} and len(s.columns[0]) <= 200
    (one,) = reduce([table("b", np.array([7.0]), start=42)], SeriesRequest("loss", ("b",)))
    assert one.points == 1 and list(one.columns[0]) == [42] and list(one.columns[1]) == [7.0]
    assert one.last_x == 42


def test_empty_range_unknown_run_and_other_tag() -> None:
    data = [table("a", np.arange(100.0))]
    (s,) = reduce(data, SeriesRequest("loss", ("a",), xmin=1_000, xmax=2_000))
    assert s.points == 0 and len(s.columns[0]) == 0 and s.last_x is None
    (u,) = reduce(data, SeriesRequest("loss", ("nosuch",)))
    assert u.points == 0
    (t,) = reduce(data, SeriesRequest("acc", ("a",)))
    assert t.points == 0


def test_range_zoom_is_full_resolution_inside_it() -> None:
    values = np.cos(np.arange(1_000_000) / 1e4)
    (s,) = reduce([table("a", values)], SeriesRequest("loss", ("a",), xmin=5_000, xmax=6_000))
    assert not s.reduced and s.points == 1_001
    assert np.array_equal(s.columns[0], np.arange(5_000, 6_001))
    assert np.array_equal(s.columns[1], values[5_000:6_001])


def test_after_returns_only_newer_points_per_run() -> None:
    data = [table("a", np.arange(100.0)), table("b", np.arange(100.0) * 2)]
    a, b = reduce(data, SeriesRequest("loss", ("a", "b"), after={"a": 97, "b": 90}))
    assert list(a.columns[0]) == [98, 99]
    assert list(b.columns[0]) == list(range(91, 100))
    assert b.first_wall == pytest.approx(T0_US / 1e6)


def test_runs_come_back_in_the_order_asked() -> None:
    data = [table("a", np.zeros(5)), table("b", np.ones(5))]
    b, a = reduce(data, SeriesRequest("loss", ("b", "a")))
    assert (b.run_id, a.run_id) == ("b", "a")
    assert set(b.columns[1]) == {1.0} and set(a.columns[1]) == {0.0}


@pytest.mark.parametrize("x", ["wall", "relative"])
def test_time_axes(x: str) -> None:
    (s,) = reduce([table("a", np.arange(10.0), start=5)], SeriesRequest("loss", ("a",), x=x))
    first = (T0_US + 5 * 10_000) / 1e6
    expected = first + np.arange(10) * 0.01 if x == "wall" else np.arange(10) * 0.01
    assert np.allclose(s.columns[0], expected, atol=1e-6)
    assert s.first_wall == pytest.approx(first)


def test_relative_zoom_and_wall_zoom_select_the_same_points() -> None:
    data = [table("a", np.arange(1_000.0))]
    (r,) = reduce(data, SeriesRequest("loss", ("a",), x="relative", xmin=1.0, xmax=2.0))
    t0 = T0_US / 1e6
    (w,) = reduce(data, SeriesRequest("loss", ("a",), x="wall", xmin=t0 + 1.0, xmax=t0 + 2.0))
    assert np.array_equal(r.columns[1], w.columns[1])
    assert list(r.columns[1]) == [float(v) for v in range(100, 201)]


def test_tag_and_run_ids_are_bound_not_formatted() -> None:
    evil = "x' OR 1=1; --"
    data = [table("a", np.arange(3.0), tag=evil), table("b", np.arange(3.0))]
    sql, params = stats_sql(SeriesRequest(evil, ("a",)), lambda runs: "scalars")
    assert evil not in sql and params["tag"] == evil
    (s,) = reduce(data, SeriesRequest(evil, ("a",)))
    assert s.points == 3


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="x must be"):
        stats_sql(SeriesRequest("t", ("a",), x="epoch"), lambda runs: "scalars")
    with pytest.raises(ValueError, match="width"):
        m4_sql(SeriesRequest("t", ("a",), width=0), lambda runs: "scalars", [RunStats(9, 0, 1, 0)])


def test_a_series_known_finite_reduces_the_same_without_the_checks() -> None:
    values = np.random.default_rng(3).normal(0, 1, 50_000)
    values[777] = 99.0
    con = duckdb.connect()
    con.register("scalars", table("a", values))
    req = SeriesRequest("loss", ("a",), width=64)
    (checked,) = reduce_series(con, req, lambda runs: "scalars", [False])
    (fast,) = reduce_series(con, req, lambda runs: "scalars", [True])
    for a, b in zip(checked.columns, fast.columns, strict=True):
        assert np.array_equal(a, b)
    assert 99.0 in fast.columns[1]


def test_after_for_some_runs_only_in_one_scan() -> None:
    data = [table("a", np.arange(100.0)), table("b", np.arange(50.0))]
    a, b = reduce(data, SeriesRequest("loss", ("a", "b"), after={"a": 95}))
    assert list(a.columns[0]) == [96, 97, 98, 99]
    assert b.points == 50 and list(b.columns[0]) == list(range(50))
    a, b = reduce(data, SeriesRequest("loss", ("a", "b"), x="relative", after={"b": 0.475}))
    assert a.points == 100 and list(b.columns[1]) == [48.0, 49.0]
