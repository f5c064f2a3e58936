"""Turning what users log into storable values, cheaply on the hot path, the rest at seal time.

The hot path never moves a device tensor to the host: a 0-d CUDA tensor is cloned on its
device (asynchronous) and every device scalar of a segment is moved in one transfer per
device when the segment is sealed. Bad values raise BadValue for the caller to warn about.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from typing import Any

import numpy as np

from localtrack._errors import LocaltrackWarning

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class BadValue(Exception):
    """A logged item that cannot be stored; its message says why and how to fix it."""


def _torch() -> Any:
    return sys.modules.get("torch")


def is_tensor(value: object) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def capture_scalar(value: object) -> object:
    """A float/int, or a device tensor to resolve at seal time; BadValue for anything else."""
    if type(value) is float or type(value) is int:
        return value
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if is_tensor(value):
        return _capture_tensor_scalar(value)
    if isinstance(value, np.ndarray):
        if value.size != 1 or not np.issubdtype(value.dtype, np.number):
            raise BadValue(f"an array of shape {value.shape} is not a scalar; log one number")
        return float(value.reshape(()))
    if isinstance(value, str | bytes):
        raise BadValue(f"a {type(value).__name__} ({value[:40]!r}) is not a number")
    raise BadValue(f"a {type(value).__name__} is not a number")


def _capture_tensor_scalar(t: Any) -> object:
    if t.numel() != 1:
        raise BadValue(
            f"a tensor of shape {tuple(t.shape)} is not a scalar; log a 0-d or 1-element "
            "tensor, or use add_histogram for many values"
        )
    if t.is_complex():
        raise BadValue("a complex tensor is not a real number")
    if t.device.type == "cpu":
        return t.item()
    return t.detach().reshape(()).clone()


def capture_step(step: object) -> int:
    """The step as an int64, or BadValue."""
    if type(step) is not int:
        if is_tensor(step):
            if step.numel() != 1 or step.is_floating_point():  # type: ignore[attr-defined]
                raise BadValue(f"a step must be one integer, got a tensor {step!r}")
            step = int(step.item())  # type: ignore[attr-defined]
        elif isinstance(step, numbers.Integral) or (isinstance(step, float) and step.is_integer()):
            step = int(step)
        else:
            raise BadValue(f"a step must be an integer, got {step!r}")
    if not INT64_MIN <= step <= INT64_MAX:
        raise BadValue(f"step {step} is outside the int64 range")
    return step


def check_walltime(walltime: object) -> float:
    """Seconds since the epoch as a float, or BadValue."""
    try:
        wt = float(walltime)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadValue(f"walltime must be seconds since the epoch, got {walltime!r}") from exc
    if not 0 <= wt < 9.2e12:
        raise BadValue(f"walltime {walltime!r} is not a time in seconds since the epoch")
    return wt


def resolve_scalars(values: list[object]) -> list[float]:
    """Floats for every captured value, moving device tensors to the host once per device."""
    torch = _torch()
    out: list[float] = [0.0] * len(values)
    by_device: dict[Any, list[int]] = {}
    for i, v in enumerate(values):
        if type(v) is float or type(v) is int:
            out[i] = float(v)
        else:
            by_device.setdefault(v.device, []).append(i)  # type: ignore[attr-defined]
    for idx in by_device.values():
        stacked = torch.stack([values[i] for i in idx]).to("cpu", torch.float64)
        for i, f in zip(idx, stacked.tolist(), strict=True):
            out[i] = f
    return out


def to_numpy(value: object, what: str) -> np.ndarray:
    """A host numpy copy of an array-like (torch tensors on any device, lists, numpy)."""
    if is_tensor(value):
        t = value.detach()  # type: ignore[attr-defined]
        if t.dtype.is_floating_point and t.dtype not in (_torch().float32, _torch().float64):
            t = t.float()
        return np.array(t.cpu().numpy(), copy=True)
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise BadValue(f"{what} must be an array or tensor, got {type(value).__name__}") from exc
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise BadValue(f"{what} must be numeric, got {type(value).__name__}")
    return arr


def nbytes(value: object) -> int:
    """Memory an array or tensor holds (0 for anything else): what a snapshot of it costs."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if is_tensor(value):
        return int(value.numel() * value.element_size())  # type: ignore[attr-defined]
    return 0


def snapshot(value: object, what: str) -> Any:
    """A private copy to process at seal time (device tensors stay on their device)."""
    if is_tensor(value):
        return value.detach().clone()  # type: ignore[attr-defined]
    return to_numpy(value, what)


def host(snap: Any, what: str) -> np.ndarray:
    """The numpy array of a snapshot (moving a device snapshot to the host: sealer side)."""
    return snap if isinstance(snap, np.ndarray) else to_numpy(snap, what)


class SnapshotPool:
    """Warm host buffers for snapshots of arrays, handed back once the sealer is done.

    Copying a million floats into a fresh buffer costs page faults on every call; copying
    into a buffer of the same shape that was used before does not. At most `keep` spare
    buffers of each (shape, dtype) are kept.
    """

    def __init__(self, keep: int = 3) -> None:
        self._free: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
        self._keep = keep

    def copy(self, value: object, what: str) -> Any:
        """A private copy of `value` (device tensors are cloned on their device)."""
        src: np.ndarray | None = None
        if isinstance(value, np.ndarray) and value.dtype != object:
            src = value
        elif is_tensor(value) and value.device.type == "cpu":  # type: ignore[attr-defined]
            try:
                src = value.detach().numpy()  # type: ignore[attr-defined]
            except (TypeError, RuntimeError):  # bfloat16 and friends
                src = None
        if src is None:
            return snapshot(value, what)
        free = self._free.get((src.shape, src.dtype.str))
        try:
            buf = free.pop() if free else np.empty(src.shape, src.dtype)
        except IndexError:  # another thread took the last one
            buf = np.empty(src.shape, src.dtype)
        np.copyto(buf, src)
        return buf

    def give(self, buf: Any) -> None:
        """Hand a snapshot back for reuse (anything but a numpy buffer is dropped)."""
        if isinstance(buf, np.ndarray):
            free = self._free.setdefault((buf.shape, buf.dtype.str), [])
            if len(free) < self._keep:
                free.append(buf)


class WarnOnce:
    """One warning per (tag, problem) for a writer, so a bad value in a loop warns once."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, tag: str, problem: str, message: str, stacklevel: int = 3) -> None:
        key = (tag, problem)
        if key in self._seen:
            return
        self._seen.add(key)
        try:
            warnings.warn(
                f"localtrack: {tag!r}: {message} (skipped; the rest was kept)",
                LocaltrackWarning,
                stacklevel=stacklevel,
            )
        except LocaltrackWarning:
            if _in_main_thread():
                raise
            # Warnings turned into errors must not kill the background sealer.


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
