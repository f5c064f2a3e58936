"""What a run says about itself, read from its store: MLflow tags, params, end time, activity.

Pure reads of the run directory (marker, `events`, `config`, writer leases); the
uploader decides what to send. Whether a run is still live is judged with the daemon's own
observations of its leases (LEASES), so no wall-clock jump marks a live run KILLED.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from localtrack._store.layout import MARKER_NAME, WRITERS_DIR
from localtrack._store.liveness import LeaseWatch
from localtrack._store.marker import Marker
from localtrack._store.runs import LEASE_STALE_SECS, run_status
from localtrack._store.segments import read_stream

from . import encode

RUN_ID_TAG = "localtrack.run_id"
"""The MLflow run tag holding the local run id: how a run is found before one is created."""


def run_tags(marker: Marker, run_dir: Path, events: pa.Table | None) -> list[tuple[str, str]]:
    """The MLflow tags of a run: its identity, and what its first writer's start event says."""
    m = marker
    tags = {
        RUN_ID_TAG: m["run_id"],
        "localtrack.project": m["project"],
        "localtrack.dir": run_dir.name,
        "localtrack.api": m.get("api", ""),
    }
    start = start_payload(events)
    for src, dst in (
        ("host", "localtrack.host"),
        ("group", "localtrack.group"),
        ("job_type", "localtrack.job_type"),
        ("notes", "mlflow.note.content"),
    ):
        if start.get(src):
            tags[dst] = str(start[src])
    tags.update(source_tags(start))
    git = start.get("git") or {}
    if isinstance(git, dict) and git.get("commit"):
        tags["mlflow.source.git.commit"] = str(git["commit"])
    user_tags = start.get("tags")
    if isinstance(user_tags, list) and user_tags:
        tags["localtrack.tags"] = ",".join(map(str, user_tags))
    return [(k, encode.truncate(v, encode.MAX_TAG_VALUE_CHARS)[0]) for k, v in tags.items()]


COMMAND_TAG = "localtrack.command"


def source_tags(start: dict[str, Any]) -> dict[str, str]:
    """Who ran what, as MLflow's client records it: `mlflow.user`, `mlflow.source.name` (the
    script's path), `mlflow.source.type` (LOCAL); the full command line in COMMAND_TAG."""
    tags = {}
    if start.get("user"):
        tags["mlflow.user"] = str(start["user"])
    argv = start.get("argv")
    argv = [str(a) for a in argv] if isinstance(argv, list) else []
    source = start.get("script") or (argv[0] if argv else None)
    if source:
        tags["mlflow.source.name"] = str(source)
        tags["mlflow.source.type"] = "LOCAL"
    command = start.get("command")
    command = [str(a) for a in command] if isinstance(command, list) and command else argv
    if command:
        tags[COMMAND_TAG] = shlex.join(command)
    return tags


def local_params(run_dir: Path) -> dict[str, str]:
    """Config (current value of each key), flattened, as MLflow param values.

    `add_hparams` trials are runs of their own (trials.py), not params of the run."""
    params: dict[str, str] = {}
    cfg = read_stream(run_dir, "config")
    if cfg is not None:
        rows = cfg.select(["key", "value", "wall_time", "seq"]).to_pylist()
        rows.sort(key=lambda r: (r["wall_time"], r["seq"]))
        for r in rows:
            params.update(config_params(r["key"], r["value"]))
    return params


LEASES = LeaseWatch(LEASE_STALE_SECS)
"""The daemon's memory of every lease it saw: a writer elsewhere is gone only once its lease
stayed unchanged for LEASE_STALE_SECS of this process's monotonic clock (a wall-clock jump
never turns a live run into a KILLED one)."""

HEARTBEATS = LeaseWatch(0.0)
"""How long the daemon has seen a crashed run's newest heartbeat unchanged (its grace)."""


def local_status(run_dir: Path, watch: LeaseWatch = LEASES) -> str:
    """The run's status as the daemon judges it: run_status with its own lease observations."""
    return run_status(run_dir, watch=watch)


def last_activity(run_dir: Path, created_at: float) -> float:
    """When a writer of the run last touched its lease (the marker's time when none did)."""
    return _newest_lease(run_dir, created_at)[1]


def _newest_lease(run_dir: Path, created_at: float) -> tuple[Path, float]:
    newest = (run_dir / MARKER_NAME, created_at)
    for p in (run_dir / WRITERS_DIR).glob("*.lease"):
        try:
            mtime = p.stat().st_mtime
        except FileNotFoundError:
            continue
        if mtime >= newest[1]:
            newest = (p, mtime)
    return newest


def crash_end_ms(
    run_dir: Path,
    created_at: float,
    grace_s: float,
    watch: LeaseWatch = HEARTBEATS,
    now: float | None = None,
) -> int | None:
    """The end time (ms) to give a crashed run once `grace_s` passed since its last
    heartbeat, else None (not yet). The grace counts on the wall clock or, whichever is
    longer, on the daemon's monotonic clock since it first saw that heartbeat, so a clock set
    back delays KILLED by at most `grace_s`, never by the size of the jump."""
    path, last = _newest_lease(run_dir, created_at)
    quiet = max((time.time() if now is None else now) - last, watch.unchanged_for(path, last))
    return int(last * 1000) if quiet >= grace_s else None


def config_params(key: str, json_text: str) -> dict[str, str]:
    """One config row as params: a JSON object value is flattened under its key with `/`."""
    try:
        value = json.loads(json_text)
    except ValueError:
        return {key: json_text}
    if isinstance(value, dict) and value:
        flat = encode.flatten(value, key)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in flat.items()}
    return {key: encode.param_value(json_text)}


def start_payload(events: pa.Table | None) -> dict[str, Any]:
    if events is None:
        return {}
    for row in events.select(["kind", "payload"]).to_pylist():
        if row["kind"] == "start" and row["payload"]:
            try:
                data = json.loads(row["payload"])
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    return {}


def finish_ms(events: pa.Table | None) -> int | None:
    if events is None:
        return None
    times = [
        r["wall_time"]
        for r in events.select(["kind", "wall_time"]).to_pylist()
        if r["kind"] == "finish"
    ]
    if not times:
        return None
    return int(max(times).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
