"""SIGKILL a logging training process many times and print what each kill cost.

The kill loop of tests/localtrack/writer/test_crash.py, run longer: each child logs scalars in a
tight loop (localtrack's SummaryWriter and run.log alternately) and is killed at a random
instant; then every Parquet file is read back, the rows are checked for gaps and duplicates,
and the loss is measured in rows (the child counts what it logged in a shared mapping) and in
time (the kill instant minus the newest stored row's wall time). The same loop runs against
torch's SummaryWriter (and tensorboardX), read back with tensorboard's EventAccumulator or
tbparse; a peer whose package is missing is skipped and said so.

    python scripts/crash_test.py                   # 100 kills of localtrack, 20 of each peer
    python scripts/crash_test.py --kills 30 --peer-kills 10
    .venv-bench/bin/python scripts/crash_test.py   # where the peers are installed
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HELPERS = Path(__file__).resolve().parent.parent / "tests" / "localtrack" / "writer"
sys.path.insert(0, str(HELPERS))

from crash_child import PROGRESS  # noqa: E402
from crash_kill import CHILD, Kill, kill_child  # noqa: E402


@dataclass
class Figures:
    """What a series of kills of one system cost."""

    system: str
    kills: int = 0
    files: int = 0
    unreadable: int = 0
    gaps: int = 0
    stray: int = 0
    not_crashed: int = 0
    lost_rows: list[int] = field(default_factory=list)
    lost_windows: list[float] = field(default_factory=list)
    lost_spans: list[float] = field(default_factory=list)
    note: str = ""
    peer: bool = False  # stray files and run status are localtrack's notions

    def row(self) -> list[str]:
        if self.note:
            return [self.system, self.note]
        windows = sorted(self.lost_windows)
        p95 = windows[int(0.95 * (len(windows) - 1))] if windows else float("nan")
        return [
            self.system,
            str(self.kills),
            str(self.files),
            str(self.unreadable),
            str(self.gaps),
            str(max(self.lost_rows, default=0)),
            f"{statistics.median(self.lost_rows) if self.lost_rows else 0:.0f}",
            f"{max(windows, default=float('nan')) * 1e3:.0f}",
            f"{p95 * 1e3:.0f}",
            f"{statistics.median(windows) * 1e3 if windows else float('nan'):.0f}",
            f"{max(self.lost_spans, default=float('nan')) * 1e3:.0f}",
            "n/a" if self.peer else str(self.stray),
            "n/a" if self.peer else str(self.not_crashed),
        ]


HEAD = [
    "system",
    "kills",
    "files checked",
    "unreadable files",
    "gaps/dups",
    "max rows lost",
    "median rows lost",
    "max lost window ms",
    "p95 lost window ms",
    "median lost window ms",
    "max logged rows lost, ms",
    "stray files",
    "status not crashed",
]


def localtrack_figures(args: argparse.Namespace, base: Path, rng: random.Random) -> Figures:
    plan = [
        (("tb", "wandb")[i % 2], rng.uniform(0.0, args.max_delay), i % 5 == 4)
        for i in range(args.kills)
    ]
    done = [0]

    def one(i: int) -> Kill:
        api, delay, early = plan[i]
        k = kill_child(base / f"lt{i:04d}", api, args.flush_secs, delay, early)
        done[0] += 1
        if done[0] % 10 == 0:
            print(f"  localtrack: {done[0]}/{args.kills} kills", flush=True)
        return k

    with ThreadPoolExecutor(args.parallel) as pool:
        kills = list(pool.map(one, range(args.kills)))
    fig = Figures("localtrack", kills=len(kills))
    for k in kills:
        fig.files += k.audit.files_checked
        fig.unreadable += len(k.audit.unreadable)
        fig.stray += len(k.audit.stray)
        fig.gaps += k.rows.problem() is not None
        fig.not_crashed += k.has_events and k.status != "crashed"
        if k.ready_time is not None:
            fig.lost_rows.append(k.rows_lost)
            window = k.lost_window
            if window is not None:
                fig.lost_windows.append(window)
            if k.lost_span is not None:
                fig.lost_spans.append(k.lost_span)
        for problem in [*k.audit.unreadable, *k.audit.stray, k.rows.problem()]:
            if problem:
                print(f"  PROBLEM: {problem} ({k.describe()})", flush=True)
    return fig


def tensorboard_reader() -> tuple[str, object] | None:
    """A function reading (steps, wall times, files, unreadable) from a TB log dir."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        EventAccumulator = None  # noqa: N806
    if EventAccumulator is not None:

        def read(logdir: Path) -> tuple[list[int], list[float], int, int]:
            files = list(logdir.glob("events.out.tfevents.*"))
            try:
                acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
                acc.Reload()
                events = acc.Scalars("loss") if "loss" in acc.Tags()["scalars"] else []
            except Exception:
                return [], [], len(files), len(files)
            return [e.step for e in events], [e.wall_time for e in events], len(files), 0

        return "EventAccumulator", read
    try:
        from tbparse import SummaryReader
    except ImportError:
        return None

    def read_tbparse(logdir: Path) -> tuple[list[int], list[float], int, int]:
        files = list(logdir.glob("events.out.tfevents.*"))
        try:
            df = SummaryReader(str(logdir), extra_columns={"wall_time"}).scalars
        except Exception:
            return [], [], len(files), len(files)
        df = df[df["tag"] == "loss"] if len(df) else df
        steps = [int(s) for s in df["step"]] if len(df) else []
        times = [float(t) for t in df["wall_time"]] if len(df) else []
        return steps, times, len(files), 0

    return "tbparse", read_tbparse


def peer_missing(kind: str) -> str | None:
    needs = ["torch", "tensorboard"] if kind == "torch" else ["tensorboardX"]
    for pkg in needs:
        try:
            metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return f"skipped: {pkg} is not installed"
    return None


def kill_peer(kind: str, root: Path, delay: float, read: object) -> tuple[float, ...]:
    root.mkdir(parents=True)
    logdir, progress = root / "tb", root / "progress"
    cmd = [sys.executable, str(CHILD), "loop", kind, str(root)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line.startswith("ready "):
            p.kill()
            _, err = p.communicate()
            raise RuntimeError(f"{kind} child did not start: {err.strip()[-500:]}")
        time.sleep(delay)
        t_kill = time.time()
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
    step, when = PROGRESS.unpack_from(progress.read_bytes())
    logged = step + 1 if when else 0
    steps, times, files, unreadable = read(logdir)  # type: ignore[operator]
    gap = sorted(steps) != list(range(len(steps)))
    newest = max(times) if times else float(line.split()[1])
    return (files, unreadable, gap, max(logged - len(steps), 0), t_kill - newest)


def peer_figures(kind: str, args: argparse.Namespace, base: Path, rng: random.Random) -> Figures:
    label = "torch SummaryWriter" if kind == "torch" else "tensorboardX"
    fig = Figures(label, peer=True)
    why = peer_missing(kind)
    reader = tensorboard_reader()
    if why is None and reader is None:
        why = "skipped: neither tensorboard nor tbparse is installed to read the event files"
    if why is not None:
        fig.note = why
        return fig
    assert reader is not None
    delays = [rng.uniform(0.0, args.max_delay) for _ in range(args.peer_kills)]

    def one(i: int) -> tuple[float, ...]:
        return kill_peer(kind, base / f"{kind}{i:04d}", delays[i], reader[1])

    try:
        with ThreadPoolExecutor(args.parallel) as pool:
            results = list(pool.map(one, range(args.peer_kills)))
    except Exception as exc:
        fig.note = f"skipped: {exc}"[:200]
        return fig
    for files, unreadable, gap, lost, window in results:
        fig.kills += 1
        fig.files += int(files)
        fig.unreadable += int(unreadable)
        fig.gaps += int(gap)
        fig.lost_rows.append(int(lost))
        fig.lost_windows.append(window)
    fig.note = ""
    print(f"  {label}: read back with {reader[0]}", flush=True)
    return fig


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    for r in rows:
        lines.append("| " + " | ".join(r + [""] * (len(HEAD) - len(r))) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs of localtrack children")
    parser.add_argument("--peer-kills", type=int, default=20, help="SIGKILLs per peer")
    parser.add_argument("--peers", nargs="*", default=["torch", "tensorboardX"])
    parser.add_argument("--parallel", type=int, default=3, help="children alive at once")
    parser.add_argument("--max-delay", type=float, default=4.0, help="latest kill, s after ready")
    parser.add_argument("--flush-secs", type=float, default=0.5, help="localtrack's loss window")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 10**6
    rng = random.Random(seed)
    print(
        f"crash_test: seed {seed}, {args.parallel} children at once, python {sys.version.split()[0]}"
    )
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="crash-test-") as tmp:
        base = Path(tmp)
        figures = [localtrack_figures(args, base, rng)]
        for kind in args.peers:
            figures.append(peer_figures(kind, args, base, rng))
    print()
    print(markdown([f.row() for f in figures]))
    print(
        f"\nlocaltrack flush_secs={args.flush_secs}; lost window = kill instant - newest stored "
        f"row's wall time; logged rows lost = the last logged row's wall time - the newest stored "
        f"row's (leaves out time a starved child spent logging nothing); rows lost counted from the child's progress mapping; kills at "
        f"0..{args.max_delay} s after the first row, every 5th localtrack kill at a random "
        f"instant of start-up. Took {time.time() - started:.0f} s."
    )
    lt = figures[0]
    bad = lt.unreadable or lt.gaps or lt.stray or lt.not_crashed
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
