"""Stores built segment by segment, for cases the writer never produces on purpose
(many tiny segments, corrupt files, newer versions, exact sequence ranges)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from localtrack._store.layout import SegmentName
from localtrack._store.marker import create_or_join, make_marker
from localtrack._store.schema import STREAMS
from localtrack._store.segments import publish

T0_US = 1_764_000_000_000_000


def scalar_rows(
    run_id: str, tag: str, steps: list[int], values: list[float], writer: str, seq: int
) -> pa.Table:
    n = len(steps)
    return pa.table(
        {
            "run_id": [run_id] * n,
            "tag": [tag] * n,
            "step": steps,
            "wall_time": pa.array([T0_US + s * 1000 for s in steps], pa.timestamp("us")),
            "value": values,
            "writer": [writer] * n,
            "seq": [seq] * n,
            "rank": [0] * n,
            "host": ["testhost"] * n,
            "pid": [1] * n,
        },
        schema=STREAMS["scalars"],
    )


def event_rows(
    run_id: str, writer: str, seq: int, kind: str, status: str | None, payload: dict[str, object]
) -> pa.Table:
    return pa.table(
        {
            "run_id": [run_id],
            "kind": [kind],
            "wall_time": pa.array([T0_US + seq * 1_000_000], pa.timestamp("us")),
            "status": [status],
            "exit_code": [0 if status == "finished" else None],
            "payload": [json.dumps(payload)],
            "writer": [writer],
            "seq": [seq],
            "rank": [0],
            "host": ["testhost"],
            "pid": [1],
        },
        schema=STREAMS["events"],
    )


def config_rows(run_id: str, writer: str, seq: int, items: dict[str, object]) -> pa.Table:
    n = len(items)
    return pa.table(
        {
            "run_id": [run_id] * n,
            "key": list(items),
            "value": [json.dumps(v) for v in items.values()],
            "wall_time": pa.array([T0_US + seq * 1_000_000] * n, pa.timestamp("us")),
            "writer": [writer] * n,
            "seq": [seq] * n,
            "rank": [0] * n,
            "host": ["testhost"] * n,
            "pid": [1] * n,
        },
        schema=STREAMS["config"],
    )


def make_run(
    run_dir: Path,
    run_id: str,
    *,
    project: str = "proj",
    name: str | None = None,
    writer: str = "aaaaaaaa",
    tag: str = "loss",
    points: int = 10,
    per_segment: int = 1,
    finished: str | None = "finished",
    config: dict[str, object] | None = None,
    tags: list[str] | None = None,
) -> Path:
    """A run whose scalars `tag` holds steps 0..points-1 with value = step / 10,
    sealed `per_segment` points per segment (seq 0, 1, …)."""
    create_or_join(run_dir, make_marker(run_id, project, name or f"run-{run_id}", "wandb"))
    publish(
        run_dir,
        "events",
        SegmentName(writer, 0, 0),
        event_rows(run_id, writer, 0, "start", None, {"host": "testhost", "tags": tags or []}),
    )
    for seq, lo in enumerate(range(0, points, per_segment)):
        steps = list(range(lo, min(points, lo + per_segment)))
        table = scalar_rows(run_id, tag, steps, [s / 10 for s in steps], writer, seq)
        publish(run_dir, "scalars", SegmentName(writer, seq, seq), table)
    if config:
        publish(
            run_dir, "config", SegmentName(writer, 0, 0), config_rows(run_id, writer, 0, config)
        )
    if finished is not None:
        publish(
            run_dir,
            "events",
            SegmentName(writer, 1, 1),
            event_rows(run_id, writer, 1, "finish", finished, {}),
        )
    return run_dir
