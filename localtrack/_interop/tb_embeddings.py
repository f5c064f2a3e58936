"""TensorBoard projector embeddings (not in event files) → the `embeddings` stream.

`add_embedding` writes `projector_config.pbtxt` in the run directory and, per embedding,
`<step:05>/<tag>/tensors.tsv`, `metadata.tsv` and `sprite.png`. Each embedding the config
lists becomes one row: tag and step from its `tensor_name` (`tag:00005`), `mat` from the TSV
(float32, as the projector reads it), metadata rows and header from the metadata TSV (the
first line is a header when there are several columns), `label_img` cut back out of the
sprite (N, 3, H, W in [0, 1]: the sprite holds 8-bit RGB), wall time the TSV's mtime.
Embeddings already imported (by tensor name) are not imported again.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._interop.report import ImportReport
from localtrack._interop.rows import sealable
from localtrack._interop.state import ImportState, save_state
from localtrack._interop.tb_protos import load
from localtrack._interop.tb_runs import SourceRun
from localtrack._writer.core import RunWriter
from localtrack._writer.tensors import tensor_struct

CONFIG = "projector_config.pbtxt"


def import_embeddings(
    run: SourceRun, run_dir: Path, marker: Any, state: ImportState, report: ImportReport
) -> None:
    config_path = run.path / CONFIG
    protos = load()
    if not config_path.is_file() or protos.ProjectorConfig is None:
        return
    from google.protobuf import text_format

    config = text_format.Parse(config_path.read_text(encoding="utf-8"), protos.ProjectorConfig())
    seen: list[str] = state.extra.setdefault("embeddings", [])
    new = [e for e in config.embeddings if e.tensor_name not in seen]
    if not new:
        return
    writer = RunWriter(run_dir, marker, flush_secs=3600.0, start_payload={"imported_from": CONFIG})
    try:
        for info in new:
            try:
                tag, step, wall, payload = _row(run.path, info)
            except (OSError, ValueError) as exc:
                report.errors.append(f"{config_path}: embedding {info.tensor_name!r}: {exc}")
                continue
            writer.put("embeddings", (tag, step, sealable(wall), payload))
            report.points["embeddings"] += 1
            seen.append(info.tensor_name)
    finally:
        writer.close()
    save_state(run_dir, state)


def _row(base: Path, info: Any) -> tuple[str, int, float, dict[str, Any]]:
    name = str(info.tensor_name)
    tag, _, step_text = name.rpartition(":")
    if not tag or not step_text.isdigit():
        tag, step_text = name, "0"
    tensor_path = base / info.tensor_path
    mat = np.loadtxt(tensor_path, delimiter="\t", dtype=np.float32, ndmin=2)
    metadata, header = None, None
    if info.metadata_path:
        lines = (base / info.metadata_path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if lines and "\t" in lines[0]:
            header = lines[0].split("\t")
            metadata = [line.split("\t") for line in lines[1:]]
        else:
            metadata = lines
    label_img = None
    if info.HasField("sprite") and info.sprite.image_path:
        dims = list(info.sprite.single_image_dim)
        label_img = _sprite(base / info.sprite.image_path, len(mat), int(dims[0]), int(dims[1]))
    payload = {
        "mat": tensor_struct(mat, "float32"),
        "metadata": json.dumps(metadata) if metadata is not None else None,
        "metadata_header": json.dumps(header) if header is not None else None,
        "label_img": tensor_struct(label_img, "float32"),
    }
    return tag, int(step_text), tensor_path.stat().st_mtime, payload


def _sprite(path: Path, n: int, width: int, height: int) -> np.ndarray | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(io.BytesIO(path.read_bytes())) as im:
        grid = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    cols = max(1, grid.shape[1] // width)
    out = np.zeros((n, 3, height, width), np.float32)
    for i in range(n):
        y, x = divmod(i, cols)
        tile = grid[y * height : (y + 1) * height, x * width : (x + 1) * width]
        out[i] = tile.transpose(2, 0, 1)
    return out
