"""A fleet of N nodes syncing to one MLflow on PostgreSQL: throughput, CPU, errors, latency.

    .venv/bin/python scripts/fleet_sync.py [--nodes 32] [--concurrency adaptive|fixed]
    .venv/bin/python scripts/fleet_sync.py --compare [--compare-nodes 1,8,32]

Starts a real PostgreSQL (Debian's `postgresql`, installed with apt when missing and run as an
unprivileged user in a temporary data directory on a loopback port; tests/postgres_server.py),
one `mlflow server --backend-store-uri postgresql+psycopg2://… --workers 4` on it, and N
simulated nodes: N `localtrack daemon` processes, each with its own runs root holding `--runs`
runs × `--ranks` rank-writers (4 × 2: 8 rank-writers per node). The runs are sealed while the
daemons already run. It ends with every local point in MLflow exactly once, checked with
`MlflowClient` per run, and prints the aggregate points/s (all points over the time from the
first sealed segment to the last acknowledged), the server's CPU (mlflow's processes and
PostgreSQL's) and the daemons' (in cores: 1.0 = one core busy), the 429/5xx answers the daemons
met, and the p50/p99 time from a segment sealed to MLflow acknowledging it.
`--compare` runs a fixed 4 requests in flight against adaptive at each N of `--compare-nodes`,
each into its own experiment on the same server, and prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))  # after the package: tests/localtrack must not shadow it

import psutil  # noqa: E402
from fleet import Fleet  # noqa: E402
from mlflow_server import Server  # noqa: E402
from postgres_server import Postgres, unavailable  # noqa: E402


@dataclass
class Result:
    mode: str
    nodes: int
    points: int
    seconds: float
    sealing_s: float
    """How long this process took to seal every segment (one thread for all nodes)."""
    server_cores: float
    daemon_cores: float
    overloads: int
    p50: float
    p99: float
    runs_checked: int
    limits: str
    """The daemons' final limits (median), their lowest, and the cuts (adaptive only)."""

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.mode:8s} N={self.nodes:3d}: {self.points} points in {self.seconds:.1f} s (sealed "
            f"within {self.sealing_s:.1f} s) = "
            f"{self.rate:,.0f} points/s; server {self.server_cores:.2f} cores, daemons "
            f"{self.daemon_cores:.2f} cores; 429/5xx: {self.overloads}; sealed→visible "
            f"p50 {self.p50:.2f} s, p99 {self.p99:.2f} s; {self.runs_checked} runs exact; "
            f"in flight: {self.limits}"
        )


def ensure_postgres() -> None:
    """Install Debian's postgresql with apt when it is missing (needs root)."""
    if unavailable() is None:
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("fleet_sync: installing postgresql with apt-get …", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=False, env=env)
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"fleet_sync: {reason}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and all their children, now."""
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            continue
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
    return total


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[min(98, max(0, int(q) - 1))]


def run_fleet(
    args: argparse.Namespace, server: Server, pg: Postgres, mode: str, nodes: int, base: Path
) -> Result:
    from mlflow import MlflowClient

    project = f"fleet-{mode}-{nodes}-{int(time.time())}"
    fleet = Fleet(base / project, nodes=nodes, runs=args.runs, ranks=args.ranks, project=project)
    extra = ["--concurrency", mode]
    if mode == "fixed":
        extra += ["--max-in-flight", "4"]
    server_pids = [server.proc.pid] if server.proc is not None else []
    try:
        fleet.start(server.url, *extra)
        daemon_pids = [n.proc.pid for n in fleet.nodes if n.proc is not None]
        cpu0_server = cpu_seconds(server_pids + pg.pids())
        cpu0_daemons = cpu_seconds(daemon_pids)
        fleet.watch(server.url)
        t0 = time.monotonic()
        fleet.write(args.segments, args.points, interval_s=args.interval)
        fleet.finish()
        sealing_s = time.monotonic() - t0
        fleet.wait_synced(server.url, timeout=args.timeout)
        seconds = time.monotonic() - t0
        server_cores = (cpu_seconds(server_pids + pg.pids()) - cpu0_server) / seconds
        daemon_cores = (cpu_seconds(daemon_pids) - cpu0_daemons) / seconds
        codes = fleet.stop()
        if any(codes):
            raise SystemExit(f"fleet_sync: a daemon exited with {codes}")
        checked = fleet.check(MlflowClient(server.url))
        lat = fleet.latencies()
        return Result(
            mode, nodes, fleet.points, seconds, sealing_s, server_cores, daemon_cores, fleet.overloads(),
            percentile(lat, 50), percentile(lat, 99), checked, limits(fleet),
        )  # fmt: skip
    finally:
        fleet.stop()
        if not args.keep:
            shutil.rmtree(base / project, ignore_errors=True)


def limits(fleet: Fleet) -> str:
    stats = fleet.stopped_stats()
    final = [int(str(s.get("limit", 0))) for s in stats]
    if not final:
        return "?"
    text = f"limit {statistics.median(final):g} (median of {len(final)})"
    if any("cuts" in s for s in stats):
        lowest = min(int(str(s.get("lowest", 0))) for s in stats)
        cuts = sum(int(str(s.get("cuts", 0))) for s in stats)
        text += f", lowest {lowest}, {cuts} cuts"
    return text


def table(results: list[Result]) -> str:
    rows = [
        "| nodes | concurrency | points | sealed within | points/s | server CPU (cores) "
        "| daemons' CPU (cores) | 429/5xx | sealed → visible p50 / p99 | requests in flight at the end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r.nodes} | {r.mode if r.mode == 'adaptive' else 'fixed 4'} | {r.points:,} "
            f"| {r.sealing_s:.0f} s | {r.rate:,.0f} | {r.server_cores:.2f} | {r.daemon_cores:.2f} | {r.overloads} "
            f"| {r.p50:.2f} s / {r.p99:.2f} s | {r.limits} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, default=32, help="simulated nodes (32)")
    p.add_argument("--runs", type=int, default=4, help="runs per node (4)")
    p.add_argument("--ranks", type=int, default=2, help="rank-writers per run (2)")
    p.add_argument("--segments", type=int, default=5, help="segments each rank seals (5)")
    p.add_argument("--points", type=int, default=1000, help="points per segment (1000)")
    p.add_argument("--interval", type=float, default=0.2, help="seconds between rounds (0.2)")
    p.add_argument("--concurrency", choices=("adaptive", "fixed"), default="adaptive")
    p.add_argument("--compare", action="store_true", help="fixed 4 against adaptive")
    p.add_argument("--compare-nodes", default="1,8,32", help="N for --compare (1,8,32)")
    p.add_argument("--server-workers", type=int, default=4, help="mlflow server --workers (4)")
    p.add_argument("--pool-size", type=int, help="MLFLOW_SQLALCHEMYSTORE_POOL_SIZE (mlflow: 5)")
    p.add_argument("--max-overflow", type=int, help="MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW (10)")
    p.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync=off")
    p.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the sync")
    p.add_argument("--keep", action="store_true", help="keep the nodes' runs roots")
    args = p.parse_args()
    ensure_postgres()
    env = {}
    if args.pool_size is not None:
        env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] = str(args.pool_size)
    if args.max_overflow is not None:
        env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"] = str(args.max_overflow)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; "
        f"PostgreSQL (fsync {'off' if args.no_fsync else 'on'}), mlflow server --workers "
        f"{args.server_workers}{' ' + str(env) if env else ''}; per node {args.runs} runs × "
        f"{args.ranks} ranks × {args.segments} segments × {args.points} points",
        flush=True,
    )
    base = Path(tempfile.mkdtemp(prefix="fleet-sync-"))
    results: list[Result] = []
    with Postgres(fsync=not args.no_fsync) as pg:
        url = pg.create_database("mlflow")
        server = Server(base / "mlflow", workers=args.server_workers, backend_uri=url, env=env)
        server.start()
        try:
            plan = (
                [(m, int(n)) for n in args.compare_nodes.split(",") for m in ("fixed", "adaptive")]
                if args.compare
                else [(args.concurrency, args.nodes)]
            )
            for mode, nodes in plan:
                r = run_fleet(args, server, pg, mode, nodes, base)
                results.append(r)
                print(r.line(), flush=True)
        finally:
            server.stop()
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
