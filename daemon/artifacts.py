"""Non-scalar streams as MLflow artifacts: images as the UI's per-step grid, the rest as Parquet.

Images: for each image row, `images/<key with / → ~>+step+<step>+timestamp+<ms>+<uuid>.png`
and a thumbnail `…+compressed.webp` (longer side 256 px; the PNG itself when Pillow is not
installed or the image is already small), plus the run tag `mlflow.loggedImages=True`. The
uuid is a uuid5 of the row's identity, so uploading again overwrites the same files.

Histograms, texts, meshes, graphs, embeddings, pr_curves, audio, video, tables, tensors,
onnx_graphs, boxes: one Parquet file per
stream and tag, `localtrack/<stream>/<key>.parquet`, holding every row of that tag with the
store's own columns (docs/FORMAT.md), uploaded again whole when the stream's files change.

Rows a `purge_step` hides (localtrack/_query/purge.py) are left out of both.

Beside them, each run's self-contained HTML report, `localtrack/report.html`, which MLflow's
artifact view previews (report_artifact.py).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from localtrack._query.purge import Purge
from localtrack._store.layout import SegmentName

from . import encode
from .points import read_columns, shown

IMAGE_STREAM = "images"
TABLE_STREAMS = (
    "histograms",
    "texts",
    "meshes",
    "graphs",
    "embeddings",
    "pr_curves",
    "audio",
    "video",
    "tables",
    "tensors",
    "onnx_graphs",
    "boxes",
)
LOGGED_IMAGES_TAG = "mlflow.loggedImages"
THUMBNAIL_PX = 256
_UI_IMAGE_KEY = re.compile(r"[a-zA-Z0-9_\-./ ]+")
_NAMESPACE = uuid.UUID("6f1d9a0e-52c4-4d8e-9a57-0c2b8f2f4a11")


def image_key(tag: str) -> str:
    """The key the MLflow UI accepts for an image (ASCII letters, digits, `_-./ `)."""
    key = encode.mlflow_key(tag)
    if _UI_IMAGE_KEY.fullmatch(key):
        return key
    digest = hashlib.sha1(tag.encode("utf-8")).hexdigest()[:8]
    return re.sub(r"[^a-zA-Z0-9_\-./ ]", "_", key)[:200] + f"_{digest}"


def image_files(run_id: str, row: dict[str, object], data: bytes) -> list[tuple[str, bytes]]:
    """The two artifact files (path, bytes) of one image row: the image and its thumbnail."""
    tag = str(row["tag"])
    ts_ms = int(row["wall_time"]) // 1000  # type: ignore[call-overload]
    identity = f"{run_id}:{row['writer']}:{row['seq']}:{tag}:{row['step']}:{row['wall_time']}"
    uid = uuid.uuid5(_NAMESPACE, identity + ":" + hashlib.sha1(data).hexdigest())
    base = f"images/{image_key(tag).replace('/', '~')}+step+{row['step']}+timestamp+{ts_ms}+{uid}"
    thumb = _thumbnail(data, int(row["width"] or 0), int(row["height"] or 0))  # type: ignore[call-overload]
    if thumb is None:
        return [(f"{base}.png", data), (f"{base}+compressed.png", data)]
    return [(f"{base}.png", data), (f"{base}+compressed.webp", thumb)]


def _thumbnail(png: bytes, width: int, height: int) -> bytes | None:
    """A WebP whose longer side is 256 px, or None (use the PNG itself)."""
    if max(width, height) <= THUMBNAIL_PX:
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(png)) as im:
            scale = THUMBNAIL_PX / max(im.size)
            small = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
            out = io.BytesIO()
            small.save(out, format="WEBP")
            return out.getvalue()
    except (OSError, ValueError):
        return None


_IMAGE_COLUMNS = ["tag", "step", "wall_time", "width", "height", "data", "writer", "seq"]


def read_images(
    run_dir: Path, name: SegmentName, purges: Sequence[Purge] = ()
) -> list[tuple[dict[str, object], bytes]]:
    """The image rows of one segment that no purge hides, each with its PNG bytes."""
    table = shown(read_columns(run_dir / IMAGE_STREAM / name.filename, _IMAGE_COLUMNS), purges)
    table = table.set_column(
        table.schema.get_field_index("wall_time"),
        "wall_time",
        table["wall_time"].cast(pa.int64()),
    )
    rows = table.drop_columns(["data"]).to_pylist()
    return [(r, d) for r, d in zip(rows, table["data"].to_pylist(), strict=True) if d]


def tag_tables(
    run_dir: Path, stream: str, names: list[SegmentName], purges: Sequence[Purge] = ()
) -> dict[str, tuple[str, bytes]]:
    """Every row of `stream` that no purge hides, one Parquet file per tag: tag → (path, bytes)."""
    tables = [shown(pq.read_table(run_dir / stream / n.filename), purges) for n in names]
    if not tables:
        return {}
    table = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="default"
    )
    out: dict[str, tuple[str, bytes]] = {}
    for tag in sorted(set(table["tag"].to_pylist())):
        part = table.filter(pc.equal(table["tag"], tag))
        part = part.take(pc.sort_indices(part, [("step", "ascending"), ("wall_time", "ascending")]))
        buf = io.BytesIO()
        pq.write_table(part, buf, compression="zstd")
        out[tag] = (f"localtrack/{stream}/{encode.mlflow_key(tag)}.parquet", buf.getvalue())
    return out
