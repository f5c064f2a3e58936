"""The Embeddings view in a real browser, on add_embedding rows logged with the real writer:
the page draws N points whose PCA coordinates equal numpy's (up to sign), hovering a point
shows its metadata and its label_img thumbnail pixel for pixel, colouring follows a metadata
column, a search counts its matches, and the 3-D projection rotates. 10,000 points too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import localtrack

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def clusters(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points in d dimensions around ten centres, and each one's class."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(CLASSES), d)) * 3
    labels = rng.integers(0, len(CLASSES), n)
    return (centres[labels] + rng.standard_normal((n, d))).astype(np.float32), labels


def thumbnails(labels: np.ndarray, size: int = 12) -> np.ndarray:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 60, (len(labels), 3, size, size)).astype(np.float32)
    for k in range(len(CLASSES)):
        imgs[labels == k, k % 3] += 100 + 9 * k  # at most 241: no clipping
    return np.rint(imgs) / 255


def numpy_pca(mat: np.ndarray, k: int) -> np.ndarray:
    x = mat.astype(np.float64) - mat.astype(np.float64).mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, :k] * s[:k]


def log(
    root: Path, n: int, d: int, images: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    mat, labels = clusters(n, d)
    imgs = thumbnails(labels) if images else None
    w = localtrack.SummaryWriter(str(root / "cifar" / "simclr"))
    meta = [[CLASSES[k], i] for i, k in enumerate(labels)]
    w.add_embedding(mat, meta, imgs, global_step=5, tag="features", metadata_header=["class", "i"])
    w.add_scalar("loss", 0.5, 5)
    w.close()
    plain = localtrack.SummaryWriter(str(root / "cifar" / "plain"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    return mat, labels, imgs


def open_view(page: Any, handle: Any, extra: str = "") -> None:
    page.goto(handle.url.replace("/?", f"/?view=embeddings{extra}&"))
    page.wait_for_selector("[data-testid=emb-canvas][data-state=drawn]")


def served_coords(page: Any, n: int, k: int) -> np.ndarray:
    flat = page.evaluate("window.localtrack.embeddings.coords()")
    return np.asarray(flat, dtype=np.float64).reshape(n, k)


def assert_equal_up_to_sign(got: np.ndarray, expected: np.ndarray) -> None:
    for j in range(expected.shape[1]):
        sign = np.sign(got[:, j] @ expected[:, j])
        np.testing.assert_allclose(sign * got[:, j], expected[:, j], rtol=1e-6, atol=1e-6)


THUMB_JS = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"


def test_points_pca_hover_thumbnail_colour_search_and_3d(
    tmp_path: Path, ui: Any, page: Any
) -> None:
    n, d = 1500, 24
    mat, labels, imgs = log(tmp_path, n, d, images=True)
    open_view(page, ui(tmp_path))
    # only the run that logged embeddings is listed
    rows = page.locator("[data-testid=series-row]")
    assert rows.count() == 1 and rows.get_attribute("data-tag") == "features"
    canvas = page.locator("[data-testid=emb-canvas]")
    assert canvas.get_attribute("data-points") == str(n)
    counts = page.locator("[data-testid=emb-counts]")
    assert counts.get_attribute("data-points") == str(n)
    assert counts.text_content().startswith(f"{n:,} points · {d} dims · PCA 2-D")
    assert_equal_up_to_sign(served_coords(page, n, 2), numpy_pca(mat, 2))

    # coloured by the first column: one legend row per class, with its count
    legend = page.locator("[data-testid=emb-legend-row]").all_text_contents()
    assert sorted(legend) == sorted(f"{c}{(labels == k).sum():,}" for k, c in enumerate(CLASSES))

    # hover a point: its metadata and its thumbnail as logged
    page.wait_for_selector("[data-testid=emb-canvas][data-state=drawn]")
    page.wait_for_selector(".emb-box[data-sprite=loaded]")
    target = 123
    x, y = page.evaluate(f"window.localtrack.embeddings.screen({target})")
    page.mouse.move(x, y)
    tip = page.locator("[data-testid=emb-tooltip]")
    tip.wait_for()
    hovered = page.evaluate("window.localtrack.embeddings.hovered()")
    # another point may sit on the same pixel: the tooltip is about the one picked
    label = tip.locator("[data-testid=emb-tooltip-label]").text_content()
    assert label.startswith(f"class{CLASSES[labels[hovered]]}i{hovered}")
    assert (
        np.hypot(
            *(np.array(page.evaluate(f"window.localtrack.embeddings.screen({hovered})")) - [x, y])
        )
        <= 10
    )
    pixels = np.array(tip.locator("[data-testid=emb-thumb]").evaluate(THUMB_JS), np.uint8)
    assert imgs is not None
    expected = np.rint(imgs[hovered] * 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(pixels.reshape(12, 12, 4)[..., :3], expected)

    # colour by the index column: a numeric ramp; then none
    page.locator("[data-testid=emb-color]").select_option("i")
    assert page.locator("[data-testid=emb-legend].numeric").count() == 1
    page.locator("[data-testid=emb-color]").select_option("")
    assert page.locator("[data-testid=emb-legend]").is_hidden()

    page.locator("[data-testid=emb-search]").fill("^(cat|dog)$")
    matches = page.locator("[data-testid=emb-matches]")
    assert matches.get_attribute("data-count") == str(int(np.isin(labels, [3, 5]).sum()))

    page.locator("[data-testid=emb-dims] button[data-dims='3']").click()
    page.wait_for_selector("[data-testid=emb-canvas][data-dims='3'][data-state=drawn]")
    assert canvas.get_attribute("data-points") == str(n)
    assert_equal_up_to_sign(served_coords(page, n, 3), numpy_pca(mat, 3))
    yaw = page.evaluate("window.localtrack.embeddings.camera.yaw")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + 130, steps=6)
    page.mouse.up()
    assert page.evaluate("window.localtrack.embeddings.camera.yaw") != yaw
    assert "emb_dims=3" in page.url and "emb_q=" in page.url


def test_ten_thousand_points(tmp_path: Path, ui: Any, new_page: Any, screenshot: Any) -> None:
    n, d = 10_000, 128
    mat, _, _ = log(tmp_path, n, d, images=True)
    page = new_page(viewport={"width": 1440, "height": 900})
    open_view(page, ui(tmp_path))
    assert page.locator("[data-testid=emb-canvas]").get_attribute("data-points") == str(n)
    assert_equal_up_to_sign(served_coords(page, n, 2), numpy_pca(mat, 2))
    page.wait_for_selector(".emb-box[data-sprite=loaded]")
    x, y = page.evaluate("window.localtrack.embeddings.screen(42)")
    page.mouse.move(x, y)
    page.locator("[data-testid=emb-thumb]").wait_for()
    screenshot(page, "embeddings")
