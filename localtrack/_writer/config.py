"""run.config and run.summary: W&B-style dicts whose every write is persisted as a row."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from localtrack._errors import UsageError
from localtrack._writer.values import BadValue, capture_scalar

Persist = Callable[[str, Any], None]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened with '/': {"opt": {"lr": 1}} → {"opt/lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


def to_json(value: Any) -> str:
    """JSON text for a config value: numbers, strings, lists, dicts; tensors as numbers."""
    try:
        return json.dumps(value, allow_nan=True)
    except TypeError:
        pass
    try:
        number = capture_scalar(value)
        if not isinstance(number, int | float):  # a device tensor: config is not a hot path
            number = float(number.cpu())  # type: ignore[attr-defined]
        return json.dumps(number)
    except (BadValue, TypeError):
        return json.dumps(str(value))


class Config:
    """Attribute and item access, update(), as wandb.config; every write is persisted."""

    def __init__(self, persist: Persist, initial: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(initial or {}))
        object.__setattr__(self, "_persist", persist)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.__setitem__(name, value)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any, allow_val_change: bool = False) -> None:
        if not isinstance(key, str) or not key:
            raise UsageError(f"config keys must be non-empty strings, got {key!r}")
        old = self._data.get(key, _MISSING)
        if old is not _MISSING and to_json(old) != to_json(value) and not allow_val_change:
            raise UsageError(
                f"config[{key!r}] is already {old!r}; to change it to {value!r} call "
                "run.config.update({...}, allow_val_change=True)"
            )
        self._data[key] = value
        for flat_key, flat_value in flatten({key: value}).items():
            self._persist(flat_key, flat_value)

    def update(
        self, d: Mapping[str, Any] | argparse.Namespace, allow_val_change: bool = False
    ) -> None:
        items = vars(d) if isinstance(d, argparse.Namespace) else d
        for key, value in items.items():
            self.__setitem__(key, value, allow_val_change)

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        for key, value in d.items():
            if key not in self._data:
                self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


class Summary:
    """run.summary: the last logged value of each key, unless set explicitly (persisted)."""

    def __init__(self, persist: Persist) -> None:
        self._auto: dict[str, Any] = {}
        self._set: dict[str, Any] = {}
        self._persist = persist
        # Remember the latest logged values: the dict's own update, one C call per log().
        self.observe: Callable[[Mapping[str, Any]], None] = self._auto.update

    def __getitem__(self, key: str) -> Any:
        return self._set[key] if key in self._set else self._auto[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set[key] = value
        self._persist(key, value)

    def update(self, d: Mapping[str, Any]) -> None:
        for key, value in d.items():
            self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self._set or key in self._auto

    def keys(self) -> list[str]:
        return sorted({*self._auto, *self._set})

    def persist_auto(self) -> None:
        """Write the auto summary (last logged numbers) once, at finish."""
        for key, value in flatten(self._auto).items():
            if key in self._set:
                continue
            self._persist(key, value)


_MISSING = object()
