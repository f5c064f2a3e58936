"""Values and keys as MLflow stores them faithfully: every function is pure and deterministic.

MLflow answers 200 to some malformed values and stores garbage (../shared/MLFLOW_REST.md), so
everything is validated and encoded here before it is sent:

- NaN and ±inf go as the JSON strings "NaN", "Infinity", "-Infinity" (never bare literals);
- steps must fit int64, timestamps are whole milliseconds ≥ 0;
- a key MLflow would reject is mapped to an accepted one by `mlflow_key` (see docs/SYNC.md);
- param values over 6000 characters and tag values over 8000 are truncated here, visibly,
  instead of silently by the server.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .system_names import PREFIX as SYSTEM_PREFIX
from .system_names import mlflow_system_name

MAX_KEY_CHARS = 250
MAX_PARAM_VALUE_CHARS = 6000
MAX_TAG_VALUE_CHARS = 8000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_ACCEPTED_KEY = re.compile(r"[/\w.\- :]*")
_REJECTED_CHAR = re.compile(r"[^/\w.\- :]")
_HASH_CHARS = 8


def key_is_accepted(key: str) -> bool:
    """True when MLflow stores `key` as a metric, param or tag name unchanged.

    Mirrors mlflow.utils.validation: allowed characters, ≤ 250 characters, and the name must be
    its own normalised path (no `a//b`, `/abs`, `a/`, `./x`, `..x`).
    """
    if not key or len(key) > MAX_KEY_CHARS or _ACCEPTED_KEY.fullmatch(key) is None:
        return False
    norm = posixpath.normpath(key)
    return norm == key and norm != "." and not norm.startswith("..") and not norm.startswith("/")


def mlflow_key(key: str) -> str:
    """The key MLflow gets for a local tag: itself when accepted, else a deterministic mapping.

    Mapping: every rejected character becomes `_`; empty, `.` and `..` path components become
    `_`; the result is cut to fit and suffixed with `_` + the first 8 hex digits of the SHA-1 of
    the original key, so two different local keys never map to the same MLflow key.
    System metrics (`system/…`) first get MLflow's own names (system_names.py).
    """
    if key.startswith(SYSTEM_PREFIX):
        key = mlflow_system_name(key)
    if key_is_accepted(key):
        return key
    cleaned = _REJECTED_CHAR.sub("_", key)
    parts = ["_" if p in ("", ".", "..") else p for p in cleaned.split("/")]
    if parts[0].startswith(".."):
        parts[0] = "_" + parts[0]
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    base = "/".join(parts)[: MAX_KEY_CHARS - _HASH_CHARS - 1]
    mapped = f"{base}_{digest}"
    if not key_is_accepted(mapped):  # cutting left a trailing "/" or similar: drop structure
        mapped = f"{base.replace('/', '_')}_{digest}"
    return mapped


def key_map(keys: Iterable[str]) -> dict[str, str]:
    """Local key → MLflow key, for the keys that had to change (recorded with the run)."""
    return {k: m for k in keys if (m := mlflow_key(k)) != k}


def encode_value(value: float) -> str:
    """A metric value as JSON text MLflow parses back to the same float (NaN/inf as strings)."""
    if math.isfinite(value):
        return repr(float(value))
    if math.isnan(value):
        return '"NaN"'
    return '"Infinity"' if value > 0 else '"-Infinity"'


def timestamp_ms(wall_time_us: int) -> int:
    """Microseconds since the epoch (the store) to MLflow's milliseconds, rounded down."""
    return wall_time_us // 1000


def step_is_valid(step: int) -> bool:
    return INT64_MIN <= step <= INT64_MAX


def param_value(json_text: str) -> str:
    """A config value (JSON text on disk) as an MLflow param value: strings bare, rest as JSON."""
    try:
        value = json.loads(json_text)
    except ValueError:
        return json_text
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def truncate(value: str, limit: int) -> tuple[str, bool]:
    """`value` cut to `limit` characters, and whether it was cut."""
    if len(value) <= limit:
        return value, False
    return value[:limit], True


def flatten(config: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested dicts flattened with `/` ({"opt": {"lr": 1}} → {"opt/lr": 1})."""
    out: dict[str, object] = {}
    for k, v in config.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def metrics_body(
    run_id: str, keys: list[str], values: list[float], timestamps: list[int], steps: list[int]
) -> str:
    """The JSON body of one runs/log-batch request carrying metric points only.

    `keys` must already be MLflow keys; built by hand because `requests`' `json=` refuses NaN
    and because this is the hot loop of the uploader.
    """
    cache: dict[str, str] = {}
    parts = []
    for k, v, t, s in zip(keys, values, timestamps, steps, strict=True):
        kj = cache.get(k)
        if kj is None:
            kj = cache[k] = json_str(k)
        parts.append(f'{{"key":{kj},"value":{encode_value(v)},"timestamp":{t},"step":{s}}}')
    return f'{{"run_id":{json_str(run_id)},"metrics":[{",".join(parts)}]}}'


class MetricText:
    """Metric points as JSON objects back to back, each followed by a comma, in one Arrow
    string array: a request body is a few slices of its bytes, with no Python object per point."""

    def __init__(self, joined: pa.StringArray) -> None:
        self._n = len(joined)
        _, offsets, data = joined.buffers()
        if offsets is None or data is None:  # no points, or no text at all
            self._offsets = np.zeros(self._n + 1, np.int32)
            self._data = memoryview(b"")
            return
        start = joined.offset
        self._offsets = np.frombuffer(offsets, np.int32)[start : start + self._n + 1]
        self._data = memoryview(data)

    def __len__(self) -> int:
        return self._n

    def body(self, run_id: str, slices: Iterable[tuple[int, int]]) -> bytes:
        """The runs/log-batch body holding the points of the row ranges `slices`, in order."""
        off = self._offsets
        views = [self._data[off[a] : off[b]] for a, b in slices if b > a]
        if views:
            views[-1] = views[-1][:-1]  # the last point's comma
        head = f'{{"run_id":{json_str(run_id)},"metrics":['.encode()
        return b"".join([head, *views, b"]}"])


def metric_text(
    tags: pa.Array,
    values: pa.Array,
    timestamps: pa.Array,
    steps: pa.Array,
) -> MetricText:
    """Each point's JSON object, built column-wise by Arrow (the uploader's hot path).

    Same text as `metrics_body` writes per point: keys mapped by `mlflow_key`, values in
    shortest round-trip form (Arrow's float formatting), NaN/±inf as JSON strings.
    """
    uniques = pc.unique(tags)
    prefixes = pa.array(
        ['{"key":' + json_str(mlflow_key(t)) + ',"value":' for t in uniques.to_pylist()],
        pa.string(),
    )
    prefix = pc.take(prefixes, pc.index_in(tags, value_set=uniques))
    text = pc.cast(values, pa.string())
    numbers = values.to_numpy(zero_copy_only=False)
    if np.signbit(numbers[numbers == 0]).any():
        text = pc.if_else(pc.equal(text, "-0"), "-0.0", text)  # "-0" parses as the integer 0
    if not np.isfinite(numbers).all():
        text = pc.if_else(pc.is_nan(values), '"NaN"', text)
        text = pc.if_else(pc.equal(values, math.inf), '"Infinity"', text)
        text = pc.if_else(pc.equal(values, -math.inf), '"-Infinity"', text)
    joined = pc.binary_join_element_wise(
        prefix,
        text,
        ',"timestamp":',
        pc.cast(timestamps, pa.string()),
        ',"step":',
        pc.cast(steps, pa.string()),
        "},",
        "",
    )
    return MetricText(joined)


def entities_body(run_id: str, field: str, items: list[tuple[str, str]]) -> str:
    """The JSON body of a runs/log-batch request with params or tags (`field`) only."""
    entries = [{"key": k, "value": v} for k, v in items]
    return json.dumps({"run_id": run_id, field: entries}, ensure_ascii=False)
