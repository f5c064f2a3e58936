"""System-metric tags reach MLflow under MLflow's own system-metric names."""

from __future__ import annotations

import pytest
from localtrack_daemon.encode import key_map, mlflow_key
from localtrack_daemon.system_names import mlflow_system_name


@pytest.mark.parametrize(
    ("tag", "mlflow"),
    [
        ("system/cpu.percent", "system/cpu_utilization_percentage"),
        ("system/memory.used_mb", "system/system_memory_usage_megabytes"),
        ("system/memory.percent", "system/system_memory_usage_percentage"),
        ("system/disk.percent", "system/disk_usage_percentage"),
        ("system/disk.used_mb", "system/disk_usage_megabytes"),
        ("system/disk.available_mb", "system/disk_available_megabytes"),
        ("system/network.recv_mb", "system/network_receive_megabytes"),
        ("system/network.sent_mb", "system/network_transmit_megabytes"),
        ("system/gpu.0.utilization_percent", "system/gpu_0_utilization_percentage"),
        ("system/gpu.1.memory.used_mb", "system/gpu_1_memory_usage_megabytes"),
        ("system/gpu.1.memory.percent", "system/gpu_1_memory_usage_percentage"),
        ("system/gpu.10.power_w", "system/gpu_10_power_usage_watts"),
        ("system/gpu.2.power_percent", "system/gpu_2_power_usage_percentage"),
        # no MLflow name: kept
        ("system/gpu.0.temperature_c", "system/gpu.0.temperature_c"),
        ("system/proc.memory.rss_mb", "system/proc.memory.rss_mb"),
        ("system/gpu.0.memory.total_mb", "system/gpu.0.memory.total_mb"),
        # not a system metric
        ("cpu.percent", "cpu.percent"),
        ("train/system/cpu.percent", "train/system/cpu.percent"),
    ],
)
def test_names(tag, mlflow):
    assert mlflow_system_name(tag) == mlflow
    assert mlflow_key(tag) == mlflow


def test_the_mapping_is_recorded_with_the_run_like_every_changed_key():
    assert key_map(["loss", "system/cpu.percent"]) == {
        "system/cpu.percent": "system/cpu_utilization_percentage"
    }
