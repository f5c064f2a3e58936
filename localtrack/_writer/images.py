"""Images: TensorBoard's `dataformats`, grids of image batches, and PNG encoding (no Pillow).

Float images are taken to be in [0, 1] and scaled by 255, uint8 images are kept, as in
TensorBoard. Grayscale stays one channel; RGB and RGBA stay three and four.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any

import numpy as np

from localtrack._errors import UsageError
from localtrack._writer.values import BadValue

_KNOWN_FORMATS = ("NCHW", "NHWC", "CHW", "HWC", "HW", "WH")


def check_dataformats(dataformats: str, batched: bool) -> str:
    """Raise UsageError, naming the accepted ones, for a dataformats string that cannot work."""
    fmt = dataformats.upper() if isinstance(dataformats, str) else dataformats
    ok = [f for f in _KNOWN_FORMATS if (len(f) == 4) == batched] if batched else _KNOWN_FORMATS
    if not isinstance(fmt, str) or sorted(fmt) not in [sorted(f) for f in ok]:
        raise UsageError(
            f"unknown dataformats {dataformats!r}; use one of {', '.join(ok)} "
            "(N: batch, C: channels, H: height, W: width)"
        )
    return fmt


def to_hwc(array: np.ndarray, dataformats: str) -> np.ndarray:
    """An (H, W, C) uint8 image from an array laid out as `dataformats` (a grid if batched)."""
    if array.ndim != len(dataformats):
        raise BadValue(
            f"an image of shape {array.shape} does not match dataformats={dataformats!r}"
        )
    if len(dataformats) == 4:
        nchw = array.transpose([dataformats.index(c) for c in "NCHW"])
        hwc = make_grid(nchw).transpose(1, 2, 0)
    elif len(dataformats) == 3:
        hwc = array.transpose([dataformats.index(c) for c in "HWC"])
    else:
        hwc = array.transpose([dataformats.index(c) for c in "HW"])[:, :, None]
    if hwc.shape[2] not in (1, 3, 4):
        raise BadValue(
            f"an image must have 1, 3 or 4 channels, got {hwc.shape[2]} (shape {array.shape}, "
            f"dataformats={dataformats!r})"
        )
    if hwc.shape[0] == 0 or hwc.shape[1] == 0:
        raise BadValue(f"an image of shape {array.shape} has no pixels")
    return to_uint8(hwc)


def to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "fiub":
        raise BadValue(f"image pixels must be numbers, got dtype {array.dtype}")
    scaled = array.astype(np.float64) * (255.0 if array.dtype.kind == "f" else 1.0)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.ascontiguousarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def make_grid(nchw: np.ndarray, ncols: int = 8) -> np.ndarray:
    """Tile a batch (N, C, H, W) into one (C, H', W') image, TensorBoard's layout (no padding)."""
    n, c, h, w = nchw.shape
    if n == 0:
        raise BadValue("an image batch with no images")
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    canvas = np.zeros((c, h * nrows, w * ncols), dtype=nchw.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h : (y + 1) * h, x * w : (x + 1) * w] = nchw[i]
    return canvas


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


_COLOR_TYPE = {1: 0, 3: 2, 4: 6}


def encode_png(hwc: np.ndarray, level: int = 6) -> bytes:
    """PNG bytes of an (H, W, C) uint8 image, C in 1, 3, 4."""
    h, w, c = hwc.shape
    rows = np.empty((h, 1 + w * c), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = hwc.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def decode_png(data: bytes) -> np.ndarray:
    """The (H, W, C) uint8 pixels of a PNG written by encode_png (filter type None only)."""
    w, h, _, color = struct.unpack(">IIBB", data[16:26])
    c = {0: 1, 2: 3, 6: 4}[color]
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * c)
    return raw[:, 1:].reshape(h, w, c)


def png_size(data: bytes) -> tuple[int, int, int]:
    """(width, height, channels) read from any PNG file's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise BadValue("the file is not a PNG image")
    w, h, _, color = struct.unpack(">IIBB", data[16:26])
    return w, h, {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color, 3)


def image_payload(hwc: np.ndarray, caption: str | None = None) -> dict[str, Any]:
    return {
        "width": int(hwc.shape[1]),
        "height": int(hwc.shape[0]),
        "channels": int(hwc.shape[2]),
        "format": "png",
        "data": encode_png(hwc),
        "caption": caption,
    }
