"""Bounding boxes drawn into an image as TensorBoard's add_image_with_boxes draws them.

Red rectangles two pixels wide at (xmin, ymin, xmax, ymax) in pixels, each label written at
the box's lower left on a red band (with Pillow, when it is installed: TensorBoard needs it
for this call; without it the boxes are drawn and the labels are kept as data only), then
the image is scaled by `rescale`. Runs on the sealer thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from localtrack._writer.values import BadValue

_RED = (255, 0, 0, 255)


def check_boxes(boxes: np.ndarray) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise BadValue(f"boxes must be (N, 4) rows of xmin, ymin, xmax, ymax, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise BadValue("boxes must be finite pixel coordinates")
    return arr


def draw_boxes(
    hwc: np.ndarray, boxes: np.ndarray, labels: list[str] | None, rescale: float
) -> np.ndarray:
    """A copy of the (H, W, C) uint8 image with the boxes (and labels) drawn, rescaled."""
    out = np.array(hwc, copy=True)
    color = np.array(_RED[: out.shape[2]] if out.shape[2] != 1 else (76,), dtype=np.uint8)
    h, w = out.shape[:2]
    for xmin, ymin, xmax, ymax in boxes.tolist():
        x0, x1 = sorted((round(xmin), round(xmax)))
        y0, y1 = sorted((round(ymin), round(ymax)))
        for y in (y0, y0 + 1, y1 - 1, y1):
            if 0 <= y < h:
                out[y, max(x0, 0) : min(x1 + 1, w)] = color
        for x in (x0, x0 + 1, x1 - 1, x1):
            if 0 <= x < w:
                out[max(y0, 0) : min(y1 + 1, h), x] = color
    if labels:
        out = _write_labels(out, boxes, labels)
    if rescale != 1:
        out = _rescale(out, rescale)
    return out


def _write_labels(out: np.ndarray, boxes: np.ndarray, labels: list[str]) -> np.ndarray:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return out
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[out.shape[2]]
    image = Image.fromarray(out[:, :, 0] if mode == "L" else out, mode)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    fill: Any = 76 if mode == "L" else _RED[: len(mode)]
    text_fill: Any = 0 if mode == "L" else (0, 0, 0, 255)[: len(mode)]
    for (left, _top, _right, bottom), label in zip(boxes.tolist(), labels, strict=False):
        if not label:
            continue
        x0, y0, x1, y1 = font.getbbox(label)
        tw, th = x1 - x0, y1 - y0
        margin = float(np.ceil(0.05 * th))
        draw.rectangle([(left, bottom - th - 2 * margin), (left + tw, bottom)], fill=fill)
        draw.text((left + margin, bottom - th - margin), label, fill=text_fill, font=font)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _rescale(out: np.ndarray, rescale: float) -> np.ndarray:
    h, w = out.shape[:2]
    nh, nw = max(int(h * rescale), 1), max(int(w * rescale), 1)
    rows = np.minimum((np.arange(nh) / rescale).astype(np.int64), h - 1)
    cols = np.minimum((np.arange(nw) / rescale).astype(np.int64), w - 1)
    return np.ascontiguousarray(out[rows][:, cols])
