"""System metrics, as W&B and MLflow record them: one daemon thread samples, the training
thread never waits for it.

Every `interval` seconds (10 by default; the first sample one interval after the start) the
sampler reads CPU, memory, disk and network through psutil and, per NVIDIA GPU, utilisation,
memory, temperature and power through NVML (`pynvml`, from the `nvidia-ml-py` package), and
appends them to the run's scalars under `system/…` tags. Those tags have **a time axis of
their own**: `step` is the sample number of this writer (0, 1, 2, …; MLflow's convention for
its system metrics), never the training step; plot them against `wall_time`. A missing
psutil or NVML, or a machine without a GPU, leaves its part out without a word; a reading that
fails once is left out from then on. Sizes are megabytes of 10^6 bytes (as MLflow's); disk and
network I/O are counted from the sampler's start. The sync daemon sends the keys MLflow knows
under MLflow's own names (`localtrack_daemon.system_names`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

PREFIX = "system/"
DEFAULT_INTERVAL = 10.0
_MB = 1e6
_GPU_READINGS = (
    "utilization_percent",
    "memory.used_mb",
    "memory.total_mb",
    "temperature_c",
    "power_w",
    "power_limit_w",
)


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


class _Host:
    """psutil's readings for this process and machine, relative to the start where counted."""

    def __init__(self, psutil: Any, disk_path: str) -> None:
        self._psutil = psutil
        self._disk_path = disk_path
        self._process = psutil.Process(os.getpid())
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        self._process.cpu_percent(interval=None)
        self._disk0 = self._disk_io()
        self._net0 = self._net_io()

    def _disk_io(self) -> tuple[float, float] | None:
        counters = self._psutil.disk_io_counters()
        return None if counters is None else (counters.read_bytes, counters.write_bytes)

    def _net_io(self) -> tuple[float, float] | None:
        counters = self._psutil.net_io_counters()
        return None if counters is None else (counters.bytes_recv, counters.bytes_sent)

    def read(self) -> dict[str, float]:
        ps = self._psutil
        memory = ps.virtual_memory()
        disk = ps.disk_usage(self._disk_path)
        out = {
            "cpu.percent": ps.cpu_percent(interval=None),
            "proc.cpu.percent": self._process.cpu_percent(interval=None),
            "proc.memory.rss_mb": self._process.memory_info().rss / _MB,
            "memory.used_mb": memory.used / _MB,
            "memory.available_mb": memory.available / _MB,
            "memory.percent": memory.percent,
            "disk.used_mb": disk.used / _MB,
            "disk.available_mb": disk.free / _MB,
            "disk.percent": disk.percent,
        }
        io, io0 = self._disk_io(), self._disk0
        if io is not None and io0 is not None:
            out["disk.read_mb"] = (io[0] - io0[0]) / _MB
            out["disk.write_mb"] = (io[1] - io0[1]) / _MB
        net, net0 = self._net_io(), self._net0
        if net is not None and net0 is not None:
            out["network.recv_mb"] = (net[0] - net0[0]) / _MB
            out["network.sent_mb"] = (net[1] - net0[1]) / _MB
        return out


class _Gpus:
    """NVML's readings per NVIDIA GPU; an NVML that fails to start means no GPU part."""

    def __init__(self, nvml: Any) -> None:
        nvml.nvmlInit()
        self._nvml = nvml
        self._handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]
        self._broken: set[str] = set()

    def _raw(self, handle: Any, name: str) -> float:
        nvml = self._nvml
        if name == "utilization_percent":
            return float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        if name == "temperature_c":
            return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        if name == "power_w":
            return float(nvml.nvmlDeviceGetPowerUsage(handle)) / 1000  # milliwatts
        if name == "power_limit_w":
            return float(nvml.nvmlDeviceGetEnforcedPowerLimit(handle)) / 1000
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
        return float(info.used if name == "memory.used_mb" else info.total) / _MB

    def _try(self, i: int, handle: Any, name: str) -> float | None:
        what = f"gpu.{i}.{name}"
        if what in self._broken:
            return None
        try:
            return self._raw(handle, name)
        except Exception:  # an NVML build or GPU without this reading: left out from now on
            self._broken.add(what)
            return None

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self._handles):
            got = {name: self._try(i, handle, name) for name in _GPU_READINGS}
            used, total = got.pop("memory.used_mb"), got.pop("memory.total_mb")
            power, limit = got.get("power_w"), got.pop("power_limit_w")
            if used is not None and total:
                got.update({"memory.used_mb": used, "memory.total_mb": total})
                got["memory.percent"] = 100.0 * used / total
            if power is not None and limit:
                got["power_percent"] = 100.0 * power / limit
            out.update({f"gpu.{i}.{k}": v for k, v in got.items() if v is not None})
        return out

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass


class SystemMetrics:
    """The sampler thread of one run writer; `stop()` ends it (and it ends when the writer closes)."""

    def __init__(
        self,
        core: Any,
        interval: float = DEFAULT_INTERVAL,
        *,
        psutil: Any = None,
        nvml: Any = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"system_metrics_interval must be > 0 seconds, got {interval!r}")
        self._core = core
        self.interval = float(interval)
        self.samples = 0
        self._stop = threading.Event()
        self._readers: list[Any] = []
        psutil = psutil if psutil is not None else _import("psutil")
        if psutil is not None:
            self._readers.append(_Host(psutil, str(core.run_dir)))
        nvml = nvml if nvml is not None else _import("pynvml")
        if nvml is not None:
            try:
                self._readers.append(_Gpus(nvml))
            except Exception:  # no driver, no GPU: the GPU part is silent
                pass
        self._thread = threading.Thread(target=self._loop, name="localtrack-system", daemon=True)
        if self._readers:
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def sample(self) -> dict[str, float]:
        """One reading of everything available, keys without the `system/` prefix."""
        out: dict[str, float] = {}
        for reader in self._readers:
            try:
                out.update(reader.read())
            except Exception:  # a reading that fails never reaches training
                continue
        return out

    def _loop(self) -> None:
        rows = self._core.buffers["scalars"]  # the flat buffer: see sealing.py
        while not self._stop.wait(self.interval):
            if self._core.closed:
                break
            now = time.time()
            step = self.samples
            for key, value in self.sample().items():
                rows.extend((PREFIX + key, float(value), step, now))
            self.samples += 1
        for reader in self._readers:
            close = getattr(reader, "close", None)
            if close is not None:
                close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def start_for(
    core: Any, enabled: bool = True, interval: float = DEFAULT_INTERVAL
) -> SystemMetrics | None:
    """The sampler init(system_metrics=, system_metrics_interval=) starts for a run's writer."""
    if not enabled:
        return None
    return SystemMetrics(core, interval)
