"""TensorBoard's FileWriter, as frameworks reach it through `SummaryWriter._get_file_writer()`.

Lightning's `TensorBoardLogger.log_hyperparams` and other TensorBoard users build `Summary`
protos themselves and hand them to the writer's file writer. This facade decodes what it can
into the store: a scalar (`simple_value`, or a scalars-plugin tensor) becomes a `scalars` row,
TensorBoard's hparams plugin data becomes an `hparams` row plus one `config` row per
hyper-parameter. Anything else is kept as a raw `events` row (kind `tensorboard`, the
serialized value in base64) with one warning per tag: never dropped without a word.
Protos from `tensorboard` and from `tensorboardX` both decode (fields are read by name); the
plugin's payload is parsed with whichever of the two is importable.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from localtrack._writer.config import flatten, to_json

HPARAMS_PLUGIN = "hparams"
SCALARS_PLUGIN = "scalars"
_DT_FLOAT, _DT_DOUBLE = 1, 2  # TensorBoard's DataType enum


@dataclass(frozen=True)
class HParamsSummary:
    """What localtrack's stand-in `summary.hparams()` returns in place of the three protos."""

    hparams: dict[str, Any]
    metrics: dict[str, Any]
    domain_discrete: dict[str, list[Any]] | None = None


@dataclass(frozen=True)
class ScalarSummary:
    """What localtrack's stand-in `summary.scalar()` returns."""

    tag: str
    value: float


@dataclass(frozen=True)
class PartOfHParams:
    """The session start/end summaries of a stand-in `hparams()` call: the first one holds all."""

    tag: str = field(default="")


def _hparams_plugin_data() -> Any:
    try:
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    except ImportError:
        try:
            from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
        except ImportError:
            return None
    return HParamsPluginData


def _value(v: Any) -> Any:
    """A google.protobuf.Value (hparams plugin) as a Python value."""
    kind = v.WhichOneof("kind")
    if kind in ("number_value", "string_value", "bool_value"):
        return getattr(v, kind)
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return None


def _tensor_number(tensor: Any) -> float | None:
    if len(tensor.float_val):
        return float(tensor.float_val[0])
    if len(tensor.double_val):
        return float(tensor.double_val[0])
    if tensor.tensor_content and tensor.dtype in (_DT_FLOAT, _DT_DOUBLE):
        import numpy as np

        dtype = "<f4" if tensor.dtype == _DT_FLOAT else "<f8"
        values = np.frombuffer(tensor.tensor_content, dtype=dtype)
        return float(values[0]) if values.size == 1 else None
    return None


def _plugin(value: Any) -> str:
    try:
        return str(value.metadata.plugin_data.plugin_name)
    except AttributeError:
        return ""


class FileWriter:
    """add_summary / add_event / get_logdir / flush / close onto a localtrack SummaryWriter."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._metric_names: list[str] = []

    def get_logdir(self) -> str:
        return str(self._writer.log_dir)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def reopen(self) -> None:
        """TensorBoard's FileWriter API; localtrack's writer reopens on its own where it may."""

    def add_summary(
        self, summary: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Decode a Summary proto (or a localtrack stand-in summary) into rows."""
        step = 0 if global_step is None else global_step
        if isinstance(summary, HParamsSummary):
            self._hparams(summary.hparams, summary.metrics, summary.domain_discrete, step)
        elif isinstance(summary, ScalarSummary):
            self._writer.add_scalar(summary.tag, summary.value, global_step, walltime)
        elif isinstance(summary, PartOfHParams):
            return
        else:
            for value in getattr(summary, "value", ()):
                self._add_value(value, global_step, step, walltime)

    def add_event(self, event: Any, step: int | None = None, walltime: float | None = None) -> None:
        """An Event proto: its summary is decoded; other events are kept raw."""
        if step is None:
            step = int(getattr(event, "step", 0))
        stamped = float(getattr(event, "wall_time", 0.0) or 0.0)
        if walltime is None and stamped:
            walltime = stamped
        has = getattr(event, "HasField", None)
        if callable(has) and has("summary"):
            self.add_summary(event.summary, step, walltime)
            return
        what = event.WhichOneof("what") if hasattr(event, "WhichOneof") else type(event).__name__
        self._keep_raw(f"event:{what}", step, walltime, event, what or "")

    def _add_value(self, value: Any, global_step: int | None, step: int, walltime: Any) -> None:
        tag = str(value.tag)
        if value.HasField("simple_value"):
            self._writer.add_scalar(tag, float(value.simple_value), global_step, walltime)
            return
        plugin = _plugin(value)
        if plugin == SCALARS_PLUGIN and value.HasField("tensor"):
            number = _tensor_number(value.tensor)
            if number is not None:
                self._writer.add_scalar(tag, number, global_step, walltime)
                return
        if plugin == HPARAMS_PLUGIN and self._hparams_proto(value, step):
            return
        self._keep_raw(tag, step, walltime, value, plugin)

    def _hparams_proto(self, value: Any, step: int) -> bool:
        data_class = _hparams_plugin_data()
        if data_class is None:
            return False
        data = data_class.FromString(value.metadata.plugin_data.content)
        kind = data.WhichOneof("data")
        if kind == "experiment":
            self._metric_names = [m.name.tag for m in data.experiment.metric_infos]
        elif kind == "session_start_info":
            hparams = {k: _value(v) for k, v in data.session_start_info.hparams.items()}
            self._hparams(hparams, dict.fromkeys(self._metric_names), None, step)
        return kind in ("experiment", "session_start_info", "session_end_info")

    def _hparams(
        self,
        hparams: dict[str, Any],
        metrics: dict[str, Any],
        domain: dict[str, list[Any]] | None,
        step: int,
    ) -> None:
        from localtrack._writer.summary_writer import _plain

        plain = _plain(hparams)
        payload = {
            "hparams": json.dumps(plain),
            "metrics": json.dumps(
                {k: v for k, v in _plain(metrics).items() if v is None or math.isfinite(v)}
                if metrics
                else {}
            ),
            "domain_discrete": json.dumps(domain) if domain is not None else None,
            "run_name": "",
        }
        self._writer._put("hparams", "hparams", step, None, lambda: payload)
        core = self._writer._core
        for key, v in flatten(plain).items():
            core.record("config", {"key": key, "value": to_json(v)})
        for key, v in metrics.items():
            if v is not None:
                self._writer.add_scalar(key, v, step)

    def _keep_raw(self, tag: str, step: int, walltime: Any, proto: Any, plugin: str) -> None:
        core = self._writer._core
        serialize = getattr(proto, "SerializeToString", None)
        data = serialize() if callable(serialize) else repr(proto).encode()
        payload = {
            "tag": tag,
            "step": step,
            "wall_time": walltime,
            "plugin": plugin,
            "proto": type(proto).__name__,
            "data": base64.b64encode(data).decode("ascii"),
        }
        core.record("events", {"kind": "tensorboard", "payload": json.dumps(payload)})
        core.warn(
            tag,
            f"raw:{plugin}",
            f"a TensorBoard summary for {tag!r} (plugin {plugin or 'none'!r}) has no localtrack "
            "stream; it is kept as a raw `tensorboard` event (docs/INTEGRATIONS.md). Log it "
            "with the SummaryWriter's add_* methods to store it as data",
        )


class FileWriterAccess:
    """SummaryWriter's TensorBoard internals that frameworks use: `_get_file_writer()`,
    `file_writer` and `all_writers` (one FileWriter facade per writer)."""

    log_dir: str

    def _get_file_writer(self) -> FileWriter:
        """TensorBoard's internal file writer (Lightning's log_hyperparams writes through it)."""
        found = self.__dict__.get("_file_writer")
        if found is None:
            found = self.__dict__["_file_writer"] = FileWriter(self)
        return found  # type: ignore[no-any-return]

    @property
    def file_writer(self) -> FileWriter:
        return self._get_file_writer()

    @property
    def all_writers(self) -> dict[str, FileWriter]:
        return {self.log_dir: self._get_file_writer()}
