"""The sync suite's kill and fault loops, for longer: prints the counts, exits 1 on any mismatch.

    .venv/bin/python scripts/sync_chaos.py [--kills 200] [--proxy-seconds 120]
        [--pair-kills 100] [--runs 3] [--only kill,proxy,pair]

1. SIGKILL the daemon at random instants while runs grow and get compacted; then check every
   point against MLflow (none missing, none doubled, one MLflow run per local run).
2. The daemon behind a proxy that resets, answers 500/503/429 and stalls, while runs grow;
   then the same check.
3. Two daemons on one store (a systemd daemon and a second one started by hand, or two
   machines on a shared file system), each started and SIGKILLed at random instants, often
   both at once, while runs grow; then the same check, which also counts MLflow runs
   deleted ones included: one per local run, so no duplicate was ever made.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from daemon_proc import start_daemon  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402
from localtrack_daemon.cli import main as cli  # noqa: E402
from localtrack_daemon.state import load_state  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow_server import start_server  # noqa: E402
from sync_store import Store, assert_synced, compact  # noqa: E402


def grow(run: Store, cycle: int, rng: random.Random) -> int:
    n = rng.randint(100, 1500)
    base = cycle * 10_000
    run.scalars([(f"m{i % 4}/x", base + i, rng.random()) for i in range(n)])
    return n


def acknowledged(url: str, runs: list[Store]) -> int:
    return sum(load_state(r.dir, url, r.run_id).points for r in runs)


def check(url: str, runs: list[Store]) -> int:
    for r in runs:
        r.finish()
    code = cli(["sync", "--once", "--root", str(runs[0].dir.parents[1]), "--uri", url])
    sys.stderr.write("\n")
    client = MlflowClient(url)
    bad = 0
    for r in runs:
        try:
            assert_synced(client, r.dir, r.run_id)
        except AssertionError as e:
            bad += 1
            print(f"MISMATCH {r.run_id}: {e}")
    print(f"final sync exit code {code}; runs checked {len(runs)}; mismatched {bad}")
    return bad + (code != 0)


def started(log: Path) -> int:
    """How many daemons have logged their start in this log (they append to one file)."""
    try:
        return log.read_text().count('"event": "daemon_started"')
    except FileNotFoundError:
        return 0


def kill_delay(log: Path, before: int, rng: random.Random) -> None:
    """Sleep until a random instant of the daemon's life. One kill in ten comes during its
    start-up; the others come 0.3-4 s after it logged its start: on a loaded machine start-up
    alone can outlast a fixed delay, and a daemon that never got to upload tests nothing."""
    if rng.random() < 0.1:
        time.sleep(rng.uniform(0.0, 2.0))
        return
    deadline = time.monotonic() + 60
    while started(log) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.3, 4.0))


def kill_loop(url: str, tmp: Path, kills: int, nruns: int, rng: random.Random) -> int:
    runs = [Store(tmp / "kill", project="chaos-kill", name=f"r{i}") for i in range(nruns)]
    points = 0
    moved = 0  # cycles in which the daemon recorded progress before it was killed
    t0 = time.monotonic()
    for cycle in range(kills):
        for r in runs:
            points += grow(r, cycle, rng)
        if rng.random() < 0.15:
            compact(rng.choice(runs).dir)
        before = acknowledged(url, runs)
        log = tmp / "kill.log"
        count = started(log)
        proc = start_daemon(tmp / "kill", url, log)
        kill_delay(log, count, rng)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        moved += acknowledged(url, runs) > before
        if cycle % 20 == 19:
            print(
                f"  {cycle + 1} kills, {points} points logged, {acknowledged(url, runs)} acknowledged"
            )
    print(
        f"kill loop: {kills} SIGKILLs over {time.monotonic() - t0:.0f} s, {points} points, "
        f"{moved} kills after the daemon had recorded progress"
    )
    return check(url, runs)


def proxy_loop(url: str, tmp: Path, seconds: float, nruns: int, rng: random.Random) -> int:
    runs = [Store(tmp / "proxy", project="chaos-proxy", name=f"r{i}") for i in range(nruns)]
    with FaultProxy(url, fault_rate=0.3, stall_s=5, seed=rng.randint(0, 1 << 30)) as proxy:
        proc = start_daemon(tmp / "proxy", proxy.url, tmp / "proxy.log", "--timeout", "4")
        deadline = time.monotonic() + seconds
        cycle = 0
        while time.monotonic() < deadline:
            for r in runs:
                grow(r, cycle, rng)
            cycle += 1
            time.sleep(rng.uniform(0.1, 1.0))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        print(f"proxy loop: {sum(proxy.counts.values())} requests, fates {dict(proxy.counts)}")
    return check(url, runs)


def pair_loop(url: str, tmp: Path, kills: int, nruns: int, rng: random.Random) -> int:
    runs = [Store(tmp / "pair", project="chaos-pair", name=f"r{i}") for i in range(nruns)]
    procs: list[subprocess.Popen[bytes] | None] = [None, None]
    points = overlapped = 0
    t0 = time.monotonic()
    for cycle in range(kills):
        for r in runs:
            points += grow(r, cycle, rng)
        if rng.random() < 0.15:
            compact(rng.choice(runs).dir)
        log = tmp / "pair.log"
        count = started(log)
        for slot in (0, 1):
            if procs[slot] is None and (rng.random() < 0.8 or procs[1 - slot] is None):
                procs[slot] = start_daemon(tmp / "pair", url, log)
        overlapped += all(p is not None for p in procs)
        kill_delay(log, count, rng)
        victims = [0, 1] if rng.random() < 0.3 else [rng.randrange(2)]
        for slot in victims:
            proc = procs[slot]
            if proc is not None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                procs[slot] = None
        if cycle % 20 == 19:
            print(
                f"  {cycle + 1} kill rounds, {points} points logged, "
                f"{acknowledged(url, runs)} acknowledged"
            )
    for proc in procs:
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    print(
        f"pair loop: {kills} kill rounds over {time.monotonic() - t0:.0f} s, {points} points, "
        f"{overlapped} rounds with both daemons running"
    )
    return check(url, runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--proxy-seconds", type=float, default=120.0)
    ap.add_argument("--pair-kills", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="kill,proxy,pair", help="loops to run, comma-separated")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}", flush=True)
    rng = random.Random(seed)
    loops = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "server")
        try:
            bad = 0
            if "kill" in loops:
                bad += kill_loop(server.url, Path(tmp), args.kills, args.runs, rng)
            if "proxy" in loops:
                bad += proxy_loop(server.url, Path(tmp), args.proxy_seconds, args.runs, rng)
            if "pair" in loops:
                bad += pair_loop(server.url, Path(tmp), args.pair_kills, args.runs, rng)
        finally:
            server.stop()
    print("OK" if not bad else f"FAILED ({bad})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
