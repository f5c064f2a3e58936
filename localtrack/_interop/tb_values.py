"""One TensorBoard Event → rows of localtrack streams (docs/INTEROP.md has the table).

Values are carried as stored: histogram buckets, PNG/GIF/WAV bytes, PR-curve counts, mesh
tensors, the GraphDef's bytes. What no stream holds (a plugin localtrack does not know, run
metadata, a log message) becomes a raw `tensorboard` event row with the serialized proto in
base64, never dropped silently.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from localtrack._interop import tb_carry
from localtrack._interop.rows import Rows, sealable
from localtrack._interop.tb_protos import tensor_array
from localtrack._writer.config import flatten, to_json
from localtrack._writer.tensors import tensor_struct

SESSION_START = 1  # SessionLog.START
_MESH_KINDS = {1: "vertices", 2: "faces", 3: "colors"}  # MeshPluginData.ContentType


@dataclass
class EventContext:
    """What conversion remembers across the events of one event file."""

    protos: Any
    run_name: str
    hparam_domains: dict[str, list[Any]] = field(default_factory=dict)
    metric_names: list[str] = field(default_factory=list)
    hparams_rows: list[dict[str, Any]] = field(default_factory=list)  # completed at the end
    first_wall: float | None = None  # the file_version event's: when the file was created
    # What `localtrack export` carried (tb_carry.py): the writer's start, finish and streams
    carried: set[str] = field(default_factory=set)
    start_wall: float | None = None
    start_payload: dict[str, Any] | None = None
    finish: dict[str, Any] | None = None


def image_format(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"GIF8"):
        return "gif"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    return "unknown"


def convert(index: int, event: Any, rows: Rows, ctx: EventContext) -> None:
    """Add the rows `event` (record number `index` of its batch) holds to `rows`."""
    step, wall = int(event.step), float(event.wall_time)
    what = event.WhichOneof("what")
    if what == "summary":
        meshes: dict[str, dict[str, Any]] = {}
        for value in event.summary.value:
            _value(index, value, step, wall, rows, ctx, meshes)
        for tag, parts in meshes.items():
            rows.point("meshes", tag, step, wall, _mesh(parts))
    elif what == "file_version":
        ctx.first_wall = wall if ctx.first_wall is None else ctx.first_wall
    elif what == "graph_def" and "graphs" in ctx.carried:
        pass  # the export's graph for TensorBoard's eyes; the row as logged is carried
    elif what == "graph_def":
        rows.point("graphs", "graph", step, wall, graph_payload(ctx.protos, event.graph_def))
    elif what == "session_log" and event.session_log.status == SESSION_START:
        purge = {"kind": "purge", "payload": json.dumps({"step": step}), "wall_time": wall}
        rows.record("events", purge)
    else:
        raw(rows, what or "event", step, wall, event, what or "")


def raw(rows: Rows, tag: str, step: int, wall: float, proto: Any, plugin: str) -> None:
    payload = {
        "tag": tag,
        "step": step,
        "wall_time": wall,
        "plugin": plugin,
        "proto": type(proto).__name__,
        "data": base64.b64encode(proto.SerializeToString()).decode("ascii"),
    }
    row = {"kind": "tensorboard", "payload": json.dumps(payload), "wall_time": wall}
    rows.record("events", row)


def _value(
    index: int,
    value: Any,
    step: int,
    wall: float,
    rows: Rows,
    ctx: EventContext,
    meshes: dict[str, dict[str, Any]],
) -> None:
    tag, kind = str(value.tag), value.WhichOneof("value")
    plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
    if kind == "simple_value":
        rows.scalar(index, tag, step, wall, float(value.simple_value))
    elif kind == "histo":
        rows.point("histograms", tag, step, wall, _histogram(value.histo))
    elif kind == "image":
        img = value.image
        data = bytes(img.encoded_image_string)
        payload = {
            "width": int(img.width),
            "height": int(img.height),
            "channels": int(img.colorspace),
            "format": image_format(data),
            "data": data,
            "caption": None,
        }
        rows.point("images", tag, step, wall, payload)
    elif kind == "audio":
        rows.point("audio", tag, step, wall, _audio(value.audio))
    elif plugin == tb_carry.PLUGIN:
        if not _carried(value, step, wall, rows, ctx):
            raw(rows, tag, step, wall, value, plugin)
    elif plugin == "hparams" and "hparams" in ctx.carried:
        pass  # the export's summaries for TensorBoard's eyes; the row as logged is carried
    elif plugin == "hparams":
        if not _hparams(value, step, wall, rows, ctx):
            raw(rows, tag, step, wall, value, plugin)
    elif kind != "tensor" or not _tensor(index, value, plugin, step, wall, rows, ctx, meshes):
        raw(rows, tag, step, wall, value, plugin)


def _carried(value: Any, step: int, wall: float, rows: Rows, ctx: EventContext) -> bool:
    """A `localtrack` value of an exported file (tb_carry.py); False when it is not one."""
    try:
        kind, data = tb_carry.parse(str(value.tag), value.metadata.plugin_data.content)
    except ValueError:
        return False
    if kind == "writer":
        ctx.carried |= set(data.get("carried", []))
        ctx.start_wall = sealable(int(data["start_us"]) / 1e6)
        ctx.start_payload = data.get("payload") or {}
    elif kind == "finish":
        ctx.finish = {**data, "wall_time": sealable(wall)}
    elif kind == "row":
        payload = data["payload"]
        rows.point(str(data["stream"]), str(data["tag"]), step, wall, payload)
    elif kind == "record":
        rows.record(str(data["stream"]), {**data["row"], "wall_time": wall})
    elif kind == "caption":  # of the image value just before it, in the same event
        for tag, at, _, payload in reversed(rows.tagged.get("images", [])):
            if tag == data["tag"] and at == step:
                payload["caption"] = data["caption"]
                break
    else:
        return False
    return True


def _tensor(
    index: int,
    value: Any,
    plugin: str,
    step: int,
    wall: float,
    rows: Rows,
    ctx: EventContext,
    meshes: dict[str, dict[str, Any]],
) -> bool:
    tag = str(value.tag)
    try:
        arr = tensor_array(value.tensor)
    except ValueError:
        return False
    if plugin == "scalars" and arr.size == 1 and arr.dtype.kind in "fiub":
        rows.scalar(index, tag, step, wall, float(arr.reshape(-1)[0]))
    elif plugin == "text" and arr.dtype == object:
        rows.point("texts", tag, step, wall, {"text": _text(arr)})
    elif plugin == "pr_curves" and arr.ndim == 2 and arr.shape[0] == 6:
        rows.point("pr_curves", tag, step, wall, _pr_curve(arr))
    elif plugin == "mesh" and ctx.protos.MeshPluginData is not None:
        data = ctx.protos.MeshPluginData.FromString(value.metadata.plugin_data.content)
        part = meshes.setdefault(data.name, {"config": data.json_config})
        part[_MESH_KINDS.get(int(data.content_type), "unknown")] = arr
    elif plugin == "custom_scalars" and ctx.protos.Layout is not None and arr.size == 1:
        layout = _layout(ctx.protos.Layout.FromString(arr.reshape(-1)[0]))
        rows.record("events", {"kind": "layout", "payload": json.dumps(layout), "wall_time": wall})
    elif plugin == "histograms" and arr.ndim == 2 and arr.shape[1] == 3:
        rows.point("histograms", tag, step, wall, _histogram_tensor(arr))
    elif plugin in ("", "tensor") and arr.dtype != object:
        rows.point("tensors", tag, step, wall, {"tensor": tensor_struct(arr)})
    else:
        return False
    return True


def _histogram(h: Any) -> dict[str, Any]:
    return {
        "min": float(h.min),
        "max": float(h.max),
        "num": float(h.num),
        "sum": float(h.sum),
        "sum_squares": float(h.sum_squares),
        "bucket_limits": [float(x) for x in h.bucket_limit],
        "bucket_counts": [float(x) for x in h.bucket],
    }


def _histogram_tensor(arr: np.ndarray) -> dict[str, Any]:
    """TensorFlow 2's histogram tensor, rows of (left edge, right edge, count)."""
    a = arr.astype(np.float64)
    return {
        "min": float(a[0, 0]) if len(a) else math.nan,
        "max": float(a[-1, 1]) if len(a) else math.nan,
        "num": float(a[:, 2].sum()),
        "sum": math.nan,
        "sum_squares": math.nan,
        "bucket_limits": a[:, 1].tolist(),
        "bucket_counts": a[:, 2].tolist(),
    }


def _audio(a: Any) -> dict[str, Any]:
    content = str(a.content_type)
    return {
        "sample_rate": int(a.sample_rate),
        "num_samples": int(a.length_frames),
        "channels": int(a.num_channels),
        "format": content.split("/")[-1].replace("x-", "") if content else "wav",
        "data": bytes(a.encoded_audio_string),
    }


def _text(arr: np.ndarray) -> str:
    cells = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(arr)
    if cells.size == 1:
        return str(cells.reshape(-1)[0])
    if cells.ndim == 2:  # TensorBoard renders a 2-d string tensor as a table
        lines = ["| " + " | ".join(map(str, r)) + " |" for r in cells.tolist()]
        lines.insert(1, "|" + "---|" * cells.shape[1])
        return "\n".join(lines)
    return "\n".join(map(str, cells.reshape(-1).tolist()))


def _pr_curve(arr: np.ndarray) -> dict[str, Any]:
    n = int(arr.shape[1])
    names = ("tp", "fp", "tn", "fn", "precision", "recall")
    return {
        "num_thresholds": n,
        "thresholds": np.linspace(0, 1, n).tolist(),
        **{k: arr[i].astype(np.float64).tolist() for i, k in enumerate(names)},
    }


def _mesh(parts: dict[str, Any]) -> dict[str, Any]:
    def batched(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else (a[None] if a.ndim == 2 else a)

    return {
        "vertices": tensor_struct(batched(parts.get("vertices")), "float32"),
        "colors": tensor_struct(batched(parts.get("colors")), "uint8"),
        "faces": tensor_struct(batched(parts.get("faces")), "int32"),
        "config": parts.get("config") or None,
    }


def _layout(layout: Any) -> dict[str, Any]:
    """A custom-scalars Layout proto as localtrack's {category: {title: [kind, tags]}}."""
    out: dict[str, Any] = {}
    for category in layout.category:
        charts = out.setdefault(category.title, {})
        for chart in category.chart:
            if chart.WhichOneof("content") == "margin":
                s = chart.margin.series[0]
                charts[chart.title] = ["Margin", [s.value, s.lower, s.upper]]
            else:
                charts[chart.title] = ["Multiline", list(chart.multiline.tag)]
    return out


def graph_payload(protos: Any, graph_def: bytes) -> dict[str, Any]:
    """format `tensorboard-graphdef`: nodes as JSON, and the GraphDef's bytes in base64."""
    nodes: list[dict[str, Any]] = []
    if protos.GraphDef is not None:
        from google.protobuf.json_format import MessageToDict

        for node in protos.GraphDef.FromString(graph_def).node:
            nodes.append(
                {
                    "name": node.name,
                    "op": node.op,
                    "inputs": list(node.input),
                    "outputs": [],
                    "scope": node.name.rsplit("/", 1)[0] if "/" in node.name else "",
                    "attributes": {k: MessageToDict(v) for k, v in node.attr.items()},
                }
            )
    return {
        "format": "tensorboard-graphdef",
        "graph": json.dumps({"nodes": nodes}),
        "text": base64.b64encode(graph_def).decode("ascii"),
    }


def _json_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind in ("number_value", "string_value", "bool_value"):
        return getattr(v, kind)
    if kind == "list_value":
        return [_json_value(x) for x in v.list_value.values]
    return None


def _hparams(value: Any, step: int, wall: float, rows: Rows, ctx: EventContext) -> bool:
    if ctx.protos.HParamsPluginData is None:
        return False
    data = ctx.protos.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    kind = data.WhichOneof("data")
    if kind == "experiment":
        ctx.metric_names = [m.name.tag for m in data.experiment.metric_infos]
        for info in data.experiment.hparam_infos:
            if info.HasField("domain_discrete"):
                ctx.hparam_domains[info.name] = _json_value_list(info.domain_discrete)
    elif kind == "session_start_info":
        hparams = {k: _json_value(v) for k, v in data.session_start_info.hparams.items()}
        ctx.hparams_rows.append({"step": step, "wall": wall, "hparams": hparams})
        for key, v in flatten(hparams).items():
            rows.record("config", {"key": key, "value": to_json(v), "wall_time": wall})
    return kind in ("experiment", "session_start_info", "session_end_info")


def _json_value_list(values: Any) -> list[Any]:
    return [_json_value(v) for v in values.values]


def finish_hparams(rows: Rows, ctx: EventContext, scalars: dict[str, Any] | None) -> None:
    """Each hparams row, its metrics the scalar of each metric tag at the row's step."""
    for row in ctx.hparams_rows:
        metrics = dict.fromkeys(ctx.metric_names)
        if scalars is not None:
            names = scalars["names"]
            for name in ctx.metric_names:
                if name not in names:
                    continue
                hit = np.flatnonzero(
                    (scalars["codes"] == names.index(name)) & (scalars["step"] == row["step"])
                )
                if hit.size:
                    metrics[name] = float(scalars["value"][hit[-1]])
        domain = {k: v for k, v in ctx.hparam_domains.items() if k in row["hparams"]}
        payload = {
            "hparams": json.dumps(row["hparams"]),
            "metrics": json.dumps(metrics),
            "domain_discrete": json.dumps(domain) if domain else None,
            "run_name": ctx.run_name,
        }
        rows.point("hparams", "hparams", row["step"], row["wall"], payload)
    ctx.hparams_rows.clear()
