"""`localtrack sync --status`: one line per run, from its sync state and its store, read-only."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from localtrack._store.layout import live_segments
from localtrack._store.marker import read_marker
from localtrack._store.runs import find_runs
from localtrack._store.segments import list_segments

from .artifacts import IMAGE_STREAM, TABLE_STREAMS
from .lock import holder_now
from .points import METRIC_STREAMS, pending_segments
from .state import SyncState, broken_files, digest, load_state, read_state, state_path


@dataclass(frozen=True)
class RunReport:
    run_dir: Path
    run_id: str
    pending_points: int
    status: str
    """synced | pending | never synced | needs a person | retry later."""
    detail: str
    pending_files: int = 0
    holder: str = ""
    """Who holds the run's lock now, as `sync --status` shows it ("": nobody)."""

    def line(self) -> str:
        text = f"{self.run_id}  {self.status}"
        if self.pending_points:
            text += f"  {self.pending_points} points pending"
        if self.pending_files:
            text += f"  {self.pending_files} files pending"
        if self.detail:
            text += f"  ({self.detail})"
        return f"{text}  {self.run_dir}"


def pending_points(run_dir: Path, uri: str, run_id: str) -> int:
    """Rows of metric streams the remote does not hold yet (an upper bound for hparams)."""
    state = load_state(run_dir, uri, run_id)
    total = 0
    for stream in METRIC_STREAMS:
        progress = state.streams.get(stream, {})
        for name in pending_segments(run_dir, stream, progress):
            try:
                total += pq.ParquetFile(run_dir / stream / name.filename).metadata.num_rows
            except FileNotFoundError:
                continue
            p = progress.get(name.writer)
            if p is not None:
                total -= sum(n for s, n in p.partial.items() if name.lo <= s <= name.hi)
    return total


def pending_files(run_dir: Path, uri: str, run_id: str) -> int:
    """Image segments and other streams' files whose artifacts the remote lacks."""
    state = load_state(run_dir, uri, run_id)
    count = len(pending_segments(run_dir, IMAGE_STREAM, state.streams.get(IMAGE_STREAM, {})))
    for stream in TABLE_STREAMS:
        names = live_segments(list_segments(run_dir / stream))
        if names and state.artifacts.get(stream) != digest([n.filename for n in names]):
            count += len(names)
    return count


def state_warning(run_dir: Path, uri: str, run_id: str) -> str:
    """Why the run's state is not trusted now, or which untrusted file it replaced ("": none)."""
    found = read_state(run_dir, uri, run_id)
    if isinstance(found, str):
        return f"warning: sync state not trusted: {found}; the next sync sets it aside"
    kept = broken_files(run_dir, uri)
    if not kept:
        return ""
    why = {a.file: a.why for a in found.set_aside} if isinstance(found, SyncState) else {}
    reason = why.get(kept[-1].name, "it could not be trusted")
    return f"warning: sync state set aside ({reason}), kept as {kept[-1].name}"


def report(run_dir: Path, uri: str) -> RunReport:
    run_id = read_marker(run_dir)["run_id"]
    out = _report(run_dir, uri, run_id)
    holder = lock_note(run_dir, uri)
    notes = [n for n in (out.detail, holder, state_warning(run_dir, uri, run_id)) if n]
    detail = "; ".join(notes)
    if detail == out.detail:
        return out
    return RunReport(
        out.run_dir, run_id, out.pending_points, out.status, detail, out.pending_files, holder
    )


def lock_note(run_dir: Path, uri: str) -> str:
    """Who is uploading the run now ("" when nobody holds its lock)."""
    found = holder_now(run_dir, uri)
    if found is None:
        return ""
    holder, valid = found
    since = time.strftime("%H:%M:%S", time.localtime(holder.since)) if holder.since else "?"
    if not valid:
        return f"stale lock of {holder.describe()} (since {since}): the next syncer takes it over"
    return f"being uploaded by {holder.describe()}, since {since}"


def _report(run_dir: Path, uri: str, run_id: str) -> RunReport:
    state = load_state(run_dir, uri, run_id)
    pending = pending_points(run_dir, uri, run_id)
    files = pending_files(run_dir, uri, run_id)
    if state.problem is not None:
        status = "needs a person" if state.problem.kind == "needs_person" else "retry later"
        return RunReport(run_dir, run_id, pending, status, state.problem.message, files)
    if state.conflicts:
        why = "; ".join(state.conflicts.values())
        return RunReport(run_dir, run_id, pending, "needs a person", why, files)
    if not state_path(run_dir, uri).exists():
        return RunReport(run_dir, run_id, pending, "never synced", "", files)
    status = "pending" if pending or files else "synced"
    detail = f"MLflow run {state.mlflow_run_id}, {state.status or 'RUNNING'}"
    return RunReport(run_dir, run_id, pending, status, detail, files)


def report_all(root: Path, uri: str) -> list[RunReport]:
    return [report(d, uri) for d in find_runs(root)]
