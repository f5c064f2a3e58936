"""localtrack's system-metric tags → MLflow's own system-metric names (a pure mapping).

The sampler (localtrack._writer.system_metrics) logs `system/cpu.percent`,
`system/gpu.0.utilization_percent`, …; MLflow's system-metrics charts read
`system/cpu_utilization_percentage`, `system/gpu_0_utilization_percentage`, … (the names
mlflow.system_metrics logs). Tags MLflow has no name for (process RSS, GPU temperature, disk
I/O) keep their localtrack name; tags outside `system/` are never touched.
"""

from __future__ import annotations

import re

PREFIX = "system/"

_FIXED = {
    "cpu.percent": "cpu_utilization_percentage",
    "memory.used_mb": "system_memory_usage_megabytes",
    "memory.percent": "system_memory_usage_percentage",
    "disk.percent": "disk_usage_percentage",
    "disk.used_mb": "disk_usage_megabytes",
    "disk.available_mb": "disk_available_megabytes",
    "network.recv_mb": "network_receive_megabytes",
    "network.sent_mb": "network_transmit_megabytes",
}
_GPU = {
    "utilization_percent": "utilization_percentage",
    "memory.used_mb": "memory_usage_megabytes",
    "memory.percent": "memory_usage_percentage",
    "power_w": "power_usage_watts",
    "power_percent": "power_usage_percentage",
}
_GPU_TAG = re.compile(r"gpu\.(\d+)\.(.+)")


def mlflow_system_name(tag: str) -> str:
    """MLflow's name for a localtrack system-metric tag; any other tag unchanged."""
    if not tag.startswith(PREFIX):
        return tag
    name = tag[len(PREFIX) :]
    fixed = _FIXED.get(name)
    if fixed is not None:
        return PREFIX + fixed
    gpu = _GPU_TAG.fullmatch(name)
    if gpu is not None and gpu.group(2) in _GPU:
        return f"{PREFIX}gpu_{gpu.group(1)}_{_GPU[gpu.group(2)]}"
    return tag
