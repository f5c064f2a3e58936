"""Benchmark `localtrack import tensorboard` against tbparse on the same 1M-scalar event files.

The event files (RUNS runs of one tag each, POINTS points in all, as torch's add_scalar
writes them: one simple_value per event) are made with scripts/tfevents_fast.py. localtrack
imports them into a fresh store each time (every point, sealed and durable); tbparse reads
them into a DataFrame with SummaryReader(pivot=False).scalars (EventAccumulator underneath,
every point kept). Each is timed REPEAT times; the table shows the median and best wall
time, points/s, and the CPU time this process used (on a loaded machine wall time is
mostly waiting; points per CPU second is the figure the load does not skew), and the ratio. Targets (issue #14): ≥ 10× tbparse, ≥ 200k points/s.

    python scripts/bench_import.py                      # 1M points, both read every point
    python scripts/bench_import.py --tbparse-points 200000   # tbparse on a smaller file

With --tbparse-points smaller than --points, tbparse reads the first runs only and the ratio
is per point (points/s against points/s), which the output says. Timings on a loaded machine
are pessimistic: the output prints the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tfevents_fast import write_scalars

from localtrack._interop.tb_import import import_tensorboard


def make_logs(base: Path, points: int, runs: int) -> list[Path]:
    per = points // runs
    rng = np.random.default_rng(0)
    dirs = []
    for r in range(runs):
        steps = np.arange(per, dtype=np.int64)
        wall = 1_700_000_000.0 + r * 1e5 + steps * 0.01
        values = rng.random(per).astype(np.float32)
        d = base / f"run{r}"
        write_scalars(d, "loss/train", steps, wall, values)
        dirs.append(d)
    return dirs


def time_localtrack(logdir: Path, scratch: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, points imported)."""
    root = scratch / "store"
    shutil.rmtree(root, ignore_errors=True)
    t, c = time.perf_counter(), time.process_time()
    report = import_tensorboard([logdir], root, progress=False)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    shutil.rmtree(root, ignore_errors=True)
    return elapsed, cpu, report.points["scalars"]


def time_tbparse(logdir: Path) -> tuple[float, float, int]:
    from tbparse import SummaryReader

    t, c = time.perf_counter(), time.process_time()
    frame = SummaryReader(str(logdir), pivot=False).scalars
    return time.perf_counter() - t, time.process_time() - c, len(frame)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=4, help="run directories the points are split in")
    p.add_argument("--tbparse-points", type=int, default=None, help="default: --points")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    tb_points = min(args.tbparse_points or args.points, args.points)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if load[0] > (os.cpu_count() or 1) * 0.5:
        print("  (the machine is loaded: timings are pessimistic)")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        base = Path(tmp)
        dirs = make_logs(base / "logs", args.points, args.runs)
        size = sum(f.stat().st_size for d in dirs for f in d.iterdir())
        print(
            f"event files: {args.points:,} scalar points in {args.runs} runs, {size / 1e6:.1f} MB"
        )
        ours = [time_localtrack(base / "logs", base) for _ in range(args.repeat)]
        assert all(n == args.points for _, _, n in ours), ours
        tb_dir = base / "logs"
        if tb_points < args.points:
            tb_dir = base / "tb_logs"
            per = args.points // args.runs
            keep = max(1, tb_points // per)
            for d in dirs[:keep]:
                shutil.copytree(d, tb_dir / d.name)
            tb_points = keep * per
        try:
            theirs = [time_tbparse(tb_dir) for _ in range(args.repeat)]
        except ImportError as exc:
            print(f"tbparse: not installed ({exc}); pip install tbparse")
            theirs = []
        if theirs:
            assert all(n == tb_points for _, _, n in theirs), (theirs, tb_points)
    rows = [("localtrack import", args.points, ours)]
    if theirs:
        rows.append(("tbparse", tb_points, theirs))
    head = f"{'reader':<20}{'points':>12}{'median s':>10}{'best s':>9}{'points/s':>12}"
    print(f"\n{head}{'CPU s':>8}{'points/CPU-s':>14}")
    rates, cpu_rates = {}, {}
    for name, n, runs in rows:
        med = statistics.median(t for t, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        rates[name], cpu_rates[name] = n / med, n / cpu
        best = min(t for t, _, _ in runs)
        print(
            f"{name:<20}{n:>12,}{med:>10.2f}{best:>9.2f}{n / med:>12,.0f}{cpu:>8.2f}{n / cpu:>14,.0f}"
        )
    ours_rate = rates["localtrack import"]
    print(f"\nlocaltrack: {ours_rate:,.0f} points/s (target ≥ 200,000): "
          f"{'met' if ours_rate >= 200_000 else 'NOT met'}")  # fmt: skip
    if theirs:
        ratio = ours_rate / rates["tbparse"]
        per = " (per point: tbparse read fewer points)" if tb_points < args.points else ""
        print(f"ratio localtrack / tbparse: {ratio:.1f}x{per} (target ≥ 10x): "
              f"{'met' if ratio >= 10 else 'NOT met'}")  # fmt: skip
        cpu_ratio = cpu_rates["localtrack import"] / cpu_rates["tbparse"]
        print(f"  per CPU second (what a loaded machine does not skew): {cpu_ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
