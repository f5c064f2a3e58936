"""The system-metrics sampler: psutil for real, NVML through a stand-in module with two GPUs,
`system/…` tags on their own time axis (the sample number), silent without a GPU."""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pytest

import localtrack
from localtrack._store.segments import read_stream
from localtrack._writer.system_metrics import SystemMetrics

psutil = pytest.importorskip("psutil")


def rows(run_dir: Path | str, stream: str = "scalars") -> list[dict]:
    table = read_stream(Path(run_dir), stream)
    return [] if table is None else table.to_pylist()


def fake_nvml(count: int = 2, broken: tuple[str, ...] = ()) -> types.SimpleNamespace:
    """A stand-in for pynvml with `count` GPUs; functions named in `broken` raise."""

    class NVMLError(Exception):
        pass

    calls: list[str] = []

    def fn(name, result):
        def call(*args):
            calls.append(name)
            if name in broken:
                raise NVMLError(name)
            return result(*args) if callable(result) else result

        return call

    ns = types.SimpleNamespace(
        NVML_TEMPERATURE_GPU=0,
        calls=calls,
        nvmlInit=fn("nvmlInit", None),
        nvmlShutdown=fn("nvmlShutdown", None),
        nvmlDeviceGetCount=fn("nvmlDeviceGetCount", count),
        nvmlDeviceGetHandleByIndex=fn("nvmlDeviceGetHandleByIndex", lambda i: f"gpu{i}"),
        nvmlDeviceGetUtilizationRates=fn(
            "nvmlDeviceGetUtilizationRates",
            lambda h: types.SimpleNamespace(gpu=40 + int(h[-1]), memory=10),
        ),
        nvmlDeviceGetMemoryInfo=fn(
            "nvmlDeviceGetMemoryInfo",
            lambda h: types.SimpleNamespace(used=2_000_000_000, total=8_000_000_000, free=6e9),
        ),
        nvmlDeviceGetTemperature=fn("nvmlDeviceGetTemperature", lambda h, kind: 55),
        nvmlDeviceGetPowerUsage=fn("nvmlDeviceGetPowerUsage", lambda h: 150_000),  # mW
        nvmlDeviceGetEnforcedPowerLimit=fn("nvmlDeviceGetEnforcedPowerLimit", lambda h: 300_000),
    )
    return ns


def wait_for_samples(sampler: SystemMetrics, n: int) -> None:
    done = threading.Event()
    for _ in range(400):
        if sampler.samples >= n or done.wait(0.025):
            break
    assert sampler.samples >= n


def test_host_and_two_gpus_on_their_own_time_axis(tmp_path):
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02, nvml=fake_nvml(2))
    for step in range(1000, 1010):
        writer.add_scalar("loss", 1.0, step)  # the training step never leaks into system/
    wait_for_samples(sampler, 3)
    sampler.stop()
    writer.close()
    got = rows(writer.log_dir)
    system = [r for r in got if r["tag"].startswith("system/")]
    tags = {r["tag"] for r in system}
    for host in (
        "cpu.percent",
        "proc.cpu.percent",
        "proc.memory.rss_mb",
        "memory.used_mb",
        "memory.available_mb",
        "memory.percent",
        "disk.used_mb",
        "disk.available_mb",
        "disk.percent",
        "network.recv_mb",
        "network.sent_mb",
    ):
        assert f"system/{host}" in tags, host
    by_tag = {}
    for r in system:
        by_tag.setdefault(r["tag"], []).append((r["step"], r["value"]))
    for gpu in (0, 1):
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.utilization_percent"]} == {40.0 + gpu}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.memory.used_mb"]} == {2000.0}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.memory.total_mb"]} == {8000.0}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.memory.percent"]} == {25.0}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.temperature_c"]} == {55.0}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.power_w"]} == {150.0}
        assert {v for _, v in by_tag[f"system/gpu.{gpu}.power_percent"]} == {50.0}
    # step = the sample number 0, 1, 2, …, the same for every tag of one sample
    steps = sorted(s for s, _ in by_tag["system/cpu.percent"])
    assert steps == list(range(len(steps))) and len(steps) >= 3
    assert sorted(s for s, _ in by_tag["system/gpu.1.power_w"]) == steps
    assert all(0 <= v <= 100 * psutil.cpu_count() for _, v in by_tag["system/proc.cpu.percent"])
    assert {r["step"] for r in got if r["tag"] == "loss"} == set(range(1000, 1010))


def test_no_gpu_is_silent(tmp_path, recwarn):
    nvml = fake_nvml(0)
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02, nvml=nvml)
    wait_for_samples(sampler, 2)
    sampler.stop()
    writer.close()
    tags = {r["tag"] for r in rows(writer.log_dir)}
    assert "system/cpu.percent" in tags
    assert not any(t.startswith("system/gpu") for t in tags)
    assert len(recwarn) == 0


def test_nvml_without_a_driver_is_silent(tmp_path):
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02, nvml=fake_nvml(2, broken=("nvmlInit",)))
    wait_for_samples(sampler, 1)
    sampler.stop()
    writer.close()
    assert not any(r["tag"].startswith("system/gpu") for r in rows(writer.log_dir))


def test_a_reading_nvml_lacks_is_left_out_from_then_on(tmp_path):
    nvml = fake_nvml(1, broken=("nvmlDeviceGetTemperature", "nvmlDeviceGetEnforcedPowerLimit"))
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02, nvml=nvml)
    wait_for_samples(sampler, 3)
    sampler.stop()
    writer.close()
    tags = {r["tag"] for r in rows(writer.log_dir)}
    assert "system/gpu.0.utilization_percent" in tags and "system/gpu.0.power_w" in tags
    assert "system/gpu.0.temperature_c" not in tags
    assert "system/gpu.0.power_percent" not in tags
    assert nvml.calls.count("nvmlDeviceGetTemperature") == 1  # tried once, then left out
    assert nvml.calls[-1] == "nvmlShutdown"


def test_nothing_to_read_starts_no_thread(tmp_path, monkeypatch):
    import localtrack._writer.system_metrics as sm

    monkeypatch.setattr(sm, "_import", lambda name: None)
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02)
    assert not sampler.running
    writer.close()


def test_init_starts_the_sampler_and_system_metrics_false_does_not(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path, system_metrics_interval=0.02)
    run.log({"loss": 1.0}, step=500)
    wait_for_samples(run._system_metrics, 2)
    run.finish()
    tags = {(r["tag"], r["step"]) for r in rows(run.dir)}
    assert ("system/cpu.percent", 0) in tags and ("loss", 500) in tags
    quiet = localtrack.init(project="p", dir=tmp_path, system_metrics=False)
    quiet.log({"loss": 1.0})
    quiet.finish()
    assert quiet._system_metrics is None
    assert {r["tag"] for r in rows(quiet.dir)} == {"loss"}


def test_the_sampler_ends_when_its_writer_closes(tmp_path):
    writer = localtrack.SummaryWriter(tmp_path / "run")
    sampler = SystemMetrics(writer._core, interval=0.02, nvml=fake_nvml(1))
    wait_for_samples(sampler, 1)
    writer.close()
    sampler._thread.join(timeout=10)
    assert not sampler.running


def test_a_bad_interval_is_refused(tmp_path):
    writer = localtrack.SummaryWriter(tmp_path / "run")
    with pytest.raises(ValueError, match="system_metrics_interval"):
        SystemMetrics(writer._core, interval=0)
    writer.close()
