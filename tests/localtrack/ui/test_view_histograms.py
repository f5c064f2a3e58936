"""The histograms view's arithmetic: TensorBoard's percentile bands, re-binning, and the
endpoints over histograms logged with the real writer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tensorboard.plugins.distribution.compressor import compress_histogram_proto

import localtrack
from localtrack._ui.views import _histogram_bands as hb
from localtrack._writer.histograms import histogram_payload


def stored(values: np.ndarray, bins: object = "tensorflow") -> dict[str, object]:
    return histogram_payload(values, bins)


def bands_of(payloads: list[dict[str, object]]) -> np.ndarray:
    return hb.bands(
        [np.asarray(h["bucket_limits"], float) for h in payloads],
        [np.asarray(h["bucket_counts"], float) for h in payloads],
        np.array([h["min"] for h in payloads], float),
        np.array([h["max"] for h in payloads], float),
    )


def tensorboard_bands(h: dict[str, object]) -> list[float]:
    proto = SimpleNamespace(
        num=h["num"], min=h["min"], max=h["max"],
        bucket=h["bucket_counts"], bucket_limit=h["bucket_limits"],
    )  # fmt: skip
    return [v for _, v in compress_histogram_proto(proto)]


def test_bands_equal_tensorboards_compressor_step_by_step() -> None:
    rng = np.random.default_rng(7)
    payloads = [stored(rng.normal(i * 0.1, 1 + i * 0.05, 500 + 37 * i)) for i in range(40)]
    payloads.append(stored(np.array([3.0])))  # a single value
    payloads.append(stored(np.array([-2.0, -2.0, 5.0])))  # empty buckets between
    payloads.append(stored(rng.uniform(0, 1, 1000), bins=np.linspace(0, 1, 11)))
    ours = bands_of(payloads)
    assert ours.shape == (len(payloads), 9)
    for row, h in zip(ours, payloads, strict=True):
        np.testing.assert_allclose(row, tensorboard_bands(h), rtol=1e-9, atol=1e-12)


def test_bands_of_uniform_values_are_their_percentiles() -> None:
    values = np.linspace(0.0, 100.0, 100_001)
    (row,) = bands_of([stored(values, bins=np.linspace(0, 100, 201))])
    expected = np.percentile(values, [bp / 100 for bp in hb.BASIS_POINTS])
    np.testing.assert_allclose(row, expected, atol=0.5)  # within one 0.5-wide bucket
    assert row[0] == 0.0 and row[-1] == pytest.approx(100.0)


def test_bands_over_more_steps_than_one_block() -> None:
    rng = np.random.default_rng(1)
    payloads = [stored(rng.normal(0, 1, 50)) for _ in range(hb.CHUNK_ROWS + 5)]
    ours = bands_of(payloads)
    for i in (0, hb.CHUNK_ROWS - 1, hb.CHUNK_ROWS, len(payloads) - 1):
        np.testing.assert_allclose(ours[i], tensorboard_bands(payloads[i]), rtol=1e-9)


def test_rebin_keeps_every_count_on_the_grid() -> None:
    h = stored(np.array([0.5, 1.5, 1.6, 2.5, 2.5, 2.5]), bins=np.array([0.0, 1, 2, 3]))
    grid = hb.grid(0.0, 3.0, 3)
    got = hb.rebin(np.asarray(h["bucket_limits"]), np.asarray(h["bucket_counts"]), 0.5, 2.5, grid)
    assert got.sum() == pytest.approx(6)
    np.testing.assert_allclose(got, [1, 2, 3])


def test_rebin_of_one_repeated_value_is_one_spike() -> None:
    h = stored(np.full(10, 4.0))
    grid = hb.grid(0.0, 8.0, 8)
    got = hb.rebin(np.asarray(h["bucket_limits"]), np.asarray(h["bucket_counts"]), 4.0, 4.0, grid)
    assert got.sum() == 10 and got.max() == 10


def test_distribution_and_offset_endpoints_over_logged_histograms(tmp_path: Path) -> None:
    from localtrack._ui.views._columns import decode_columns
    from tests.localtrack.ui.media_views_http import serve_query

    writer = localtrack.SummaryWriter(str(tmp_path / "p" / "h"))
    rng = np.random.default_rng(3)
    logged = {}
    for step in range(0, 300, 3):
        values = rng.normal(step / 100, 1, 200)
        writer.add_histogram("w", values, step)
        logged[step] = histogram_payload(values, "tensorflow")
    writer.close()

    body, _ = serve_query(tmp_path, "/api/histograms/distribution", {"tag": "w"})
    head, cols = decode_columns(body)
    assert head["count"] == 100
    assert cols["step"].tolist() == sorted(logged)
    np.testing.assert_allclose(cols["p50"][10], tensorboard_bands(logged[30])[4], rtol=1e-9)

    answer, _ = serve_query(tmp_path, "/api/histograms/offset", {"tag": "w", "ridges": "10"})
    assert answer["total_steps"] == 100
    assert answer["ridges"][0]["step"] == 0
    assert len(answer["ridges"]) == 10 and answer["ridges"][-1]["step"] == 297
    asked, _ = serve_query(
        tmp_path, "/api/histograms/offset", {"tag": "w", "ridges": "10", "step": "150"}
    )
    assert 150 in [r["step"] for r in asked["ridges"]]
    every, _ = serve_query(tmp_path, "/api/histograms/offset", {"tag": "w"})
    assert len(every["ridges"]) == 100
    assert all(sum(r["counts"]) == pytest.approx(200) for r in every["ridges"])


def test_bands_of_a_sliced_list_column_with_empty_rows_equal_row_by_row() -> None:
    """The distribution reads record batches: list columns sliced out of a bigger array, whose
    value buffers run past their rows, with empty histograms anywhere, the last included."""
    import pyarrow as pa

    from localtrack._ui.views.histograms import list_buffers

    rng = np.random.default_rng(5)
    payloads = [stored(rng.normal(0, 1, 30 + i)) for i in range(6)]
    rows = [np.asarray(h["bucket_limits"], float) for h in payloads]
    counts = [np.asarray(h["bucket_counts"], float) for h in payloads]
    rows[2], counts[2], rows[-1], counts[-1] = (np.zeros(0),) * 4
    lo = np.array([h["min"] for h in payloads], float)
    hi = np.array([h["max"] for h in payloads], float)
    column = pa.array([list(r) for r in rows] * 2, pa.list_(pa.float64()))
    counted = pa.array([list(c) for c in counts] * 2, pa.list_(pa.float64()))
    part = slice(len(rows), 2 * len(rows))  # the second copy: offsets do not start at 0
    got = hb.bands_flat(
        list_buffers(pa.chunked_array([column[part]])),
        list_buffers(pa.chunked_array([counted[part]])),
        lo,
        hi,
    )
    for i in range(len(rows)):
        want = hb.bands([rows[i]], [counts[i]], lo[i : i + 1], hi[i : i + 1])[0]
        np.testing.assert_array_equal(got[i], want)
    assert (got[2] == 0).all() and (got[-1] == 0).all()
