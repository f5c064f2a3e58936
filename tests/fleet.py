"""A fleet of nodes syncing to one MLflow server: each node a runs root and a `localtrack daemon`
process; each root holds runs of several rank-writers (one writer per rank, as DDP writes), sealed
while the daemons already run. Shared by tests/e2e/test_fleet_postgres.py and
scripts/fleet_sync.py.

    fleet = Fleet(tmp / "nodes", nodes=4, runs=2, ranks=2)
    fleet.start(url, "--concurrency", "adaptive")
    fleet.write(segments=5, points=1000)      # while the daemons run
    fleet.finish(); fleet.wait_synced(url); fleet.stop()
    fleet.check(MlflowClient(url))           # every point once, one MLflow run per local run

A segment counts as visible once its (writer, seq) is acknowledged in the run's sync state: the
daemon records a batch only after MLflow answered 200, i.e. after the server committed it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from localtrack_daemon.state import load_state
from sync_store import Store, assert_synced

OVERLOAD = re.compile(r"answered (429|5\d\d)")


@dataclass
class Rank:
    """One rank-writer of a run, and when each of its scalar segments was sealed."""

    store: Store
    sealed: dict[int, float] = field(default_factory=dict)
    """seq → time.monotonic() when that segment was published."""
    visible: dict[int, float] = field(default_factory=dict)
    """seq → when the run's sync state first named it acknowledged."""


@dataclass
class Node:
    root: Path
    log: Path
    runs: list[list[Rank]]
    proc: subprocess.Popen[bytes] | None = None

    def events(self) -> list[dict[str, object]]:
        try:
            lines = self.log.read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a kill
        return out


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}


class Fleet:
    def __init__(self, base: Path, *, nodes: int, runs: int, ranks: int, project: str = "fleet"):
        self.base = base
        self.nodes: list[Node] = []
        for n in range(nodes):
            root = base / f"node{n:03d}"
            node_runs = []
            for r in range(runs):
                first = Store(root, project=project, name=f"node{n}-run{r}")
                stores = [first] + [
                    Store(root, project=project, name=f"node{n}-run{r}", run_id=first.run_id)
                    for _ in range(ranks - 1)
                ]
                node_runs.append([Rank(s) for s in stores])
            self.nodes.append(Node(root, base / f"node{n:03d}.log", node_runs))
        self.points = 0
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def ranks(self) -> list[Rank]:
        return [rank for node in self.nodes for run in node.runs for rank in run]

    def start(self, url: str, *args: str) -> None:
        """One daemon per node; returns once every one has logged `daemon_started`."""
        for node in self.nodes:
            cmd = [sys.executable, "-m", "localtrack_daemon", "daemon", "--root", str(node.root),
                   "--uri", url, "--log", str(node.log), "--backoff-max", "2", *args]  # fmt: skip
            with open(node.log.with_suffix(".err"), "ab") as err:
                node.proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 180
        for node in self.nodes:
            while not any(e.get("event") == "daemon_started" for e in node.events()):
                assert node.proc is not None
                if node.proc.poll() is not None or time.monotonic() > deadline:
                    err = node.log.with_suffix(".err").read_text()[-2000:]
                    raise RuntimeError(f"daemon of {node.root} did not start: {err}")
                time.sleep(0.1)

    def write(self, segments: int, points: int, interval_s: float = 0.0) -> None:
        """`segments` rounds: each rank of each run seals one segment of `points` points."""
        for k in range(segments):
            for rank in self.ranks:
                rank.store.touch_lease()
                base = k * points
                rank.store.scalars(
                    [(f"rank/m{i % 4}", base + i, (base + i) * 0.25) for i in range(points)]
                )
                rank.sealed[rank.store.seq - 1] = time.monotonic()
                self.points += points
            if interval_s:
                time.sleep(interval_s)

    def finish(self) -> None:
        for rank in self.ranks:
            rank.store.finish()

    def watch(self, url: str, every_s: float = 0.2) -> None:
        """Poll every run's sync state in a thread, noting when each segment became visible."""

        def loop() -> None:
            while not self._watching.wait(every_s):
                self._look(url)

        self._watcher = threading.Thread(target=loop, daemon=True)
        self._watcher.start()

    def _look(self, url: str) -> None:
        now = time.monotonic()
        for node in self.nodes:
            for run in node.runs:
                store = run[0].store
                try:
                    state = load_state(store.dir, url, store.run_id)
                except Exception:  # mid-replace or set aside: look again later
                    continue
                progress = state.streams.get("scalars", {})
                for rank in run:
                    done = progress.get(rank.store.writer)
                    if done is None:
                        continue
                    for seq in rank.sealed:
                        if seq not in rank.visible and done.is_done(seq):
                            rank.visible[seq] = now

    def latencies(self) -> list[float]:
        """Seconds from sealed to visible, for every segment seen visible."""
        return sorted(r.visible[s] - r.sealed[s] for r in self.ranks for s in r.visible)

    def wait_synced(self, url: str, timeout: float = 180.0) -> None:
        """Until every run's sync state says FINISHED with all its points acknowledged."""
        deadline = time.monotonic() + timeout
        runs = [run for node in self.nodes for run in node.runs]
        want = {id(run): sum(len(r.sealed) for r in run) for run in runs}
        while True:
            pending = []
            for run in runs:
                s = run[0].store
                state = load_state(s.dir, url, s.run_id)
                done = state.streams.get("scalars", {})
                acked = sum(
                    1
                    for r in run
                    if r.store.writer in done
                    for q in r.sealed
                    if done[r.store.writer].is_done(q)
                )
                if state.status != "FINISHED" or acked < want[id(run)]:
                    pending.append(f"{s.dir.name}: {state.status} {acked}/{want[id(run)]}")
            if not pending:
                break
            for node in self.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    raise AssertionError(
                        f"daemon of {node.root} exited with {node.proc.returncode}"
                    )
            if time.monotonic() > deadline:
                raise AssertionError(f"not synced within {timeout} s: {pending[:8]}")
            time.sleep(0.3)
        self._watching.set()
        if self._watcher is not None:
            self._watcher.join()
        self._look(url)

    def stop(self) -> list[int]:
        """SIGTERM every daemon; their exit codes."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        codes = []
        for node in self.nodes:
            if node.proc is not None:
                try:
                    codes.append(node.proc.wait(timeout=60))
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    codes.append(node.proc.wait())
        return codes

    def overloads(self) -> int:
        """429 and 5xx answers the daemons logged (each a failed pass)."""
        return sum(
            1
            for node in self.nodes
            for e in node.events()
            if e.get("event") == "sync_failed" and OVERLOAD.search(str(e.get("error", "")))
        )

    def stopped_stats(self) -> list[dict[str, object]]:
        """Each daemon's concurrency stats from its `daemon_stopped` line."""
        out = []
        for node in self.nodes:
            for e in node.events():
                if e.get("event") == "daemon_stopped" and isinstance(e.get("concurrency"), dict):
                    out.append(e["concurrency"])
        return out

    def check(self, client: object) -> int:
        """Every local point in MLflow exactly once, one MLflow run per local run, FINISHED;
        the number of MLflow runs checked."""
        checked = 0
        for node in self.nodes:
            for run in node.runs:
                s = run[0].store
                rid = assert_synced(client, s.dir, s.run_id)
                status = client.get_run(rid).info.status  # type: ignore[attr-defined]
                assert status == "FINISHED", f"{s.dir}: {status}"
                checked += 1
        return checked
