"""localtrack rows → TensorBoard Summary values and Events, with tensorboard's own protos.

Each builder takes the row as the store holds it (payload columns by name) and returns the
`Summary.Value`s of one event, made as TensorBoard's plugins make them (their metadata
helpers), so `tensorboard --logdir` shows them: scalars as float64 tensors of the scalars
plugin (exact; a `simple_value` would round to float32), histograms as HistogramProto
(bucket limits and counts as stored), images and audio as their encoded bytes, text, PR
curves (float64, the plugin's 6×N layout), meshes (one tensor per part), hparams (the
plugin's experiment, session start and end summaries), the custom-scalars layout.
"""

from __future__ import annotations

import base64
import functools
import importlib
import json
from types import SimpleNamespace
from typing import Any

import numpy as np

from localtrack._errors import UsageError
from localtrack._interop import tb_carry

MISSING = (
    "export --format tensorboard writes event files with TensorBoard's own writer and protos: "
    "install them with `pip install 'localtrack[tensorboard]'`"
)


_MODULES = {
    "attr_value_pb2": "tensorboard.compat.proto.attr_value_pb2",
    "event_pb2": "tensorboard.compat.proto.event_pb2",
    "graph_pb2": "tensorboard.compat.proto.graph_pb2",
    "node_def_pb2": "tensorboard.compat.proto.node_def_pb2",
    "summary_pb2": "tensorboard.compat.proto.summary_pb2",
    "tensor_pb2": "tensorboard.compat.proto.tensor_pb2",
    "tensor_shape_pb2": "tensorboard.compat.proto.tensor_shape_pb2",
    "layout_pb2": "tensorboard.plugins.custom_scalar.layout_pb2",
    "layout_md": "tensorboard.plugins.custom_scalar.metadata",
    "hparams_md": "tensorboard.plugins.hparams.metadata",
    "hparams_pb2": "tensorboard.plugins.hparams.plugin_data_pb2",
    "hparams_api": "tensorboard.plugins.hparams.api_pb2",
    "mesh_md": "tensorboard.plugins.mesh.metadata",
    "mesh_pb2": "tensorboard.plugins.mesh.plugin_data_pb2",
    "pr_md": "tensorboard.plugins.pr_curve.metadata",
    "projector_config_pb2": "tensorboard.plugins.projector.projector_config_pb2",
    "scalar_md": "tensorboard.plugins.scalar.metadata",
    "text_md": "tensorboard.plugins.text.metadata",
    "record_writer": "tensorboard.summary.writer.record_writer",
    "tensor_util": "tensorboard.util.tensor_util",
}


@functools.cache
def load() -> Any:
    """tensorboard's proto modules and plugin metadata helpers; UsageError when absent."""
    try:
        mods = {k: importlib.import_module(v) for k, v in _MODULES.items()}
    except ImportError as exc:
        raise UsageError(f"{MISSING} ({exc})") from None
    return SimpleNamespace(RecordWriter=mods["record_writer"].RecordWriter, **mods)


def event(step: int, wall: float, values: list[Any]) -> Any:
    tb = load()
    return tb.event_pb2.Event(
        step=int(step), wall_time=wall, summary=tb.summary_pb2.Summary(value=values)
    )


def _tensor(arr: np.ndarray) -> Any:
    return load().tensor_util.make_tensor_proto(np.ascontiguousarray(arr))


def _array(struct: dict[str, Any] | None) -> np.ndarray | None:
    if struct is None:
        return None
    arr: np.ndarray = np.frombuffer(struct["data"], struct["dtype"]).reshape(struct["shape"])
    return arr


def scalar(tag: str, value: float) -> Any:
    tb = load()
    proto = tb.tensor_pb2.TensorProto(dtype=2, double_val=[value])  # DT_DOUBLE, shape []
    return tb.summary_pb2.Summary.Value(tag=tag, tensor=proto, metadata=_scalar_metadata(tag))


@functools.lru_cache(maxsize=4096)
def _scalar_metadata(tag: str) -> Any:
    return load().scalar_md.create_summary_metadata(display_name=tag, description="")


def histogram(row: dict[str, Any]) -> list[Any]:
    tb = load()
    histo = tb.summary_pb2.HistogramProto(
        min=row["min"],
        max=row["max"],
        num=row["num"],
        sum=row["sum"],
        sum_squares=row["sum_squares"],
        bucket_limit=row["bucket_limits"] or [],
        bucket=row["bucket_counts"] or [],
    )
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], histo=histo)]


def image(row: dict[str, Any]) -> list[Any]:
    tb = load()
    img = tb.summary_pb2.Summary.Image(
        height=row["height"] or 0,
        width=row["width"] or 0,
        colorspace=row["channels"] or 0,
        encoded_image_string=row["data"] or b"",
    )
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], image=img)]


def text(row: dict[str, Any]) -> list[Any]:
    tb = load()
    proto = tb.tensor_pb2.TensorProto(
        dtype=7,  # DT_STRING
        string_val=[(row["text"] or "").encode("utf-8")],
        tensor_shape=tb.tensor_shape_pb2.TensorShapeProto(
            dim=[tb.tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
        ),
    )
    md = tb.text_md.create_summary_metadata(display_name=row["tag"], description="")
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], tensor=proto, metadata=md)]


def pr_curve(row: dict[str, Any]) -> list[Any]:
    tb = load()
    parts = [row[k] or [] for k in ("tp", "fp", "tn", "fn", "precision", "recall")]
    data = np.array(parts, dtype=np.float64)
    n = int(row["num_thresholds"] or data.shape[1])
    md = tb.pr_md.create_summary_metadata(display_name=row["tag"], description="", num_thresholds=n)
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], tensor=_tensor(data), metadata=md)]


def audio(row: dict[str, Any]) -> list[Any]:
    tb = load()
    clip = tb.summary_pb2.Summary.Audio(
        sample_rate=float(row["sample_rate"] or 0),
        num_channels=row["channels"] or 0,
        length_frames=row["num_samples"] or 0,
        encoded_audio_string=row["data"] or b"",
        content_type=f"audio/{row['format'] or 'wav'}",
    )
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], audio=clip)]


def mesh(row: dict[str, Any]) -> list[Any]:
    """One tensor per part present, named and described as TensorBoard's mesh summary does."""
    tb = load()
    kinds = tb.mesh_pb2.MeshPluginData
    parts = [
        (kinds.VERTEX, _array(row["vertices"])),
        (kinds.FACE, _array(row["faces"])),
        (kinds.COLOR, _array(row["colors"])),
    ]
    present = [(k, a) for k, a in parts if a is not None]
    if not present or any(a.ndim != 3 for _, a in present):
        raise ValueError(f"mesh {row['tag']!r}: parts are not (B, N, 3) tensors")
    components = tb.mesh_md.get_components_bitmask([k for k, _ in present])
    values = []
    for kind, arr in present:
        md = tb.mesh_md.create_summary_metadata(
            row["tag"],
            None,
            kind,
            components,
            list(arr.shape),
            json_config=row["config"],
        )
        name = tb.mesh_md.get_instance_name(row["tag"], kind)
        values.append(tb.summary_pb2.Summary.Value(tag=name, tensor=_tensor(arr), metadata=md))
    return values


def tensor(row: dict[str, Any]) -> list[Any]:
    tb = load()
    arr = _array(row["tensor"])
    if arr is None:
        return []
    return [tb.summary_pb2.Summary.Value(tag=row["tag"], tensor=_tensor(arr))]


def _hp_value(v: Any) -> Any:
    from google.protobuf import struct_pb2

    out = struct_pb2.Value()
    if isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int | float):
        out.number_value = float(v)
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, list):
        out.list_value.values.extend(_hp_value(x) for x in v)
    else:
        out.string_value = json.dumps(v)
    return out


def _hp_type(api_pb2: Any, v: Any) -> Any:
    """The hparam's DataType, as torch's hparams() sets it (the dashboard filters by it)."""
    if isinstance(v, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(v, int | float):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def _hparams_value(tag: str, data: Any) -> Any:
    tb = load()
    md = tb.hparams_md.create_summary_metadata(data)
    return tb.summary_pb2.Summary.Value(tag=tag, tensor=tb.hparams_md.NULL_TENSOR, metadata=md)


def hparams(row: dict[str, Any]) -> list[Any]:
    """The experiment, session start and session end summaries of one trial, as TensorBoard's
    hparams plugin reads them from one run's own folder."""
    tb = load()
    api = tb.hparams_pb2
    hp = json.loads(row["hparams"] or "{}")
    metrics = json.loads(row["metrics"] or "{}")
    domains = json.loads(row["domain_discrete"]) if row["domain_discrete"] else {}
    api_pb2 = tb.hparams_api
    infos = []
    for name, v in hp.items():
        info = api_pb2.HParamInfo(name=name, type=_hp_type(api_pb2, v))
        if name in domains:
            info.domain_discrete.values.extend(_hp_value(v) for v in domains[name])
        infos.append(info)
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=m)) for m in metrics],
    )
    start = api.SessionStartInfo(group_name=row["run_name"] or "", start_time_secs=row["wall"])
    for k, v in hp.items():
        start.hparams[k].CopyFrom(_hp_value(v))
    end = api.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=row["wall"])
    md = tb.hparams_md
    return [
        _hparams_value(md.EXPERIMENT_TAG, api.HParamsPluginData(experiment=experiment)),
        _hparams_value(md.SESSION_START_INFO_TAG, api.HParamsPluginData(session_start_info=start)),
        _hparams_value(md.SESSION_END_INFO_TAG, api.HParamsPluginData(session_end_info=end)),
    ]


def layout(spec: dict[str, Any]) -> list[Any]:
    """A custom-scalars layout ({category: {title: [kind, tags]}}) as the plugin's config."""
    tb = load()
    pb = tb.layout_pb2
    categories = []
    for category, charts in spec.items():
        out = []
        for title, (kind, tags) in charts.items():
            if kind == "Margin" and len(tags) == 3:
                series = pb.MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
                out.append(pb.Chart(title=title, margin=pb.MarginChartContent(series=[series])))
            else:
                out.append(pb.Chart(title=title, multiline=pb.MultilineChartContent(tag=tags)))
        categories.append(pb.Category(title=category, chart=out))
    data = pb.Layout(category=categories).SerializeToString()
    proto = tb.tensor_pb2.TensorProto(
        dtype=7,
        string_val=[data],
        tensor_shape=tb.tensor_shape_pb2.TensorShapeProto(),
    )
    md = tb.layout_md.create_summary_metadata()
    return [
        tb.summary_pb2.Summary.Value(tag=tb.layout_md.CONFIG_SUMMARY_TAG, tensor=proto, metadata=md)
    ]


def graph_def(row: dict[str, Any]) -> bytes:
    """The GraphDef TensorBoard's graph view draws. A graph imported from TensorBoard is
    written back byte for byte; torch.jit nodes become NodeDefs named scope/output, inputs
    the names of the nodes (or graph inputs) producing them, as torch's add_graph names them."""
    if row["format"] == "tensorboard-graphdef":
        return base64.b64decode(row["text"] or "")
    tb = load()
    spec = json.loads(row["graph"] or "{}")
    names: dict[str, str] = {}
    nodes = []
    for i in spec.get("inputs", []):
        names[i["name"]] = f"input/{i['name']}"
        attr = {"_output_types": tb.attr_value_pb2.AttrValue(s=str(i.get("type", "")).encode())}
        nodes.append(tb.node_def_pb2.NodeDef(name=names[i["name"]], op="IO Node", attr=attr))
    for n in spec.get("nodes", []):
        outs = [o.strip() for o in str(n["name"]).split(",") if o.strip()] or [n["op"]]
        scope = n.get("scope") or ""
        full = f"{scope}/{outs[0]}" if scope else outs[0]
        for k, out in enumerate(outs):
            names[out] = full if k == 0 else f"{full}:{k}"
        attr = {
            "_output_types": tb.attr_value_pb2.AttrValue(s=", ".join(n.get("outputs", [])).encode())
        }
        inputs = [names.get(i, i) for i in n.get("inputs", [])]
        nodes.append(tb.node_def_pb2.NodeDef(name=full, op=n["op"], input=inputs, attr=attr))
    return bytes(tb.graph_pb2.GraphDef(node=nodes).SerializeToString())


def carried(kind: str, data: dict[str, Any]) -> Any:
    """A `localtrack` plugin value (tb_carry.py) that TensorBoard ignores."""
    tb = load()
    tag, content = tb_carry.content(kind, data)
    md = tb.summary_pb2.SummaryMetadata(
        plugin_data=tb.summary_pb2.SummaryMetadata.PluginData(
            plugin_name=tb_carry.PLUGIN, content=content
        )
    )
    return tb.summary_pb2.Summary.Value(tag=tag, tensor=tb.hparams_md.NULL_TENSOR, metadata=md)
