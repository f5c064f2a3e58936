"""The Embeddings view's endpoints over real HTTP, on embeddings logged with the real writer:
the PCA coordinates equal numpy's SVD of the centred matrix (up to each component's sign),
the metadata columns, and the label_img thumbnails tiled as logged."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from PIL import Image

import localtrack
from localtrack import ui
from localtrack._ui.views._arrays_wire import unpack
from localtrack._ui.views._pca import pca

N, D = 300, 16


def matrix() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.standard_normal((N, D)) @ np.diag(np.linspace(4, 0.5, D))).astype(np.float32)


def thumbnails() -> np.ndarray:
    rng = np.random.default_rng(4)
    return (rng.integers(0, 256, (N, 3, 6, 5)) / 255).astype(np.float32)


def numpy_pca(mat: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = mat.astype(np.float64)
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, :k] * s[:k], s[:k] ** 2 / (s**2).sum()


def assert_equal_up_to_sign(got: np.ndarray, expected: np.ndarray) -> None:
    for j in range(expected.shape[1]):
        sign = np.sign(got[:, j] @ expected[:, j])
        np.testing.assert_allclose(sign * got[:, j], expected[:, j], rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    root = tmp_path_factory.mktemp("embeddings")
    w = localtrack.SummaryWriter(str(root / "p" / "emb"))
    labels = [[f"c{i % 4}", i] for i in range(N)]
    w.add_embedding(
        matrix(), labels, thumbnails(), global_step=2, tag="feat", metadata_header=["class", "i"]
    )
    w.add_embedding(matrix()[:40] * 2, [f"w{i}" for i in range(40)], tag="words")
    w.close()
    plain = localtrack.SummaryWriter(str(root / "p" / "plain"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    handle = ui.serve(root=root, port=0, token=False)
    base = handle.url.rstrip("/")
    listed = requests.get(base + "/api/runs", timeout=30).json()["runs"]
    runs = {r["name"]: r["run_id"] for r in listed}
    yield base, runs["emb"], runs["plain"]
    handle.stop()


def get(base: str, path: str, **params: object) -> requests.Response:
    return requests.get(base + path, params=params, timeout=60)


def test_tags_list_only_runs_with_embeddings_and_their_size(served: tuple[str, str, str]) -> None:
    base, emb, plain = served
    body = get(base, "/api/embeddings/tags", runs=f"{emb},{plain}").json()
    assert body == {
        "tags": [
            {"tag": "feat", "runs": [{"run_id": emb, "steps": [2], "points": N, "dims": D}]},
            {"tag": "words", "runs": [{"run_id": emb, "steps": [0], "points": 40, "dims": D}]},
        ]
    }
    assert get(base, "/api/embeddings/tags", runs=plain).json() == {"tags": []}


def test_projection_is_numpys_pca_up_to_sign(served: tuple[str, str, str]) -> None:
    base, emb, _ = served
    for dims in (2, 3):
        res = get(base, "/api/embeddings/projection", run=emb, tag="feat", dims=dims)
        assert res.headers["X-Localtrack-Format"] == "arrays-v1"
        header, arrays = unpack(res.content)
        expected, explained = numpy_pca(matrix(), dims)
        assert arrays["coords"].shape == (N, dims) and arrays["coords"].dtype == np.float64
        assert_equal_up_to_sign(arrays["coords"], expected)
        np.testing.assert_allclose(header["explained"], explained, rtol=1e-9)
        assert (header["points"], header["dims"], header["step"]) == (N, D, 2)
    assert header["metadata"]["columns"] == ["class", "i"]
    assert header["metadata"]["values"][0][:5] == ["c0", "c1", "c2", "c3", "c0"]
    assert header["metadata"]["values"][1][-1] == N - 1
    assert header["images"] == {
        "count": N,
        "stride": 1,
        "cell_h": 6,
        "cell_w": 5,
        "cols": 18,
        "rows": 17,
    }
    header, _ = unpack(get(base, "/api/embeddings/projection", run=emb, tag="words").content)
    assert header["metadata"] == {"columns": ["label"], "values": [[f"w{i}" for i in range(40)]]}
    assert header["images"] is None


def test_sprite_tiles_the_logged_thumbnails(served: tuple[str, str, str]) -> None:
    base, emb, _ = served
    res = get(base, "/api/embeddings/sprite", run=emb, tag="feat")
    assert res.headers["Content-Type"] == "image/png"
    sheet = np.asarray(Image.open(io.BytesIO(res.content)))
    assert sheet.shape == (17 * 6, 18 * 5, 3)
    logged = np.rint(thumbnails() * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    for i in (0, 17, 18, N - 1):
        r, c = divmod(i, 18)
        np.testing.assert_array_equal(sheet[r * 6 : (r + 1) * 6, c * 5 : (c + 1) * 5], logged[i])
    assert get(base, "/api/embeddings/sprite", run=emb, tag="words").status_code == 404


def test_bad_parameters(served: tuple[str, str, str]) -> None:
    base, emb, _ = served
    bad = get(base, "/api/embeddings/projection", run=emb, tag="feat", dims=4)
    assert bad.status_code == 400 and "dims" in bad.json()["error"]
    assert get(base, "/api/embeddings/projection", run=emb, tag="nope").status_code == 404
    assert get(base, "/api/embeddings/projection", run=emb, tag="feat", step=7).status_code == 404
    assert get(base, "/api/embeddings/projection", run="../x", tag="feat").status_code == 400


def test_pca_of_a_wide_matrix_and_of_degenerate_ones() -> None:
    rng = np.random.default_rng(5)
    low_rank = (rng.standard_normal((400, 5)) * [10, 6, 3, 2, 1]) @ rng.standard_normal((5, 3000))
    wide = low_rank + 0.01 * rng.standard_normal((400, 3000))  # D > 2048: randomized SVD
    got = pca(wide, 3)
    expected, explained = numpy_pca(wide, 3)
    assert_equal_up_to_sign(got.coords, expected)
    np.testing.assert_allclose(got.explained, explained, rtol=1e-6)
    one = pca(np.ones((1, 4)), 3)  # one point: no variance, zeros, no error
    assert one.coords.shape == (1, 3) and not one.coords.any() and not one.explained.any()
    line = pca(np.arange(10.0)[:, None] * [1.0, 2.0], 3)  # rank 1, two columns
    assert line.coords.shape == (10, 3) and np.allclose(line.explained, [1, 0, 0])
    nan = pca(np.array([[np.nan, 1.0], [0.0, 2.0], [1.0, 3.0]]), 2)
    assert np.isfinite(nan.coords).all()
