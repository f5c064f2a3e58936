"""Embeddings as TensorBoard's projector reads them: files beside the event files.

As torch's add_embedding writes them: per embedding `<step:05>/<tag>/tensors.tsv` (the
matrix, each float32 written so it parses back to the same float32), `metadata.tsv` (a
header line first when there are several columns) and `sprite.png` (the label images tiled
in a square grid, 8-bit RGB), all listed in `projector_config.pbtxt` under the tensor name
`<tag>:<step:05>`. The TSV's modification time is the row's wall time, which is where
`localtrack import tensorboard` reads it from.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from localtrack._interop import tb_summaries as tbs

CONFIG = "projector_config.pbtxt"


def write_embeddings(table: pa.Table, run_dir: Path, warnings: list[str]) -> int:
    from google.protobuf import text_format

    tb = tbs.load()
    config = tb.projector_config_pb2.ProjectorConfig()
    micros = table.column("wall_time").cast(pa.int64()).to_pylist()
    rows = table.drop_columns(["wall_time"]).to_pylist()
    for row, us in zip(rows, micros, strict=True):
        rel = f"{row['step']:05}/{row['tag']}"
        folder = run_dir / rel
        folder.mkdir(parents=True, exist_ok=True)
        mat = _array(row["mat"])
        info = config.embeddings.add(tensor_name=f"{row['tag']}:{row['step']:05}")
        info.tensor_path = f"{rel}/tensors.tsv"
        if row["metadata"] is not None:
            _metadata(folder / "metadata.tsv", json.loads(row["metadata"]), row["metadata_header"])
            info.metadata_path = f"{rel}/metadata.tsv"
        if row["label_img"] is not None:
            img = _array(row["label_img"])
            try:
                _sprite(folder / "sprite.png", img)
            except ImportError:
                warnings.append(f"embedding {row['tag']!r}: no sprite (install Pillow)")
            else:
                info.sprite.image_path = f"{rel}/sprite.png"
                info.sprite.single_image_dim.extend([img.shape[3], img.shape[2]])
        tensors = folder / "tensors.tsv"
        lines = ["\t".join(repr(float(x)) for x in r) for r in mat.astype(np.float32).tolist()]
        tensors.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.utime(tensors, ns=(us * 1000, us * 1000))
    (run_dir / CONFIG).write_text(text_format.MessageToString(config), encoding="utf-8")
    return len(rows)


def _array(struct: dict[str, Any]) -> np.ndarray:
    arr: np.ndarray = np.frombuffer(struct["data"], struct["dtype"]).reshape(struct["shape"])
    return arr


def _metadata(path: Path, metadata: list[Any], header: str | None) -> None:
    lines = []
    if header is not None:
        lines.append("\t".join(map(str, json.loads(header))))
    for r in metadata:
        lines.append("\t".join(map(str, r)) if isinstance(r, list) else str(r))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sprite(path: Path, img: np.ndarray) -> None:
    """(N, C, H, W) in [0, 1] tiled into a square grid, as torch's make_sprite does."""
    from PIL import Image

    n, c, h, w = img.shape
    if c == 1:
        img = np.repeat(img, 3, axis=1)
    img = img[:, :3]
    side = math.ceil(math.sqrt(n))
    grid = np.zeros((side * h, side * w, 3), np.uint8)
    for i in range(n):
        y, x = divmod(i, side)
        tile = np.clip(np.rint(img[i].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
        grid[y * h : (y + 1) * h, x * w : (x + 1) * w] = tile
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
