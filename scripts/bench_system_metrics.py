"""What the system-metrics sampler costs the training thread: add_scalar and run.log in a loop,
with the sampler off and sampling 100x more often than its default (every 0.1 s), each case
in a fresh process, median of --repeat. Never asserted in tests.

    .venv/bin/python scripts/bench_system_metrics.py [--calls 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time, tempfile
import localtrack
from localtrack._writer.system_metrics import SystemMetrics
calls, interval, api = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
root = tempfile.mkdtemp()
if api == "log":
    run = localtrack.init(project="bench", dir=root, system_metrics=interval > 0,
                          system_metrics_interval=interval or 10.0)
    sampler = run._system_metrics
    data = {f"k{i}": 0.5 for i in range(10)}
    t0 = time.perf_counter()
    for _ in range(calls // 10):
        run.log(data)
    dt = (time.perf_counter() - t0) / (calls // 10)
    samples = sampler.samples if sampler else 0
    run.finish()
else:
    w = localtrack.SummaryWriter(root + "/run")
    sampler = SystemMetrics(w._core, interval) if interval > 0 else None
    add = w.add_scalar
    t0 = time.perf_counter()
    for i in range(calls):
        add("loss", 0.5, i)
    dt = (time.perf_counter() - t0) / calls
    samples = sampler.samples if sampler else 0
    w.close()
print(json.dumps({"us": dt * 1e6, "samples": samples}))
"""


def measure(calls: int, interval: float, api: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(calls), str(interval), api],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| work | sampler off | sampler every 0.1 s | samples taken | ratio |")
    print("|---|---|---|---|---|")
    for api, what in (
        ("scalar", "add_scalar, µs per call"),
        ("log", "run.log of 10 numbers, µs per step"),
    ):
        off, on, samples = [], [], []
        for _ in range(args.repeat):
            off.append(measure(args.calls, 0.0, api)["us"])
            got = measure(args.calls, 0.1, api)
            on.append(got["us"])
            samples.append(got["samples"])
        a, b = statistics.median(off), statistics.median(on)
        print(f"| {what} | {a:.3f} | {b:.3f} | {statistics.median(samples):.0f} | {b / a:.2f}× |")
    print(
        f"\nOne sample (psutil, no GPU here) on the sampler's thread: {sample_ms():.3f} ms median"
    )


def sample_ms() -> float:
    """How long one sample holds the sampler's thread (the GIL, at most, for that long)."""
    import time

    import localtrack
    from localtrack._writer.system_metrics import SystemMetrics

    with tempfile.TemporaryDirectory() as root:
        writer = localtrack.SummaryWriter(root + "/run")
        sampler = SystemMetrics(writer._core, 3600.0)
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            sampler.sample()
            times.append(time.perf_counter() - t0)
        sampler.stop()
        writer.close()
    return statistics.median(times) * 1e3


if __name__ == "__main__":
    main()
