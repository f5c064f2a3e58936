"""W&B-style media objects for run.log(): Histogram and Image.

Bad data never raises here: an Image of a wrong shape or a missing file, a Histogram of no
finite values, keeps the reason, and run.log() warns once for the key and skips the value,
as for every other bad value. Misuse (both or neither of sequence= and np_histogram=) raises.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._errors import UsageError
from localtrack._writer.images import image_payload, png_size, to_uint8
from localtrack._writer.values import BadValue, is_tensor, to_numpy


class Histogram:
    """A distribution to log, as wandb.Histogram: from values or from np.histogram's output."""

    def __init__(
        self,
        sequence: Any = None,
        np_histogram: tuple[Any, Any] | None = None,
        num_bins: int = 64,
    ) -> None:
        if (sequence is None) == (np_histogram is None):
            raise UsageError("Histogram needs exactly one of sequence= or np_histogram=")
        self.error: str | None = None
        self.histogram: list[float] = []
        self.bins: list[float] = []
        self._stats = (0.0, 0.0, 0.0, 0.0, 0.0)
        try:
            self._build(sequence, np_histogram, num_bins)
        except (BadValue, UsageError, TypeError, ValueError) as exc:
            self.error = f"a bad Histogram: {exc}"

    def _build(self, sequence: Any, np_histogram: tuple[Any, Any] | None, num_bins: int) -> None:
        if np_histogram is not None:
            counts, edges = (np.asarray(a, dtype=np.float64) for a in np_histogram)
            if edges.size != counts.size + 1:
                raise BadValue("np_histogram must be (counts, bin_edges) with one more edge")
            centers = (edges[:-1] + edges[1:]) / 2
            total = float(counts.sum())
            self._stats = (
                float(edges[0]),
                float(edges[-1]),
                total,
                float((counts * centers).sum()),
                float((counts * centers**2).sum()),
            )
        else:
            values = to_numpy(sequence, "Histogram values").astype(np.float64).reshape(-1)
            values = values[np.isfinite(values)]
            if values.size == 0:
                raise BadValue("Histogram needs at least one finite value")
            counts, edges = np.histogram(values, bins=num_bins)
            counts = counts.astype(np.float64)
            self._stats = (
                float(values.min()),
                float(values.max()),
                float(values.size),
                float(values.sum()),
                float(values.dot(values)),
            )
        self.histogram = counts.tolist()
        self.bins = edges.tolist()

    def payload(self) -> dict[str, Any]:
        if self.error is not None:
            raise BadValue(self.error)
        lo, hi, num, total, squares = self._stats
        return {
            "min": lo,
            "max": hi,
            "num": num,
            "sum": total,
            "sum_squares": squares,
            "bucket_limits": self.bins[1:],
            "bucket_counts": self.histogram,
        }


class Image:
    """An image to log, as wandb.Image: a numpy HWC/HW array, a torch CHW tensor, a PNG path,
    or a matplotlib figure. Float pixels in [0, 1] are scaled to 0-255."""

    def __init__(
        self, data_or_path: Any, mode: str | None = None, caption: str | None = None
    ) -> None:
        self.caption = caption
        self.error: str | None = None
        self._png: bytes | None = None
        self._hwc: np.ndarray | None = None
        try:
            if isinstance(data_or_path, str | os.PathLike):
                self._png = Path(data_or_path).read_bytes()
                png_size(self._png)  # raises for anything that is not a PNG
            elif hasattr(data_or_path, "canvas"):
                from localtrack._writer.figures import figure_to_hwc

                self._hwc = figure_to_hwc(data_or_path, close=False)
            else:
                self._hwc = _hwc_of(data_or_path)
        except (BadValue, OSError, TypeError, ValueError) as exc:
            self.error = f"a bad Image: {exc}"

    def describe(self) -> dict[str, Any]:
        """The summary's short description of the image (W&B's "image-file" entry)."""
        if self.error is not None:
            return {"_type": "image-file", "error": self.error[:200]}
        if self._png is not None:
            w, h, _ = png_size(self._png)
        else:
            assert self._hwc is not None
            h, w = self._hwc.shape[:2]
        return {
            "_type": "image-file",
            "format": "png",
            "width": int(w),
            "height": int(h),
            "caption": self.caption,
        }

    def payload(self) -> dict[str, Any]:
        if self.error is not None:
            raise BadValue(self.error)
        if self._png is not None:
            w, h, c = png_size(self._png)
            return {
                "width": w,
                "height": h,
                "channels": c,
                "format": "png",
                "data": self._png,
                "caption": self.caption,
            }
        assert self._hwc is not None
        return image_payload(self._hwc, self.caption)


def _hwc_of(data: Any) -> np.ndarray:
    tensor = is_tensor(data)
    arr = to_numpy(data, "an image")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    elif arr.ndim == 3 and tensor and arr.shape[0] in (1, 3, 4):  # torch images are CHW
        arr = arr.transpose(1, 2, 0)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise BadValue(
            f"an image must be HW, HWC (numpy) or CHW (torch) with 1, 3 or 4 channels, got {arr.shape}"
        )
    if arr.dtype.kind == "f":
        if arr.size and np.nanmin(arr) < 0:
            arr = (arr + 1) / 2
        elif arr.size and np.nanmax(arr) > 1:
            arr = arr / 255.0
    return to_uint8(arr)
