"""A small fleet against one MLflow on PostgreSQL, as a team runs it: four nodes, each its own
runs root and `localtrack daemon`, two runs of two rank-writers each sealed while the daemons
run, one `mlflow server --workers 2` on a real PostgreSQL. The end state is checked per run with
MLflow's own client: every local point exactly once, one MLflow run per local run.

Skipped, with the reason, only where PostgreSQL cannot be installed (tests/postgres_server.py).
"""

from __future__ import annotations

import pytest
from fleet import Fleet
from mlflow import MlflowClient
from mlflow_server import Server
from postgres_server import postgres

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

__all__ = ["postgres"]

NODES, RUNS, RANKS, SEGMENTS, POINTS = 4, 2, 2, 4, 1000


def test_four_nodes_sync_every_point_once_to_mlflow_on_postgresql(tmp_path, postgres):
    server = Server(tmp_path / "mlflow", workers=2, backend_uri=postgres.create_database("fleet4"))
    server.start()
    fleet = Fleet(tmp_path / "nodes", nodes=NODES, runs=RUNS, ranks=RANKS, project="fleet-pg")
    try:
        fleet.start(server.url)
        fleet.write(SEGMENTS, POINTS, interval_s=0.2)  # sealed while the daemons run
        fleet.finish()
        fleet.wait_synced(server.url, timeout=150)
        assert fleet.stop() == [0] * NODES
        client = MlflowClient(server.url)
        assert fleet.check(client) == NODES * RUNS
        exp = client.get_experiment_by_name("fleet-pg")
        assert exp is not None
        every = client.search_runs([exp.experiment_id], run_view_type=3, max_results=1000)
        assert len(every) == NODES * RUNS, "a duplicate run, even a deleted one"
        assert fleet.points == NODES * RUNS * RANKS * SEGMENTS * POINTS
    finally:
        fleet.stop()
        server.stop()
