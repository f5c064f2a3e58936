"""What TensorBoard has no summary for, carried through event files for localtrack to read back.

An exported event file holds, beside the summaries TensorBoard shows, `Summary.Value`s of a
plugin named `localtrack` (tag `_localtrack_/<kind>`, an empty tensor, the data as JSON in the
plugin content). TensorBoard ignores a plugin it does not know; `localtrack import
tensorboard` reads them, so a run exported then imported again keeps what TensorBoard cannot
hold: the writer's start payload (host, argv, git…), start and finish times and status,
config and summary rows, and whole rows of streams TensorBoard has no view for (tables,
video, boxes, ONNX graphs) or holds with less (graphs: the node list as logged; hparams: the
metrics and trial name as logged). Kinds (docs/INTEROP.md):

- `writer`: {"start_us": microseconds, "payload": start payload, "carried": [streams]}; the streams
  listed come from `row`/`record` values only, and their native summaries are not imported
  again (the graph_def and hparams summaries are there for TensorBoard's eyes).
- `finish`: {"status", "exit_code"} at the finish event's wall time.
- `row`: {"stream", "tag", "payload"} a tagged row, step and wall time the event's.
- `record`: {"stream", "row"} a config, summary or events row, wall time the event's.
- `caption`: {"tag", "caption"} of the image value before it in the same event.

JSON keeps bytes as {"$b64": "..."}; NaN and infinities as JSON's NaN/Infinity literals.
"""

from __future__ import annotations

import base64
import json
from typing import Any

PLUGIN = "localtrack"
TAG_PREFIX = "_localtrack_/"


def encode(value: Any) -> Any:
    """`value` with bytes made JSON-safe, recursively."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of encode()."""
    if isinstance(value, dict):
        if len(value) == 1 and "$b64" in value:
            return base64.b64decode(value["$b64"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def content(kind: str, data: dict[str, Any]) -> tuple[str, bytes]:
    """The (tag, plugin content) of one carried item."""
    return TAG_PREFIX + kind, json.dumps(encode(data), separators=(",", ":")).encode()


def parse(tag: str, raw: bytes) -> tuple[str, dict[str, Any]]:
    """(kind, data) of a carried value; ValueError when it is not one this version reads."""
    if not tag.startswith(TAG_PREFIX):
        raise ValueError(f"not a localtrack value: tag {tag!r}")
    data = decode(json.loads(raw.decode("utf-8")))
    if not isinstance(data, dict):
        raise ValueError(f"localtrack value {tag!r} holds {type(data).__name__}, not an object")
    return tag[len(TAG_PREFIX) :], data
