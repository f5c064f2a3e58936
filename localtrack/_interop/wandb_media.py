"""W&B media values of a history row → localtrack payloads (images, histograms).

An `image-file` value names a file under the run's `files/` folder (`path`), with width,
height, format and caption; the file's bytes are stored as they are (PNG, JPEG or GIF), the
channel count read from the PNG header (3 otherwise). A `histogram` value holds `values`
(counts) and `bins` (edges, one more than the counts) or `packedBins` ({min, size, count}):
bucket limits are the right edges, counts as stored; min and max the outer edges; num their
sum; sum and sum of squares are not in W&B's histogram (NaN).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from localtrack._interop.tb_values import image_format

_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # IHDR colour type → channels


def image_payload(
    value: dict[str, Any], files_dir: Path, missing: list[str]
) -> dict[str, Any] | None:
    path = files_dir / str(value.get("path", ""))
    try:
        data = path.read_bytes()
    except OSError as exc:
        missing.append(f"image file {path} could not be read ({exc.strerror or exc}): skipped")
        return None
    fmt = image_format(data)
    channels = 3
    if fmt == "png" and len(data) > 25:
        channels = _PNG_CHANNELS.get(data[25], 3)
    return {
        "width": int(value.get("width") or 0),
        "height": int(value.get("height") or 0),
        "channels": channels,
        "format": fmt if fmt != "unknown" else str(value.get("format") or "unknown"),
        "data": data,
        "caption": value.get("caption"),
    }


def histogram_payload(value: dict[str, Any]) -> dict[str, Any] | None:
    counts = [float(x) for x in value.get("values") or []]
    if "bins" in value:
        edges = [float(x) for x in value["bins"]]
    elif "packedBins" in value:
        packed = value["packedBins"]
        lo, size = float(packed["min"]), float(packed["size"])
        edges = [lo + size * i for i in range(int(packed["count"]) + 1)]
    else:
        return None
    if len(edges) != len(counts) + 1:
        return None
    return {
        "min": edges[0],
        "max": edges[-1],
        "num": float(sum(counts)),
        "sum": math.nan,
        "sum_squares": math.nan,
        "bucket_limits": edges[1:],
        "bucket_counts": counts,
    }
