"""run.summary with W&B's define_metric() aggregates, and short descriptions of media.

The automatic summary holds the last logged value of each key. A key matched by
define_metric(name, summary="min,max") is summarised as {"min": …, "max": …} instead
("mean", "first", "last", "best" with goal=, "none" to leave it out). Media and arrays are
stored as a short description, {"_type": "image-file", "width": …, …} as W&B does, never
as a repr.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from localtrack._errors import UsageError
from localtrack._writer.config import Persist, Summary, flatten
from localtrack._writer.values import is_tensor

SUMMARY_KINDS = ("min", "max", "mean", "first", "last", "best", "none", "copy")
GOALS = ("minimize", "maximize")
_LONG_TEXT = 1000
_UNSEEN = object()


def describe(value: Any) -> Any:
    """What the summary stores for a value: itself when it is small JSON, else a description."""
    from localtrack._writer.media import Histogram, Image
    from localtrack._writer.tables import Table

    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _LONG_TEXT else value[:_LONG_TEXT] + "…"
    if isinstance(value, Image):
        return value.describe()
    if isinstance(value, list | tuple) and value and all(isinstance(v, Image) for v in value):
        return {"_type": "images/separated", "count": len(value)}
    if isinstance(value, Histogram):
        return {"_type": "histogram", "bins": len(value.histogram)}
    if isinstance(value, Table):
        return value.describe()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) or is_tensor(value):
        if int(np.prod(value.shape)) == 1:
            return float(value.reshape(-1)[0])  # a 0-d or 1-element array or tensor
        return {"_type": "histogram", "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) <= 32 and all(isinstance(v, bool | int | float | str) for v in value):
            return list(value)
        return {"_type": type(value).__name__, "length": len(value)}
    return {"_type": type(value).__name__}


def check_summary(summary: str | None, goal: str | None) -> tuple[str, ...]:
    """The summary kinds of define_metric(summary="min,max"), or UsageError naming the fix."""
    if goal is not None and goal not in GOALS:
        raise UsageError(f"goal must be 'minimize' or 'maximize', got {goal!r}")
    kinds = tuple(k.strip() for k in summary.split(",")) if summary else ()
    for k in kinds:
        if k not in SUMMARY_KINDS:
            raise UsageError(
                f"summary must be a comma-separated list of {SUMMARY_KINDS}, got {k!r}"
            )
    if "best" in kinds and goal is None:
        raise UsageError("summary='best' needs goal='minimize' or goal='maximize'")
    return kinds


class RunSummary(Summary):
    """Summary plus the aggregates define_metric() asks for."""

    def __init__(self, persist: Persist) -> None:
        super().__init__(persist)
        self._exact: dict[str, tuple[tuple[str, ...], str | None]] = {}
        self._globs: list[tuple[str, tuple[tuple[str, ...], str | None]]] = []
        self._matched: dict[str, Any] = {}
        self._stats: dict[str, list[float]] = {}  # key -> [first, last, min, max, sum, count]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set[key] = value
        self._persist(key, describe(value))

    def define(self, name: str, kinds: tuple[str, ...], goal: str | None) -> None:
        """Aggregate the keys `name` matches (a trailing * matches a prefix)."""
        if not kinds:
            return
        if name.endswith("*"):
            self._globs.append((name[:-1], (kinds, goal)))
        else:
            self._exact[name] = (kinds, goal)
        self._matched.clear()
        self.observe = self._observe_with_stats

    def _spec(self, key: str) -> tuple[tuple[str, ...], str | None] | None:
        spec = self._matched.get(key, _UNSEEN)
        if spec is _UNSEEN:
            spec = self._exact.get(key)
            if spec is None:
                spec = next((s for p, s in self._globs if key.startswith(p)), None)
            self._matched[key] = spec
        return spec  # type: ignore[no-any-return]

    def _observe_with_stats(self, data: Mapping[str, Any]) -> None:
        self._auto.update(data)
        for key, value in data.items():
            if self._spec(key) is None:
                continue
            number = _number(value)
            if number is None:
                continue
            s = self._stats.get(key)
            if s is None:
                self._stats[key] = [number, number, number, number, number, 1.0]
            else:
                s[1] = number
                s[2] = _pick(s[2], number, "minimum")
                s[3] = _pick(s[3], number, "maximum")
                s[4] = s[4] + number
                s[5] += 1

    def persist_auto(self) -> None:
        """Write the auto summary (last logged values, or define_metric's aggregates) once."""
        for key, value in flatten(self._auto).items():
            if key in self._set:
                continue
            spec = self._spec(key)
            stats = self._stats.get(key)
            if spec is None or stats is None:
                self._persist(key, describe(value))
                continue
            kinds, goal = spec
            for kind in kinds:
                if kind in ("none", "copy"):
                    continue
                self._persist(f"{key}/{kind}", _aggregate(kind, goal, stats))


def _aggregate(kind: str, goal: str | None, s: list[Any]) -> float:
    first, last, lo, hi, total, count = s
    if kind == "best":
        kind = "min" if goal == "minimize" else "max"
    value = {"first": first, "last": last, "min": lo, "max": hi, "mean": total / count}[kind]
    return float(value)  # a device tensor moves to the host here, once, at the end


def _pick(a: Any, b: Any, which: str) -> Any:
    """min or max of two floats, or of device tensors without a host sync."""
    if type(a) is float and type(b) is float:
        return (a if a <= b else b) if which == "minimum" else (a if a >= b else b)
    torch = sys.modules["torch"]
    device = a.device if is_tensor(a) else b.device
    ta, tb = (x if is_tensor(x) else torch.tensor(x, device=device) for x in (a, b))
    return getattr(torch, which)(ta, tb)


def _number(value: Any) -> Any:
    """A float, a 0-d float64 device tensor (aggregated on its device), or None."""
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, np.generic) and np.issubdtype(type(value), np.number):
        return float(value)
    if is_tensor(value) and value.numel() == 1 and not value.is_complex():
        t = value.detach().reshape(())
        return float(t.item()) if t.device.type == "cpu" else t.double()
    return None
