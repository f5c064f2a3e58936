"""0-d device tensors cost no device sync per logging call; they move to the host at seal time.

On the CPU a test double stands in for a GPU tensor: a torch.Tensor subclass whose `device`
says cuda and whose __torch_function__ records every way a value reaches the host (item,
cpu, to("cpu"), tolist, __float__, numpy, …). What `cpu()`/`to("cpu")` return is a plain host
tensor, as on a real device. The test with real CUDA tensors runs where a GPU is present.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest

torch = pytest.importorskip("torch")

import localtrack  # noqa: E402
from localtrack._store.runs import find_runs  # noqa: E402
from localtrack._store.segments import read_stream  # noqa: E402

N = 1000
TO_HOST = frozenset(
    {
        "item",
        "cpu",
        "tolist",
        "numpy",
        "__float__",
        "__int__",
        "__index__",
        "__bool__",
        "__array__",
        "_local_scalar_dense",
    }
)


def _to_host(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if name in TO_HOST:
        return True
    if name == "to":  # t.to(dtype) stays on the device; t.to("cpu", …) moves to the host
        targets = [*args[1:], kwargs.get("device")]
        return any(str(a).startswith("cpu") for a in targets if isinstance(a, str | torch.device))
    return False


class DeviceScalar(torch.Tensor):  # type: ignore[misc]
    """A tensor that says it lives on a GPU and records each move of its data to the host."""

    transfers: ClassVar[list[str]] = []

    @property
    def device(self) -> Any:
        return torch.device("cuda", 0)

    @classmethod
    def __torch_function__(
        cls, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        moves = _to_host(name, args, kwargs)
        if moves:
            cls.transfers.append(name)
        out = super().__torch_function__(func, types, args, kwargs)
        if moves and isinstance(out, torch.Tensor):
            with torch._C.DisableTorchFunctionSubclass():
                return out.as_subclass(torch.Tensor)  # now a host tensor
        return out


def device_scalars(dtype: Any = torch.float32) -> list[Any]:
    """N 0-d "device" tensors holding i/8 (exact in float32 and float64)."""
    return [torch.tensor(i / 8, dtype=dtype).as_subclass(DeviceScalar) for i in range(N)]


def test_the_double_counts_host_transfers_and_passes_for_a_cuda_tensor() -> None:
    t = torch.tensor(1.5).as_subclass(DeviceScalar)
    DeviceScalar.transfers.clear()
    assert t.device.type == "cuda"
    assert float(t) == 1.5 and t.item() == 1.5 and t.to(torch.float64).device.type == "cuda"
    host = t.to("cpu", torch.float64)
    assert type(host) is torch.Tensor and host.tolist() == 1.5
    assert DeviceScalar.transfers == ["__float__", "item", "to"]


def _logger(api: str, tmp_path: Path) -> tuple[Any, Any, Path]:
    """(log(step, value), writer, run dir), with a sealer that never wakes on its own."""
    if api == "tb":
        writer = localtrack.SummaryWriter(tmp_path / "tb", flush_secs=3600)
        return (lambda i, v: writer.add_scalar("x", v, i)), writer, tmp_path / "tb"
    run = localtrack.init(project="dev", dir=tmp_path, flush_secs=3600)
    return (lambda i, v: run.log({"x": v}, step=i)), run, Path(run.dir)


def _flush(handle: Any) -> None:
    """Seal now, on this thread (a Run has no public flush(); its writer core does)."""
    (handle if isinstance(handle, localtrack.SummaryWriter) else handle._core).flush()


def _stored(run_dir: Path) -> list[tuple[int, float]]:
    table = read_stream(run_dir, "scalars")
    assert table is not None
    return sorted(zip(table["step"].to_pylist(), table["value"].to_pylist(), strict=True))


@pytest.mark.parametrize("api", ["tb", "wandb"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logging_device_scalars_never_moves_them_to_the_host(
    tmp_path: Path, api: str, dtype: Any
) -> None:
    log, handle, run_dir = _logger(api, tmp_path)
    values = device_scalars(dtype)
    DeviceScalar.transfers.clear()
    for i, v in enumerate(values):
        log(i, v)
    assert DeviceScalar.transfers == []
    _flush(handle)
    assert _stored(run_dir) == [(i, i / 8) for i in range(N)]
    handle.close()
    assert find_runs(tmp_path)


@pytest.mark.parametrize("api", ["tb", "wandb"])
def test_sealing_moves_device_scalars_in_one_transfer_per_seal(tmp_path: Path, api: str) -> None:
    log, handle, run_dir = _logger(api, tmp_path)
    for i, v in enumerate(device_scalars()):
        log(i, v)
    DeviceScalar.transfers.clear()
    _flush(handle)
    seals = len(list((run_dir / "scalars").glob("*.parquet")))
    transfers = list(DeviceScalar.transfers)
    handle.close()
    assert seals == 1
    assert len(transfers) <= seals, f"{len(transfers)} host transfers: {transfers[:5]}…"


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _cuda_scalars() -> list[Any]:
    xs = torch.arange(N, device="cuda", dtype=torch.float32) / 8
    scalars = [xs[i] for i in range(N)]  # 0-d views on the device; indexing does not sync
    torch.cuda.synchronize()
    return scalars


@needs_cuda
@pytest.mark.parametrize("api", ["tb", "wandb"])
def test_real_cuda_scalars_never_sync_while_logging(tmp_path: Path, api: str) -> None:
    log, handle, run_dir = _logger(api, tmp_path)
    scalars = _cuda_scalars()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i, v in enumerate(scalars):
            log(i, v)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    _flush(handle)
    assert _stored(run_dir) == [(i, i / 8) for i in range(N)]
    handle.close()


@needs_cuda
def test_real_cuda_scalars_sync_a_few_times_per_seal(tmp_path: Path) -> None:
    log, handle, _ = _logger("tb", tmp_path)
    for i, v in enumerate(_cuda_scalars()):
        log(i, v)
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handle.flush()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    handle.close()
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) <= 4, f"{len(syncs)} device syncs for one seal"
