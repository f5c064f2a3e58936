"""Benchmark localtrack's writer against torch's SummaryWriter, tensorboardX, wandb and trackio.

Every measurement runs in a fresh process (this file, re-run with --child), a few times; the
table shows medians and the ratio localtrack / peer (below 1: localtrack is cheaper). A peer
that is not installed or fails is shown as n/a with the reason; the run goes on.

    python scripts/bench_writer.py --quick                 # a few minutes
    python scripts/bench_writer.py --markdown bench.md     # the full table, also as markdown
    bash scripts/bench_writer ...                          # the same in .venv-bench with peers

Work sizes per system are chosen so that slow peers finish in seconds; each cell says its
size where it differs from localtrack's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

SYSTEMS = ["floor", "localtrack", "torch", "tensorboardX", "wandb", "trackio"]
PEERS = ["torch", "tensorboardX", "wandb", "trackio"]
LABELS = {
    "floor": "floor",
    "localtrack": "localtrack",
    "torch": "torch SummaryWriter",
    "tensorboardX": "tensorboardX",
    "wandb": "wandb offline",
    "trackio": "trackio local",
}
PACKAGES = {
    "localtrack": "localtrack",
    "torch": "tensorboard",
    "tensorboardX": "tensorboardX",
    "wandb": "wandb",
    "trackio": "trackio",
}


@dataclass(frozen=True)
class Measure:
    key: str
    title: str
    unit: str
    target: float | None  # localtrack's target (same unit); None: no target
    systems: tuple[str, ...]
    sizes: dict[str, int]  # full-run work size per system ("*" for the default)


TB_ALL = ("localtrack", "torch", "tensorboardX", "wandb", "trackio")
MEASURES = [
    Measure(
        "scalar",
        "add_scalar, µs per call in the loop",
        "µs",
        1.0,
        ("floor", *TB_ALL),
        {"*": 20_000, "floor": 1_000_000, "localtrack": 1_000_000, "trackio": 100_000},
    ),
    Measure(
        "log10",
        "log 10 scalars in one dict, µs per step",
        "µs",
        5.0,
        ("floor", *TB_ALL),
        {"*": 5_000, "floor": 200_000, "localtrack": 200_000, "trackio": 20_000},
    ),
    Measure(
        "histogram",
        "histogram of 1M float32, ms seen by the caller",
        "ms",
        2.0,
        TB_ALL,
        {"*": 20},
    ),
    Measure(
        "images",
        "add_images 16×3×100×100, ms seen by the caller",
        "ms",
        2.0,
        TB_ALL,
        {"*": 20},
    ),
    Measure(
        "flush",
        "flush() every step (5 add_scalar calls before it), ms per flush, median",
        "ms",
        0.5,
        ("localtrack", "torch", "tensorboardX"),
        {"*": 2_000},
    ),
    Measure(
        "bytes",
        "bytes on disk per scalar (random values, after close)",
        "B",
        12.0,
        TB_ALL,
        {"*": 50_000, "localtrack": 1_000_000, "wandb": 20_000},
    ),
    Measure(
        "memory",
        "peak memory above import, MB (N scalars)",
        "MB",
        64.0,
        TB_ALL,
        {"*": 200_000, "localtrack": 10_000_000, "wandb": 50_000, "trackio": 500_000},
    ),
    Measure(
        "close",
        "close() after N scalars, s",
        "s",
        0.5,
        TB_ALL,
        {"*": 100_000, "localtrack": 1_000_000, "wandb": 50_000, "trackio": 500_000},
    ),
]
QUICK_DIVISOR = 10


# ---- the child: one system, one measurement, one number ------------------------------------


def rss_bytes(field: str = "VmRSS") -> int:
    """This process's resident set size now (VmRSS) or at its peak so far (VmHWM), in bytes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Floor:
    """The cheapest possible logger: a Python function appending to a list."""

    def __init__(self, _dir: Path) -> None:
        self.rows: list[Any] = []

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.rows.append((tag, value, step))

    def log(self, data: dict[str, float], step: int) -> None:
        for key, value in data.items():
            self.rows.append((key, value, step))

    def close(self) -> None:
        pass


class TensorBoardLike:
    """localtrack.SummaryWriter, torch's and tensorboardX's: the same API."""

    def __init__(self, system: str, d: Path) -> None:
        if system == "localtrack":
            from localtrack import SummaryWriter
        elif system == "torch":
            from torch.utils.tensorboard import SummaryWriter  # type: ignore[no-redef]
        else:
            from tensorboardX import SummaryWriter  # type: ignore[no-redef]
        self.w = SummaryWriter(str(d / "run"))
        self.scalar = self.w.add_scalar

    def log(self, data: dict[str, float], step: int) -> None:
        add = self.w.add_scalar
        for key, value in data.items():
            add(key, value, step)

    def histogram(self, tag: str, x: Any, step: int) -> None:
        self.w.add_histogram(tag, x, step)

    def images(self, tag: str, x: Any, step: int) -> None:
        self.w.add_images(tag, x, step)

    def close(self) -> None:
        self.w.close()


class LocaltrackRun(TensorBoardLike):
    """localtrack's SummaryWriter, with log() through the W&B-style run.log(dict)."""

    def __init__(self, d: Path) -> None:
        super().__init__("localtrack", d)
        import localtrack

        self.run = localtrack.init(project="bench", dir=str(d / "wb"))

    def log(self, data: dict[str, float], step: int) -> None:
        self.run.log(data, step=step)

    def close(self) -> None:
        super().close()
        self.run.finish()


class Wandb:
    def __init__(self, d: Path) -> None:
        os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline", WANDB_DIR=str(d))
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project="bench", mode="offline", dir=str(d))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.run.log({tag: value}, step=step)

    def log(self, data: dict[str, float], step: int) -> None:
        self.run.log(data, step=step)

    def histogram(self, tag: str, x: Any, step: int) -> None:
        self.run.log({tag: self.wandb.Histogram(x)}, step=step)

    def images(self, tag: str, x: Any, step: int) -> None:
        hwc = (x.transpose(0, 2, 3, 1) * 255).astype("uint8")
        self.run.log({tag: [self.wandb.Image(img) for img in hwc]}, step=step)

    def close(self) -> None:
        self.run.finish()


class Trackio:
    def __init__(self, d: Path) -> None:
        os.environ["TRACKIO_DIR"] = str(d)
        import trackio

        self.trackio = trackio
        trackio.init(project="bench", embed=False)

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.trackio.log({tag: value}, step=step)

    def log(self, data: dict[str, float], step: int) -> None:
        self.trackio.log(data, step=step)

    def histogram(self, tag: str, x: Any, step: int) -> None:
        self.trackio.log({tag: self.trackio.Histogram(x)}, step=step)

    def images(self, tag: str, x: Any, step: int) -> None:
        hwc = (x.transpose(0, 2, 3, 1) * 255).astype("uint8")
        self.trackio.log({tag: [self.trackio.Image(img) for img in hwc]}, step=step)

    def close(self) -> None:
        self.trackio.finish()


def open_system(system: str, d: Path) -> Any:
    if system == "floor":
        return Floor(d)
    if system == "localtrack":
        return LocaltrackRun(d)
    if system in ("torch", "tensorboardX"):
        return TensorBoardLike(system, d)
    return Wandb(d) if system == "wandb" else Trackio(d)


def dir_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def child(system: str, measure: str, n: int, d: Path) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    # At most 1M distinct values: a 10M-float list would itself set the peak (VmHWM) that
    # the memory measure reads.
    sized = measure in ("scalar", "bytes", "memory", "close")
    values = rng.random(min(n, 1_000_000)).tolist() if sized else []
    logger = open_system(system, d)
    rss0 = rss_bytes()
    if measure == "scalar":
        add = logger.scalar
        t = time.perf_counter()
        for i, v in enumerate(values):
            add("loss", v, i)
        return {"value": (time.perf_counter() - t) / n * 1e6}
    if measure == "log10":
        keys = [f"metric/{k}" for k in range(10)]
        row = rng.random(10).tolist()
        log = logger.log
        t = time.perf_counter()
        for i in range(n):
            log(dict(zip(keys, row, strict=True)), i)
        return {"value": (time.perf_counter() - t) / n * 1e6}
    if measure == "flush":
        return {"value": flush_every_step(logger, n)}
    if measure in ("histogram", "images"):
        if measure == "histogram":
            x = rng.standard_normal(1_000_000).astype(np.float32)
            call = logger.histogram
        else:
            x = rng.random((16, 3, 100, 100)).astype(np.float32)
            call = logger.images
        times = []
        for i in range(n):
            t = time.perf_counter()
            call("h", x, i)
            times.append(time.perf_counter() - t)
            time.sleep(0.05)  # the training step between two calls
        logger.close()
        return {"value": statistics.median(times) * 1e3}
    add = logger.scalar
    m = len(values)
    for i in range(n):
        add("loss", values[i % m], i)
    t = time.perf_counter()
    logger.close()
    closed = time.perf_counter() - t
    if measure == "close":
        return {"value": closed}
    if measure == "bytes":
        return {"value": dir_bytes(d) / n}
    return {"value": max(rss_bytes("VmHWM") - rss0, 0) / 1e6}


def flush_every_step(logger: TensorBoardLike, n: int) -> float:
    """Median ms of flush() called after every step of 5 add_scalar calls, as Accelerate's
    and ignite's TensorBoard loggers call it, with a 1 ms training step in between."""
    add, flush = logger.w.add_scalar, logger.w.flush
    times = []
    for i in range(n):
        for k in range(5):
            add(f"metric/{k}", float(i), i)
        t = time.perf_counter()
        flush()
        times.append(time.perf_counter() - t)
        time.sleep(0.001)
    logger.close()
    return statistics.median(times) * 1e3


def child_main(args: argparse.Namespace) -> None:
    d = Path(tempfile.mkdtemp(prefix=f"bench-{args.child}-"))
    os.chdir(d)
    try:
        out = child(args.child, args.measure, args.n, d)
    except BaseException as exc:  # any failure of a peer is a result: n/a and why
        out = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:160]}
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)  # peers' atexit hooks have nothing left to measure


# ---- the parent: run children, take medians, print the table ---------------------------------


def run_child(system: str, measure: str, n: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", system, "--measure", measure, "--n", str(n)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {proc.returncode}: {tail[:160]}"}


def available(system: str) -> str | None:
    """None when the system's package is installed, else why not."""
    if system == "floor":
        return None
    try:
        metadata.version(PACKAGES[system])
    except metadata.PackageNotFoundError:
        return f"{PACKAGES[system]} is not installed"
    if system == "torch":
        try:
            metadata.version("torch")
        except metadata.PackageNotFoundError:
            return "torch is not installed"
    return None


@dataclass
class Cell:
    value: float | None
    n: int
    note: str = ""


def measure_all(args: argparse.Namespace) -> dict[tuple[str, str], Cell]:
    cells: dict[tuple[str, str], Cell] = {}
    for m in MEASURES:
        if args.only and m.key not in args.only:
            continue
        for system in m.systems:
            if system not in args.systems:
                continue
            n = m.sizes.get(system, m.sizes["*"])
            if args.quick:
                n = max(n // QUICK_DIVISOR, 5)
            why = available(system)
            if why is not None:
                cells[(m.key, system)] = Cell(None, n, why)
                continue
            got = [run_child(system, m.key, n, args.timeout) for _ in range(args.repeats)]
            values = [g["value"] for g in got if "value" in g]
            errors = [g["error"] for g in got if "error" in g]
            cell = Cell(statistics.median(values) if values else None, n, "; ".join(errors[:1]))
            cells[(m.key, system)] = cell
            shown = "n/a" if cell.value is None else f"{cell.value:.4g} {m.unit}"
            print(f"  {m.key:9s} {system:12s} n={n:<9d} {shown} {cell.note}", flush=True)
    return cells


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _show_size(m: Measure, system: str, cell: Cell, lt: Cell | None) -> bool:
    """Say N where it is part of the figure, or differs from localtrack's."""
    if m.key in ("histogram", "images"):
        return False
    if system == "localtrack":
        return m.key in ("memory", "close", "bytes")
    return lt is not None and cell.n != lt.n


def table(cells: dict[tuple[str, str], Cell], systems: list[str]) -> list[str]:
    """Markdown: one row per measure, medians, localtrack's target, then ratios to peers."""
    peers = [s for s in PEERS if s in systems]
    head = ["work", *(LABELS[s] for s in systems), "localtrack target", "met"]
    head += [f"localtrack / {LABELS[p]}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for m in MEASURES:
        if not any(k == m.key for k, _ in cells):
            continue
        lt = cells.get((m.key, "localtrack"))
        row = [m.title]
        for s in systems:
            c = cells.get((m.key, s))
            if c is None:
                row.append("")
                continue
            text = fmt(c.value)
            if _show_size(m, s, c, lt):
                text += f" (N={c.n:,})"
            if c.note:
                notes.append(f"{LABELS[s]}, {m.key}: {c.note}")
                text += f" [{len(notes)}]"
            row.append(text)
        target = m.target
        row.append("" if target is None else f"≤ {fmt(target)}")
        met = lt is not None and lt.value is not None and target is not None
        row.append(("yes" if lt.value <= target else "no") if met else "")  # type: ignore[union-attr,operator]
        for p in peers:
            c = cells.get((m.key, p))
            ok = lt and c and lt.value is not None and c.value and c.value > 0
            row.append(f"{lt.value / c.value:.3g}×" if ok else "")  # type: ignore[union-attr,operator]
        lines.append("| " + " | ".join(row) + " |")
    lines += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return lines


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for pkg in (
        "localtrack",
        "torch",
        "tensorboard",
        "tensorboardX",
        "wandb",
        "trackio",
        "pyarrow",
        "numpy",
    ):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} not installed")
    return [
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"localtrack code: {code_version()}",
        f"Python {platform.python_version()}; " + ", ".join(versions),
    ]


def code_version() -> str:
    """The git commit measured, and whether localtrack/ had uncommitted changes."""
    here = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "localtrack"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" with uncommitted changes in localtrack/" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="work sizes / 10, for a quick look")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per cell")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--systems", nargs="+", default=SYSTEMS, choices=SYSTEMS)
    parser.add_argument("--only", nargs="+", choices=[m.key for m in MEASURES])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per child")
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    head = machine()
    print("\n".join(head), flush=True)
    mode = "quick (work sizes / 10)" if args.quick else "full"
    print(f"Mode: {mode}; median of {args.repeats} fresh processes per cell", flush=True)
    started = time.time()
    cells = measure_all(args)
    body = table(cells, [s for s in SYSTEMS if s in args.systems])
    footer = [
        "",
        "Lower is better everywhere; a ratio below 1× means localtrack is cheaper. Peak memory is "
        "this process's VmHWM above its value after imports (wandb's separate wandb-core service "
        "is not counted); bytes on disk count the whole run directory.",
        f"Command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}; took {time.time() - started:.0f} s",
    ]
    text = "\n".join([*head, f"Mode: {mode}; median of {args.repeats} runs", "", *body, *footer])
    print("\n" + "\n".join([*body, *footer]))
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
