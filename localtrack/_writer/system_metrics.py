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
from collections.abc import Callable
from typing import Any

PREFIX = "system/"
DEFAULT_INTERVAL = 10.0
_MB = 1e6


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

    def _try(self, what: str, read: Callable[[], float]) -> float | None:
        if what in self._broken:
            return None
        try:
            return float(read())
        except Exception:  # an NVML build without this reading: leave it out from now on
            self._broken.add(what)
            return None

    def read(self) -> dict[str, float]:
        nvml = self._nvml
        out: dict[str, float] = {}
        for i, h in enumerate(self._handles):
            key = f"gpu.{i}."
            readings: dict[str, Callable[[], float]] = {
                "utilization_percent": lambda h=h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
                "temperature_c": lambda h=h: nvml.nvmlDeviceGetTemperature(
                    h, nvml.NVML_TEMPERATURE_GPU
                ),
                "power_w": lambda h=h: nvml.nvmlDeviceGetPowerUsage(h) / 1000,
            }
            for name, read in readings.items():
                value = self._try(key + name, read)
                if value is not None:
                    out[key + name] = value
            memory = self._try(key + "memory", lambda h=h: nvml.nvmlDeviceGetMemoryInfo(h).total)
            if memory:
                info = nvml.nvmlDeviceGetMemoryInfo(h)
                out[key + "memory.used_mb"] = info.used / _MB
                out[key + "memory.total_mb"] = info.total / _MB
                out[key + "memory.percent"] = 100.0 * info.used / info.total
            limit = self._try(
                key + "power_limit", lambda h=h: nvml.nvmlDeviceGetEnforcedPowerLimit(h)
            )
            if limit and key + "power_w" in out:
                out[key + "power_percent"] = 100.0 * out[key + "power_w"] * 1000 / limit
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
