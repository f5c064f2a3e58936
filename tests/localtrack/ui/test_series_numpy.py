"""The numpy reduction answers exactly what the DuckDB M4 answers, on files of known data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from localtrack._ui import series_numpy
from localtrack._ui.m4 import SeriesRequest
from localtrack._ui.series import reduce_series
from localtrack._ui.series_numpy import column_bounds, reduce_files, row_groups
from localtrack._ui.wire import Series

T0_US = 1_700_000_000_000_000


def write(path: Path, run: str, steps: np.ndarray, values: np.ndarray, tags: list[str]) -> str:
    n = len(steps)
    table = pa.table(
        {
            "run_id": [run] * n,
            "tag": [tags[i % len(tags)] for i in range(n)],
            "step": steps.astype(np.int64),
            "wall_time": pa.array((T0_US + steps * 10_000 + 7).astype("datetime64[us]")),
            "value": values.astype(np.float64),
        }
    )
    pq.write_table(table, path, row_group_size=1_000)
    return str(path)


def store(tmp_path: Path, shuffle: bool) -> dict[str, list[str]]:
    rng = np.random.default_rng(3)
    files: dict[str, list[str]] = {}
    for r, n in (("a", 20_000), ("b", 3_000), ("c", 50)):
        steps = np.arange(n) * (2 if r == "b" else 1)
        values = rng.normal(0, 1, n)
        values[rng.choice(n, 9, replace=False)] = [np.nan] * 3 + [np.inf] * 3 + [-np.inf] * 3
        if shuffle:
            order = rng.permutation(n)
            steps, values = steps[order], values[order]
        half = n // 2
        files[r] = [
            write(tmp_path / f"{r}0.parquet", r, steps[:half], values[:half], ["loss", "acc"]),
            write(tmp_path / f"{r}1.parquet", r, steps[half:], values[half:], ["loss"]),
        ]
    return files


def by_duckdb(files: dict[str, list[str]], req: SeriesRequest) -> list[Series]:
    def source(runs: object) -> str:
        paths = ", ".join(f"'{p}'" for ps in files.values() for p in ps)
        return f"read_parquet([{paths}])"

    return reduce_series(duckdb.connect(), req, source)


REQUESTS = [
    dict(),
    dict(width=37),
    dict(width=5_000),
    dict(xmin=1_234, xmax=4_321),
    dict(xmin=10.5, after={"a": 15_000.0}),
    dict(x="wall"),
    dict(x="wall", xmin=T0_US / 1e6 + 30, xmax=T0_US / 1e6 + 90.5),
    dict(x="relative", width=50),
    dict(x="relative", xmin=5.0, xmax=20.0, width=13),
    dict(xmin=1e9),
]


@pytest.mark.parametrize("batch", [1 << 20, 333])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("extra", REQUESTS)
def test_numpy_answers_equal_duckdb_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shuffle: bool, extra: dict, batch: int
) -> None:
    monkeypatch.setattr(series_numpy, "BATCH_ROWS", batch)
    files = store(tmp_path, shuffle)
    req = SeriesRequest("loss", ("a", "b", "c", "missing"), **{"width": 200, **extra})
    want, got = by_duckdb(files, req), reduce_files(files, req, threads=2)
    assert [s.header() for s in got] == [s.header() for s in want]
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g.columns, w.columns, strict=True):
            np.testing.assert_array_equal(a, b)


def test_column_bounds_follow_the_column_formula() -> None:
    x = np.sort(np.random.default_rng(0).choice(np.linspace(0, 1, 997), 5_000))
    bounds = column_bounds(x, 0.0, 1.0, 64)
    cols = np.minimum(63, np.floor(x * 64 / (1.0 + 1e-9))).astype(int)
    assert list(bounds) == [int(np.searchsorted(cols, c)) for c in range(65)]


def test_row_groups_outside_the_range_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "s.parquet", "a", np.arange(10_000), np.zeros(10_000), ["loss"])
    meta = pq.ParquetFile(path).metadata
    assert row_groups(meta, "step", 2_500, 3_100) == [2, 3]
    assert row_groups(meta, "step", None, None) == list(range(10))
    wall = (T0_US + 2_500 * 10_000) / 1.0
    assert row_groups(meta, "wall_time", wall, wall) == [2]


@pytest.mark.parametrize("extra", [dict(), dict(xmin=3, xmax=7), dict(x="wall")])
def test_first_wall_is_the_first_points_even_when_wall_times_go_backwards(
    tmp_path: Path, extra: dict
) -> None:
    """A resumed run can log step 0 twice and its clock can go back: the first point in range
    is the least step (then the least wall time), in both reductions."""
    steps = np.array([5, 0, 0, 3, 9, 7, 1], dtype=np.int64)
    walls = np.array([900, 500, 400, 800, 100, 200, 700], dtype=np.int64) * 1_000_000
    table = pa.table(
        {
            "run_id": ["a"] * len(steps),
            "tag": ["loss"] * len(steps),
            "step": steps,
            "wall_time": pa.array((T0_US + walls).astype("datetime64[us]")),
            "value": np.arange(len(steps), dtype=np.float64),
        }
    )
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=3)
    files = {"a": [str(tmp_path / "a.parquet")]}
    req = SeriesRequest("loss", ("a",), **{"width": 200, **extra})
    (want,), (got,) = by_duckdb(files, req), reduce_files(files, req, threads=1)
    in_range = (steps >= extra.get("xmin", -1)) & (steps <= extra.get("xmax", 99))
    if extra.get("x") == "wall":
        first = walls.min()  # x is the wall time: the first point is the earliest
    else:
        least = steps[in_range].min()
        first = walls[in_range & (steps == least)].min()
    assert got.first_wall == want.first_wall == (T0_US + first) / 1e6
