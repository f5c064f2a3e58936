"""TensorBoard's `purge_step`: which rows of a run's earlier writers a purge hides, and the SQL.

`SummaryWriter(log_dir, purge_step=N)` records a `purge` event `{"step": N}`. As TensorBoard's
EventAccumulator does when it reads that writer's `SessionLog.START`, the purge hides, in every
tagged stream, the rows of the same run that were logged before it by writers that started
before the purging writer, at steps ≥ N: a training resumed from a checkpoint shows one curve,
not two overlapping ones. Precisely, a purge by writer P at wall time T hides the rows of
writer W (W ≠ P, same run, W's first `start` earlier than P's) with `step ≥ N` and
`wall_time < T`. Hiding is a filter on reads: nothing on disk changes, and the raw rows stay in
the `_<stream>_all` views.

Cost: only a run whose `events` folder holds files of two writers or more can have a purge that
hides anything, which the file names tell; only those runs' `events` files are read at connect
time, each once ever (purge_events.py caches them), and only the files of writers a purge hides
rows of are filtered when queried.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from localtrack._store.layout import parse_segment_name

PURGES_TABLE = "_purges"
"""The connection's table of hiding rules, one row per (purge, writer whose rows it hides)."""

PURGES_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("writer", pa.string()),
        pa.field("step", pa.int64()),
        pa.field("before", pa.timestamp("us")),
        pa.field("purged_by", pa.string()),
    ]
)

_EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True, order=True)
class Purge:
    """One hiding rule: rows of `writer` in run `run_id` with step ≥ `step` and a wall time
    before `before_us` (microseconds since the epoch) are hidden, by writer `purged_by`."""

    run_id: str
    writer: str
    step: int
    before_us: int
    purged_by: str


@dataclass(frozen=True)
class EventRow:
    """The fields of an `events` row the rule needs (`wall_us`: microseconds since the epoch)."""

    run_id: str
    writer: str
    kind: str
    wall_us: int
    payload: str | None


def purge_step(payload: str | None) -> int | None:
    """The step of a `purge` event's payload `{"step": N}`, or None when it is not one."""
    try:
        data = json.loads(payload or "")
    except ValueError:
        return None
    step = data.get("step") if isinstance(data, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def rules(events: Iterable[EventRow]) -> list[Purge]:
    """The hiding rules of the `events` rows of any number of runs, sorted, each once."""
    starts: dict[tuple[str, str], int] = {}
    purges: list[tuple[EventRow, int]] = []
    for e in events:
        if e.kind == "start":
            key = (e.run_id, e.writer)
            starts[key] = min(e.wall_us, starts.get(key, e.wall_us))
        elif e.kind == "purge":
            step = purge_step(e.payload)
            if step is not None:
                purges.append((e, step))
    out: set[Purge] = set()
    for p, step in purges:
        began = starts.get((p.run_id, p.writer), p.wall_us)
        for (run, writer), start in starts.items():
            if run == p.run_id and writer != p.writer and start < began:
                out.add(Purge(run, writer, step, p.wall_us, p.writer))
    return sorted(out)


def events_of(table: pa.Table) -> list[EventRow]:
    """EventRows of an Arrow table with the `events` columns (wall_time as timestamp[us])."""
    wall = table["wall_time"].cast(pa.int64()).to_pylist()
    return [
        EventRow(r, w, k, t, p)
        for r, w, k, t, p in zip(
            table["run_id"].to_pylist(),
            table["writer"].to_pylist(),
            table["kind"].to_pylist(),
            wall,
            table["payload"].to_pylist(),
            strict=True,
        )
        if t is not None and k is not None
    ]


def multi_writer_runs(event_files: Sequence[Path]) -> list[Path]:
    """The `events` files of runs whose `events` folder holds files of two writers or more.

    A purge hides only other writers' rows, so a run of one writer never needs its events read.
    """
    writers: dict[str, set[str]] = {}
    runs = []
    for path in event_files:  # string work only: this runs on every connect()
        text = str(path)
        run = os.path.dirname(os.path.dirname(text))
        writers.setdefault(run, set()).add(os.path.basename(text).partition("-")[0])
        runs.append(run)
    return [p for p, run in zip(event_files, runs, strict=True) if len(writers[run]) > 1]


def rules_table(found: Sequence[Purge]) -> pa.Table:
    """The rules as the connection's `_purges` table."""
    return pa.table(
        {
            "run_id": [p.run_id for p in found],
            "writer": [p.writer for p in found],
            "step": [p.step for p in found],
            "before": pa.array([p.before_us for p in found], pa.int64()).cast(pa.timestamp("us")),
            "purged_by": [p.purged_by for p in found],
        },
        schema=PURGES_SCHEMA,
    )


def connection_rules(con: duckdb.DuckDBPyConnection) -> list[Purge]:
    """The rules a connection made by connect() holds in its `_purges` table."""
    rows = con.sql(
        f"SELECT run_id, writer, step, epoch_us(before), purged_by FROM {PURGES_TABLE}"
    ).fetchall()
    return [Purge(r, w, int(s), int(t), b) for r, w, s, t, b in rows]


def affected(
    paths: Sequence[Path], found: Sequence[Purge], run_ids: Mapping[Path, str]
) -> list[bool]:
    """For each segment path, whether a rule may hide some of its rows (its run and writer)."""
    return of_writers(paths, {(p.run_id, p.writer) for p in found}, run_ids)


def of_writers(
    paths: Sequence[Path], writers: set[tuple[str, str]], run_ids: Mapping[Path, str]
) -> list[bool]:
    """For each segment path, whether its (run_id, writer) is one of `writers`."""
    out = []
    for path in paths:
        name = parse_segment_name(path.name)
        run_id = run_ids.get(path.parent.parent)
        out.append(name is not None and (run_id, name.writer) in writers)
    return out


def timestamp_sql(us: int) -> str:
    """A TIMESTAMP literal for microseconds since the epoch."""
    return f"TIMESTAMP '{(_EPOCH + dt.timedelta(microseconds=us)).isoformat(sep=' ')}'"


def hidden_sql(found: Sequence[Purge]) -> str:
    """A SQL condition, true for the rows the rules hide (FALSE when there are none)."""
    if not found:
        return "FALSE"
    terms = [
        f"(run_id = {_quote(p.run_id)} AND writer = {_quote(p.writer)} "
        f"AND step >= {p.step} AND wall_time < {timestamp_sql(p.before_us)})"
        for p in found
    ]
    return "(" + " OR ".join(terms) + ")"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
