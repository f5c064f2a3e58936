"""Import W&B runs (`wandb/offline-run-*/run-*.wandb`, and synced `run-*` folders).

Each W&B run becomes the localtrack run `<root>/<project>/<W&B run id>` (project: the W&B
run's own unless --project), with the same run id, so a resumed W&B run (a second .wandb
file of the same id) continues the same run. From the transaction log (wandb_log.py reads
its framing, wandb's Record proto each record):

- history rows → scalars (tag the key, nested keys joined with `/`), step `_step`, wall
  time `_timestamp`; strings → texts; `image-file` values → images (the PNG/JPEG file under
  the run's `files/`, width, height, channels, caption); `histogram` values → histograms
  (bucket limits the bins' right edges, counts as stored);
- the run record's config and later config records → config (nested keys flattened `/`);
- summary records → summary, the last value of each key the read covered (W&B's own `_…`
  keys and media references left out);
- run metadata (project, name, tags, notes, group, job type, entity, host, program, git,
  os, python) → the writer's start event, start time the run's; the exit record → the
  finish event (status failed when the exit code is not 0), at the last time seen.

Incremental like the TensorBoard import: `import/wandb.json` in the run holds, per .wandb
file (`<folder>/<file>`), the byte offset after the last record imported (state.py).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localtrack._errors import UsageError
from localtrack._interop.report import ImportReport, Progress
from localtrack._interop.rows import Rows, sealable
from localtrack._interop.state import (
    FileProgress,
    load_state,
    mark_done,
    ready_to_read,
    save_state,
)
from localtrack._interop.tb_runs import stable_run_id
from localtrack._interop.wandb_log import CorruptLog, LogReader
from localtrack._interop.wandb_media import histogram_payload, image_payload
from localtrack._store.layout import MARKER_NAME
from localtrack._store.marker import make_marker
from localtrack._writer.config import flatten, to_json
from localtrack._writer.core import RunWriter

SOURCE = "wandb"
CHUNK = 20_000  # records converted and sealed at a time
MISSING = (
    "`localtrack import wandb` parses W&B's transaction logs with the wandb package's own "
    "protos: install it with `pip install 'localtrack[wandb]'`"
)


def _record_class() -> Any:
    try:
        protos = importlib.import_module("wandb.proto.wandb_internal_pb2")
    except ImportError as exc:
        raise UsageError(f"{MISSING} ({exc})") from None
    return protos.Record


@dataclass
class Source:
    """One .wandb file: the W&B run it holds, and where its run folder is."""

    path: Path
    run_id: str
    project: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def files_dir(self) -> Path:
        return self.path.parent / "files"


def find_wandb_files(path: Path) -> list[Path]:
    """The `run-*.wandb` files at or under `path` (not through symlinks such as latest-run)."""
    if path.is_file():
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if MARKER_NAME in filenames:  # a localtrack run: never a source
            dirnames[:] = []
            continue
        found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".wandb")]
    return found


def import_wandb(
    paths: list[Path],
    root: Path,
    project: str | None = None,
    report: ImportReport | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import every W&B run under each of `paths` into `root`."""
    record_class = _record_class()
    report = report or ImportReport(SOURCE)
    sources = []
    for path in map(Path, paths):
        if not path.exists():
            report.errors.append(f"{path}: no such file or directory")
            continue
        files = find_wandb_files(path)
        if not files:
            report.warnings.append(f"{path}: no W&B transaction logs (run-*.wandb) found")
        for f in files:
            source = _identify(f, record_class, project, report)
            if source is not None:
                sources.append(source)
    todo = 0
    for s in sources:
        done = load_state(root / s.project / s.run_id, SOURCE).files.get(s.key, FileProgress())
        with contextlib.suppress(OSError):
            todo += max(0, s.path.stat().st_size - done.offset)
    bar = Progress(todo, enabled=progress)
    for s in sources:
        before = sum(report.points.values())
        _import_file(s, root, record_class, report, bar)
        report.runs.add(f"{s.project}/{s.run_id}")
        bar.run_done(f"{s.project}/{s.name} ({s.run_id})", sum(report.points.values()) - before)
    return report


def _identify(
    path: Path, record_class: Any, project: str | None, report: ImportReport
) -> Source | None:
    """The run a .wandb file holds, from its run record (among its first records)."""
    reader = LogReader(path, max_bytes=1 << 20)
    try:
        for i, (raw, _) in enumerate(reader.records()):
            record = record_class.FromString(raw)
            if record.WhichOneof("record_type") == "run":
                run = record.run
                run_id = run.run_id or path.stem.removeprefix("run-")
                name = run.display_name or run_id
                target = project or run.project or "uncategorized"
                return Source(path, _safe_id(run_id), target, name)
            if i > 100:
                break
    except CorruptLog as exc:
        report.errors.append(str(exc))
        return None
    if reader.corrupt is not None:
        report.errors.append(str(reader.corrupt))
    else:
        report.warnings.append(f"{path}: no run record yet (a run just starting?): skipped")
    return None


def _safe_id(run_id: str) -> str:
    ok = run_id and all(c.isalnum() or c in "-_" for c in run_id)
    return run_id if ok else stable_run_id(SOURCE, "", run_id)


@dataclass
class Context:
    """What conversion of one file's records carries from record to record."""

    source: Source
    start: float | None = None
    wall: float | None = None  # the latest time seen (history _timestamp, stats, start)
    first: float | None = None  # the earliest time of a history row or stats sample read
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    exited: bool = False
    stats_samples: int = 0  # system-metrics samples of the file before this record
    skipped: Counter[str] = field(default_factory=Counter)
    missing_media: list[str] = field(default_factory=list)


def _import_file(
    s: Source, root: Path, record_class: Any, report: ImportReport, bar: Progress
) -> None:
    run_dir = root / s.project / s.run_id
    state = load_state(run_dir, SOURCE)
    prog = state.files.setdefault(s.key, FileProgress())
    size = s.path.stat().st_size
    skip = ready_to_read(run_dir, state, prog, size)
    if skip == "unchanged":
        report.files_unchanged += 1
        return
    if skip == "shorter":
        report.warnings.append(
            f"{s.path} is shorter ({size} bytes) than what was imported ({prog.offset}): it "
            "was replaced; it is skipped"
        )
        return
    samples = state.extra.setdefault("stats_samples", {})
    ctx = Context(s, stats_samples=int(samples.get(s.key, 0)))
    reader = LogReader(s.path, prog.offset)
    writer: RunWriter | None = None
    count, offset = 0, prog.offset
    batch: list[Any] = []
    try:
        for raw, end in reader.records():
            batch.append(record_class.FromString(raw))
            if len(batch) >= CHUNK:
                writer = _write(batch, ctx, writer, run_dir, state, prog, report)
                bar.advance(end - offset, len(batch), s.path.name)
                count, offset, batch = count + len(batch), end, []
        writer = _write(batch, ctx, writer, run_dir, state, prog, report, last=True)
        bar.advance(reader.end - offset, len(batch), s.path.name)
        count += len(batch)
    except BaseException:
        if writer is not None:
            writer.close(status="failed", exit_code=1)
        raise
    if writer is not None:  # no exit record: the run still runs, or was killed
        status = ("finished" if ctx.exit_code == 0 else "failed") if ctx.exited else "killed"
        last = ctx.wall if ctx.wall is not None else ctx.start
        writer.close(status, ctx.exit_code, None if last is None else sealable(last))
    if reader.truncated:
        report.truncated += 1
        report.warnings.append(
            f"{s.path}: the last record is incomplete ({reader.truncated} bytes at offset "
            f"{reader.end}; a run still writing, or killed mid-write): the next import reads it"
        )
    if reader.corrupt is not None:
        report.errors.append(str(reader.corrupt))
    for kind, n in sorted(ctx.skipped.items()):
        report.warnings.append(f"{s.path}: {n} {kind} value(s) not imported (no stream for them)")
    report.warnings += ctx.missing_media
    samples[s.key] = ctx.stats_samples
    mark_done(prog, reader.end, count, s.path)
    save_state(run_dir, state)
    report.files_read += 1


def _write(
    batch: list[Any],
    ctx: Context,
    writer: RunWriter | None,
    run_dir: Path,
    state: Any,
    prog: FileProgress,
    report: ImportReport,
    last: bool = False,
) -> RunWriter | None:
    rows = Rows()
    for i, record in enumerate(batch):
        _convert(i, record, rows, ctx)
    if last:
        wall = ctx.wall if ctx.wall is not None else ctx.start
        for key, value in sorted(ctx.summary.items()):
            if wall is not None:
                rows.record("summary", {"key": key, "value": to_json(value), "wall_time": wall})
        ctx.summary.clear()
    has_rows = rows.scalar_index or rows.tagged or rows.records
    if writer is None and (has_rows or ctx.exited or ctx.meta):
        marker = make_marker(ctx.source.run_id, ctx.source.project, ctx.source.name, SOURCE)
        if ctx.start is not None:
            marker["created_at"] = ctx.start
        payload = {  # the importing process's pid, argv… are not the run's
            **dict.fromkeys(("pid", "argv", "command", "script", "torch", "git", "cwd")),
            **ctx.meta,
            "imported_from": SOURCE,
            "source": str(ctx.source.path.resolve()),
        }
        writer = RunWriter(
            run_dir,
            marker,
            flush_secs=3600.0,
            max_rows=1 << 20,
            start_payload=payload,
            start_wall_time=_sealed(ctx.start if ctx.meta else ctx.first),
        )
        prog.pending = writer.identity.writer
        save_state(run_dir, state)
    if writer is not None:
        rows.write(writer)
        report.points.update(rows.counts)
    return writer


def _sealed(seconds: float | None) -> float | None:
    return None if seconds is None else sealable(seconds)


def _convert(index: int, record: Any, rows: Rows, ctx: Context) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _run(record.run, rows, ctx)
    elif kind == "environment":
        _environment(record.environment, ctx)
    elif kind == "config":
        wall = ctx.wall if ctx.wall is not None else ctx.start
        _config(record.config.update, rows, wall or 0.0)
    elif kind == "history":
        _history(index, record.history, rows, ctx)
    elif kind == "summary":
        for key, value in _nested(record.summary.update).items():
            if key.startswith("_") or (isinstance(value, dict) and "_type" in value):
                continue  # W&B's own keys; a media reference (the history holds the media)
            ctx.summary.update(flatten({key: value}))
    elif kind == "exit":
        ctx.exited = True
        ctx.exit_code = int(record.exit.exit_code)
    elif kind == "stats":  # system metrics: their own time axis, the sample number
        stats = record.stats
        wall = stats.timestamp.seconds + stats.timestamp.nanos / 1e9
        _seen(ctx, wall)
        for item in stats.item:
            value = json.loads(item.value_json)
            if isinstance(value, int | float):
                rows.scalar(index, f"system/{item.key}", ctx.stats_samples, wall, float(value))
        ctx.stats_samples += 1


def _run(run: Any, rows: Rows, ctx: Context) -> None:
    if run.HasField("start_time"):
        ctx.start = run.start_time.seconds + run.start_time.nanos / 1e9
        ctx.wall = ctx.wall if ctx.wall is not None else ctx.start
    git = {"remote": run.git.remote_url or None, "commit": run.git.commit or None}
    ctx.meta.update(
        {
            "wandb_run_id": run.run_id,
            "project": run.project or None,
            "entity": run.entity or None,
            "name": run.display_name or None,
            "tags": list(run.tags),
            "notes": run.notes or None,
            "group": run.run_group or None,
            "job_type": run.job_type or None,
            "host": run.host or ctx.meta.get("host"),
            "git": git if git["commit"] or git["remote"] else ctx.meta.get("git"),
        }
    )
    _config(run.config.update, rows, ctx.start or 0.0)


def _environment(env: Any, ctx: Context) -> None:
    git = {"remote": env.git.remote_url or None, "commit": env.git.commit or None}
    found = {
        "script": env.program or None,
        "program": env.program or None,
        "code_path": env.code_path or None,
        "os": env.os or None,
        "python": env.python or None,
        "executable": env.executable or None,
        "cwd": env.root or None,
        "user": env.username or None,
        "argv": list(env.args) or None,
        "command": [env.executable, *env.args] if env.executable else None,
        "host": env.host or None,
        "git": git if git["commit"] or git["remote"] else None,
    }
    for key, value in found.items():
        if value is not None and not ctx.meta.get(key):
            ctx.meta[key] = value
    if ctx.start is None and env.HasField("started_at"):
        ctx.start = env.started_at.seconds + env.started_at.nanos / 1e9


def _config(updates: Any, rows: Rows, wall: float) -> None:
    for item in updates:
        path = list(item.nested_key) or [item.key]
        if path[0] == "_wandb":
            continue
        value = json.loads(item.value_json)
        for key, v in flatten({"/".join(path): value}).items():
            rows.record("config", {"key": key, "value": to_json(v), "wall_time": wall})


def _item_value(item: Any) -> Any:
    if item.value_json:
        return json.loads(item.value_json)
    kind = item.WhichOneof("value")
    if kind is None or kind == "none":
        return None
    value = getattr(item, kind)
    return json.loads(value) if kind == "json" else value


def _seen(ctx: Context, wall: float) -> None:
    ctx.wall = wall if ctx.wall is None else max(ctx.wall, wall)
    ctx.first = wall if ctx.first is None else min(ctx.first, wall)


def _nested(items: Any) -> dict[str, Any]:
    """Items keyed by a key or a nested key path (a media value's fields) as one dict."""
    row: dict[str, Any] = {}
    for item in items:
        path = list(item.nested_key) or [item.key]
        node = row
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _item_value(item)
    return row


def _history(index: int, history: Any, rows: Rows, ctx: Context) -> None:
    row = _nested(history.item)
    step = row.get("_step")
    step = int(step) if isinstance(step, int | float) else int(history.step.num)
    stamp = row.get("_timestamp")
    wall = float(stamp) if isinstance(stamp, int | float) else ctx.wall
    if wall is None:
        wall = ctx.start or 0.0
    _seen(ctx, wall)
    for key, value in row.items():
        if not key.startswith("_"):
            _value(index, key, value, step, wall, rows, ctx)


def _value(
    index: int, tag: str, value: Any, step: int, wall: float, rows: Rows, ctx: Context
) -> None:
    if isinstance(value, int | float):  # bools too: W&B plots them as 0 and 1
        rows.scalar(index, tag, step, wall, float(value))
    elif isinstance(value, str):
        rows.point("texts", tag, step, wall, {"text": value})
    elif isinstance(value, dict) and "_type" in value:
        kind = value["_type"]
        payload = None
        if kind == "image-file":
            payload = image_payload(value, ctx.source.files_dir, ctx.missing_media)
            stream = "images"
        elif kind == "histogram":
            payload = histogram_payload(value)
            stream = "histograms"
        if payload is not None:
            rows.point(stream, tag, step, wall, payload)
        elif kind not in ("image-file", "histogram"):
            ctx.skipped[str(kind)] += 1
    elif isinstance(value, dict):
        for key, v in value.items():
            _value(index, f"{tag}/{key}", v, step, wall, rows, ctx)
    elif value is not None:
        ctx.skipped[type(value).__name__] += 1
