"""Build run stores segment by segment, and compare a local run with what MLflow holds.

Segments are published with the store's own `publish`, as the writer does, so the daemon reads
exactly the format it meets in the field; `compact` merges segments the way compaction does
(covering file first, inputs deleted after).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
from localtrack_daemon.encode import mlflow_key

from localtrack._store.layout import SegmentName, lease_path
from localtrack._store.marker import create_or_join, make_marker, new_run_id
from localtrack._store.schema import STREAMS
from localtrack._store.segments import list_segments, publish, read_segment, read_stream

HOST = socket.gethostname()


class Store:
    """One run written by one fake writer: `scalars(...)`, `config(...)`, `finish()`."""

    def __init__(
        self,
        root: Path,
        project: str = "proj",
        name: str = "run",
        run_id: str | None = None,
        writer: str | None = None,
    ) -> None:
        self.run_id = run_id or new_run_id()
        self.dir = root / project / self.run_id
        create_or_join(self.dir, make_marker(self.run_id, project, name, "wandb"))
        self.writer = writer or os.urandom(8).hex()
        self.seq = 0
        self.clock_us = int(time.time() * 1e6)
        self.event("start", payload={"host": HOST, "pid": 999_999_999, "argv": ["train.py"]})

    def _writer_cols(self, n: int) -> dict[str, list[object]]:
        return {
            "writer": [self.writer] * n,
            "seq": [self.seq] * n,
            "rank": [0] * n,
            "host": [HOST] * n,
            "pid": [999_999_999] * n,
        }

    def _publish(self, stream: str, cols: dict[str, list[object]]) -> None:
        n = len(next(iter(cols.values())))
        table = pa.table({**cols, **self._writer_cols(n)}, schema=STREAMS[stream])
        publish(self.dir, stream, SegmentName(self.writer, self.seq, self.seq), table)
        self.seq += 1

    def tick(self) -> int:
        self.clock_us += 1000 + 7  # distinct milliseconds for every point
        return self.clock_us

    def scalars(self, points: list[tuple[str, int, float]]) -> None:
        """One segment of (tag, step, value) points, each at its own millisecond."""
        self._publish(
            "scalars",
            {
                "run_id": [self.run_id] * len(points),
                "tag": [p[0] for p in points],
                "step": [p[1] for p in points],
                "wall_time": [self.tick() for _ in points],
                "value": [p[2] for p in points],
            },
        )

    def config(self, values: dict[str, object]) -> None:
        self._publish(
            "config",
            {
                "run_id": [self.run_id] * len(values),
                "key": list(values),
                "value": [json.dumps(v) for v in values.values()],
                "wall_time": [self.tick() for _ in values],
            },
        )

    def event(
        self, kind: str, status: str | None = None, payload: dict[str, object] | None = None
    ) -> None:
        self._publish(
            "events",
            {
                "run_id": [self.run_id],
                "kind": [kind],
                "wall_time": [self.tick()],
                "status": [status],
                "exit_code": [0 if status != "failed" else 1],
                "payload": [json.dumps(payload or {})],
            },
        )

    def touch_lease(self) -> None:
        p = lease_path(self.dir, self.writer)
        p.parent.mkdir(exist_ok=True)
        p.touch()

    def finish(self, status: str = "finished") -> None:
        self.event("finish", status=status)


def compact(run_dir: Path, stream: str = "scalars") -> int:
    """Merge every live segment of each writer into one covering file; delete the inputs."""
    merged = 0
    by_writer: dict[str, list[SegmentName]] = {}
    for n in list_segments(run_dir / stream):
        by_writer.setdefault(n.writer, []).append(n)
    for writer, names in by_writer.items():
        if len(names) < 2:
            continue
        lo, hi = min(n.lo for n in names), max(n.hi for n in names)
        tables = [
            read_segment(run_dir / stream / n.filename).replace_schema_metadata(None) for n in names
        ]
        publish(run_dir, stream, SegmentName(writer, lo, hi), pa.concat_tables(tables))
        for n in names:
            if (n.lo, n.hi) != (lo, hi):
                (run_dir / stream / n.filename).unlink()
        merged += len(names)
    return merged


def _stored(value: float) -> float | str:
    """A float as MLflow gives it back: ±inf as ±max float, NaN as a comparable token."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return math.copysign(1.7976931348623157e308, value)
    return value


def local_points(run_dir: Path) -> dict[str, Counter[tuple[int, int, float | str]]]:
    """MLflow key → multiset of (step, timestamp ms, value) the local run holds."""
    out: dict[str, Counter[tuple[int, int, float | str]]] = {}
    table = read_stream(run_dir, "scalars")
    if table is None:
        return out
    us = table["wall_time"].cast(pa.int64()).to_pylist()
    for tag, step, t, v in zip(
        table["tag"].to_pylist(),
        table["step"].to_pylist(),
        us,
        table["value"].to_pylist(),
        strict=True,
    ):
        out.setdefault(mlflow_key(tag), Counter())[(step, t // 1000, _stored(v))] += 1
    return out


def remote_points(
    client, mlflow_run_id: str, keys
) -> dict[str, Counter[tuple[int, int, float | str]]]:
    out = {}
    for key in keys:
        hist = client.get_metric_history(mlflow_run_id, key)
        out[key] = Counter((m.step, m.timestamp, _stored(m.value)) for m in hist)
    return out


def mlflow_runs(client, local_run_id: str, view: int = 3):
    """Every MLflow run (any experiment) tagged with this local run id (view 1: active only)."""
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        exps, f"tags.`localtrack.run_id` = '{local_run_id}'", run_view_type=view
    )


def assert_synced(client, run_dir: Path, local_run_id: str, view: int = 3) -> str:
    """Exactly one MLflow run (view 1: one active run) holds exactly the local points; its id."""
    runs = mlflow_runs(client, local_run_id, view)
    assert len(runs) == 1, f"{len(runs)} MLflow runs for local run {local_run_id}"
    rid = runs[0].info.run_id
    local = local_points(run_dir)
    remote = remote_points(client, rid, local)
    for key in local:
        missing = local[key] - remote[key]
        extra = remote[key] - local[key]
        assert not missing and not extra, (
            f"{key}: {sum(missing.values())} missing, {sum(extra.values())} extra "
            f"(e.g. {list(missing)[:3]} / {list(extra)[:3]})"
        )
    remote_keys = set(client.get_run(rid).data.metrics)
    assert remote_keys == set(local), remote_keys ^ set(local)
    return rid
