"""Arrow schemas of every stream, the single source of truth for docs/FORMAT.md.

Every row names its run and the writer that sealed it (writer id, segment sequence number,
rank, host, pid), so files stay meaningful when copied and compaction can be checked.
"""

from __future__ import annotations

import pyarrow as pa

from localtrack._store.layout import FORMAT_VERSION

WALL_TIME = pa.timestamp("us")
"""Wall-clock time, microseconds since the Unix epoch, UTC (no zone stored)."""

TENSOR_FIELDS = [
    pa.field("dtype", pa.string()),
    pa.field("shape", pa.list_(pa.int64())),
    pa.field("data", pa.binary()),
]
"""An n-d array: raw C-order little-endian bytes, `np.frombuffer(data, dtype).reshape(shape)`."""

TENSOR = pa.struct(TENSOR_FIELDS)

_HEAD = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("tag", pa.string(), nullable=False),
    pa.field("step", pa.int64(), nullable=False),
    pa.field("wall_time", WALL_TIME, nullable=False),
]
_WRITER = [
    pa.field("writer", pa.string(), nullable=False),
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("rank", pa.int32()),
    pa.field("host", pa.string()),
    pa.field("pid", pa.int64()),
]
_KEYED = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("key", pa.string(), nullable=False),
    pa.field("value", pa.string(), nullable=False),  # JSON text
    pa.field("wall_time", WALL_TIME, nullable=False),
]

PAYLOADS: dict[str, list[pa.Field]] = {
    "scalars": [pa.field("value", pa.float64())],
    "histograms": [
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
        pa.field("num", pa.float64()),
        pa.field("sum", pa.float64()),
        pa.field("sum_squares", pa.float64()),
        pa.field("bucket_limits", pa.list_(pa.float64())),
        pa.field("bucket_counts", pa.list_(pa.float64())),
    ],
    "images": [
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("channels", pa.int32()),
        pa.field("format", pa.string()),  # "png"
        pa.field("data", pa.binary()),  # the encoded image file
        pa.field("caption", pa.string()),
    ],
    "texts": [pa.field("text", pa.string())],
    "meshes": [
        pa.field("vertices", TENSOR),
        pa.field("colors", TENSOR),
        pa.field("faces", TENSOR),
        pa.field("config", pa.string()),  # JSON
    ],
    "hparams": [
        pa.field("hparams", pa.string()),  # JSON object
        pa.field("metrics", pa.string()),  # JSON object
        pa.field("domain_discrete", pa.string()),  # JSON object or null
        pa.field("run_name", pa.string()),
    ],
    "graphs": [
        pa.field("format", pa.string()),  # "torchscript-nodes"
        pa.field("graph", pa.string()),  # JSON: {"nodes": [...]} (see docs/FORMAT.md)
        pa.field("text", pa.string()),  # human-readable graph
    ],
    "embeddings": [
        pa.field("mat", TENSOR),
        pa.field("metadata", pa.string()),  # JSON list (rows) or null
        pa.field("metadata_header", pa.string()),  # JSON list or null
        pa.field("label_img", TENSOR),
    ],
    "pr_curves": [
        pa.field("num_thresholds", pa.int32()),
        pa.field("thresholds", pa.list_(pa.float64())),
        pa.field("tp", pa.list_(pa.float64())),
        pa.field("fp", pa.list_(pa.float64())),
        pa.field("tn", pa.list_(pa.float64())),
        pa.field("fn", pa.list_(pa.float64())),
        pa.field("precision", pa.list_(pa.float64())),
        pa.field("recall", pa.list_(pa.float64())),
    ],
    "audio": [
        pa.field("sample_rate", pa.int32()),
        pa.field("num_samples", pa.int64()),
        pa.field("channels", pa.int32()),
        pa.field("format", pa.string()),  # "wav"
        pa.field("data", pa.binary()),
    ],
    "video": [
        pa.field("fps", pa.float64()),
        pa.field("frames", TENSOR),  # uint8 (T, H, W, C)
    ],
    # Streams added within format version 1 (older readers ignore their folders):
    "tables": [  # localtrack.Table: one row per logged version
        pa.field("columns", pa.list_(pa.string())),
        pa.field("column_types", pa.list_(pa.string())),  # number|string|bool|image|json|null
        pa.field("num_rows", pa.int64()),
        pa.field("data", pa.string()),  # JSON array of rows, each an array of cells
    ],
    "tensors": [pa.field("tensor", TENSOR)],  # add_tensor
    "onnx_graphs": [  # add_onnx_graph: the ONNX file itself
        pa.field("data", pa.binary()),
        pa.field("num_bytes", pa.int64()),
    ],
    "boxes": [  # add_image_with_boxes: the boxes drawn into the `images` row of the same tag/step
        pa.field("boxes", TENSOR),  # float32 (N, 4): xmin, ymin, xmax, ymax in pixels
        pa.field("labels", pa.string()),  # JSON list of N strings, or null
    ],
}
"""Per-stream payload columns, between the (run_id, tag, step, wall_time) head and writer columns."""

EVENT_FIELDS = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # start | finish | layout
    pa.field("wall_time", WALL_TIME, nullable=False),
    pa.field("status", pa.string()),  # finish: finished | failed | killed
    pa.field("exit_code", pa.int32()),
    pa.field("payload", pa.string()),  # JSON object
]

STREAMS: dict[str, pa.Schema] = {
    name: pa.schema(_HEAD + p + _WRITER) for name, p in PAYLOADS.items()
}
STREAMS["events"] = pa.schema(EVENT_FIELDS + _WRITER)
STREAMS["config"] = pa.schema(_KEYED + _WRITER)
STREAMS["summary"] = pa.schema(_KEYED + _WRITER)

TAGGED_STREAMS = tuple(PAYLOADS)
"""Streams whose rows are (tag, step) points."""


def file_metadata(stream: str) -> dict[bytes, bytes]:
    """Key-value metadata stamped into every segment's Parquet footer."""
    return {
        b"localtrack.format_version": str(FORMAT_VERSION).encode(),
        b"localtrack.stream": stream.encode(),
    }


def schema_for(stream: str) -> pa.Schema:
    try:
        return STREAMS[stream]
    except KeyError:
        raise ValueError(f"unknown stream {stream!r}; streams are {sorted(STREAMS)}") from None
