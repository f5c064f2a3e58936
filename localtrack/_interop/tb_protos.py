"""TensorBoard's protos, from the `tensorboard` package, else from `tensorboardX`.

Both packages ship the same messages (Event, Summary, GraphDef and the plugins' data) under
the same field names, so the conversion code reads either. Without both, event files cannot
be decoded beyond their framing: `load()` raises with the command that fixes it.
`tensor_array` turns a TensorProto into a numpy array, as tensorboard's `make_ndarray` does.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from localtrack._errors import UsageError

_TENSORBOARD = {
    "event": "tensorboard.compat.proto.event_pb2",
    "graph": "tensorboard.compat.proto.graph_pb2",
    "hparams": "tensorboard.plugins.hparams.plugin_data_pb2",
    "pr_curve": "tensorboard.plugins.pr_curve.plugin_data_pb2",
    "mesh": "tensorboard.plugins.mesh.plugin_data_pb2",
    "layout": "tensorboard.plugins.custom_scalar.layout_pb2",
    "projector": "tensorboard.plugins.projector.projector_config_pb2",
}
_TENSORBOARDX = {
    "event": "tensorboardX.proto.event_pb2",
    "graph": "tensorboardX.proto.graph_pb2",
    "hparams": "tensorboardX.proto.plugin_hparams_pb2",
    "pr_curve": "tensorboardX.proto.plugin_pr_curve_pb2",
    "mesh": "tensorboardX.proto.plugin_mesh_pb2",
    "layout": "tensorboardX.proto.layout_pb2",
    "projector": "tensorboardX.proto.projector_config_pb2",
}


def _modules(names: dict[str, str]) -> dict[str, ModuleType | None]:
    found: dict[str, ModuleType | None] = {}
    for key, name in names.items():
        try:
            found[key] = importlib.import_module(name)
        except ImportError:
            found[key] = None
    return found


@functools.cache
def load() -> Any:
    """The proto classes: `.Event`, `.GraphDef`, `.HParamsPluginData`, … and `.package`."""
    for package, names in (("tensorboard", _TENSORBOARD), ("tensorboardX", _TENSORBOARDX)):
        mods = _modules(names)
        if mods["event"] is None:
            continue

        def get(key: str, attr: str, mods: dict[str, ModuleType | None] = mods) -> Any:
            return getattr(mods[key], attr, None)

        return SimpleNamespace(
            package=package,
            Event=get("event", "Event"),
            GraphDef=get("graph", "GraphDef"),
            HParamsPluginData=get("hparams", "HParamsPluginData"),
            PrCurvePluginData=get("pr_curve", "PrCurvePluginData"),
            MeshPluginData=get("mesh", "MeshPluginData"),
            Layout=get("layout", "Layout"),
            ProjectorConfig=get("projector", "ProjectorConfig"),
        )
    raise UsageError(
        "reading TensorBoard event files needs TensorBoard's protos: install them with "
        "`pip install 'localtrack[tensorboard]'` (or tensorboardX)"
    )


# TensorFlow's DataType enum → numpy dtype and the TensorProto field holding listed values.
_DTYPES: dict[int, tuple[str, str]] = {
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    17: ("<u2", "int_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}
DT_STRING = 7


def tensor_array(tensor: Any) -> np.ndarray:
    """A TensorProto's values as a numpy array of its shape (strings: an object array of bytes)."""
    shape = [int(d.size) for d in tensor.tensor_shape.dim]
    if tensor.dtype == DT_STRING:
        values = np.empty(len(tensor.string_val), dtype=object)
        values[:] = list(tensor.string_val)
        return _shaped(values, shape)
    try:
        dtype, field = _DTYPES[int(tensor.dtype)]
    except KeyError:
        raise ValueError(f"tensor dtype {tensor.dtype} is not supported") from None
    if tensor.tensor_content:
        flat = np.frombuffer(tensor.tensor_content, dtype=dtype)
        out: np.ndarray = flat.reshape(shape).copy()
        return out
    listed = list(getattr(tensor, field))
    if field == "half_val":
        values = np.array(listed, dtype="<u2").view("<f2")
    else:
        values = np.array(listed, dtype=dtype)
    return _shaped(values, shape)


def _shaped(values: np.ndarray, shape: list[int]) -> np.ndarray:
    size = int(np.prod(shape)) if shape else 1
    if values.size == size:
        return values.reshape(shape)
    if values.size == 1:  # TensorFlow's shorthand: one listed value fills the tensor
        return np.full(shape, values[0], dtype=values.dtype)
    if values.size == 0:
        return np.zeros(shape, dtype=values.dtype)
    raise ValueError(f"a tensor of shape {shape} lists {values.size} values")
