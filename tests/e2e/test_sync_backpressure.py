"""The daemon under back-pressure: a gateway in front of a real MLflow server that admits only a
few log-batch requests at once and answers the rest, and every few requests, 429 with a
Retry-After. The daemon's adaptive limit shrinks, honours the pause, and the end state is exact;
`--concurrency fixed --max-in-flight 2` never has more than 2 requests in flight."""

from __future__ import annotations

import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from daemon_proc import start_daemon
from fault_proxy import FaultProxy
from fleet import Fleet
from mlflow import MlflowClient
from sync_store import Store, assert_synced

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

RETRY_AFTER_S = 2


class Gateway(FaultProxy):
    """Passes requests through, but answers a log-batch with 429 + Retry-After when more than
    `cap` are in flight through it, and every `every`-th one anyway."""

    def __init__(self, upstream: str, cap: int, every: int) -> None:
        super().__init__(upstream, fault_rate=0.0)
        self.cap, self.every = cap, every
        self.active = self.peak = 0
        self.arrivals: list[float] = []
        self.refused: list[float] = []

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if not h.path.endswith("/runs/log-batch"):
            return super().handle(h)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.arrivals.append(time.monotonic())
            refuse = self.active > self.cap or len(self.arrivals) % self.every == 0
        try:
            if refuse:
                with self.lock:
                    self.refused.append(time.monotonic())
                text = b'{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}'
                h.send_response(429)
                h.send_header("Retry-After", str(RETRY_AFTER_S))
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(text)))
                h.end_headers()
                h.wfile.write(text)
                return
            reply = self.forward(h, body)
            self.reply(h, reply.status_code, reply.content, "application/json")
        finally:
            with self.lock:
                self.active -= 1


def make_runs(root, project: str, runs: int = 3, segments: int = 8) -> list[Store]:
    out = []
    for r in range(runs):
        run = Store(root, project=project, name=f"r{r}")
        for k in range(segments):
            run.scalars([(f"m{i % 3}", k * 1000 + i, float(i)) for i in range(1000)])
        run.finish()
        out.append(run)
    return out


def wait_finished(runs: list[Store], url: str, proc, timeout: float = 240.0) -> None:
    from localtrack_daemon.state import load_state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(load_state(r.dir, url, r.run_id).status == "FINISHED" for r in runs):
            return
        assert proc.poll() is None, "the daemon exited"
        time.sleep(0.3)
    raise AssertionError(f"not synced within {timeout} s")


def events(log) -> list[dict[str, object]]:
    return [json.loads(x) for x in log.read_text().splitlines()]


def test_429_with_retry_after_shrinks_the_limit_pauses_and_ends_exact(tmp_path, mlflow_server):
    runs = make_runs(tmp_path / "root", "backpressure")
    log = tmp_path / "daemon.log"
    with Gateway(mlflow_server.url, cap=3, every=7) as gw:
        proc = start_daemon(
            tmp_path / "root", gw.url, log, "--workers", "4", "--pipeline", "2", "--timeout", "20"
        )
        try:
            wait_finished(runs, gw.url, proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    assert gw.refused, "the gateway never pushed back"
    client = MlflowClient(mlflow_server.url)
    for r in runs:
        assert_synced(client, r.dir, r.run_id)
    lines = events(log)
    cuts = [e for e in lines if e["event"] == "concurrency_changed" and e["why"] == "overload"]
    assert cuts, "the limit never shrank"
    stats = lines[-1]["concurrency"]
    assert lines[-1]["event"] == "daemon_stopped"
    assert stats["overloads"] >= 1 and stats["pauses"] >= 1
    # Retry-After honoured: after each 429, only requests already on their way arrive within
    # the pause (about the 8 that --workers 4 x --pipeline 2 can have in flight; a busy
    # machine delivers a few of those late), never a stream of new ones. Without the pause
    # the other runs kept sending at once.
    with gw.lock:
        arrivals, refused = list(gw.arrivals), list(gw.refused)
    for t in refused:
        early = [a for a in arrivals if t < a < t + RETRY_AFTER_S * 0.75]
        assert len(early) <= 12, f"{len(early)} log-batch requests within the pause after a 429"


def test_fixed_concurrency_never_exceeds_max_in_flight(tmp_path, mlflow_server):
    runs = make_runs(tmp_path / "root", "fixed-cap", runs=4, segments=4)
    log = tmp_path / "daemon.log"
    with Gateway(mlflow_server.url, cap=100, every=10**9) as gw:
        proc = start_daemon(
            tmp_path / "root", gw.url, log,
            "--concurrency", "fixed", "--max-in-flight", "2", "--workers", "4", "--pipeline", "2",
        )  # fmt: skip
        try:
            wait_finished(runs, gw.url, proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    assert 1 <= gw.peak <= 2
    client = MlflowClient(mlflow_server.url)
    for r in runs:
        assert_synced(client, r.dir, r.run_id)
    started = events(log)[0]
    assert started["concurrency"] == "fixed" and started["max_in_flight"] == 2


def test_a_small_fleet_of_adaptive_daemons_on_sqlite_ends_exact(tmp_path, mlflow_server):
    """Four daemons sharing one server, the runs sealed while they run."""
    fleet = Fleet(tmp_path / "nodes", nodes=3, runs=1, ranks=2, project="fleet-sqlite")
    try:
        fleet.start(mlflow_server.url)
        writer = threading.Thread(target=fleet.write, args=(3, 1000, 0.1))
        writer.start()
        writer.join()
        fleet.finish()
        fleet.wait_synced(mlflow_server.url, timeout=240)
    finally:
        codes = fleet.stop()
    assert codes == [0, 0, 0]
    assert fleet.check(MlflowClient(mlflow_server.url)) == 3
