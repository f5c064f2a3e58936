"""Import TensorBoard event files into localtrack runs, incrementally and exactly once.

Each source run becomes one localtrack run (tb_runs.py names it). Each event file is read
from the byte offset its last import reached (state.py), by its own writer: the writer's
start event carries the file's first wall time, so TensorBoard's purge rule (a SessionLog
START of a resumed run hides the earlier files' rows from its step on) is applied by every
localtrack reader as docs/FORMAT.md describes. Rows are sealed and durable before the new
offset is saved; a killed import is cleaned up and redone by the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from localtrack._interop import tb_scalars
from localtrack._interop.report import ImportReport, Progress
from localtrack._interop.rows import Rows
from localtrack._interop.state import (
    FileProgress,
    load_state,
    mark_done,
    ready_to_read,
    save_state,
)
from localtrack._interop.tb_embeddings import import_embeddings
from localtrack._interop.tb_protos import load
from localtrack._interop.tb_runs import (
    SourceRun,
    find_tensorboard_runs,
    stable_run_id,
    target_dir,
)
from localtrack._interop.tb_values import EventContext, convert, finish_hparams
from localtrack._interop.tfrecord import iter_records
from localtrack._store.marker import make_marker
from localtrack._writer.core import RunWriter

SOURCE = "tensorboard"
IMPORT_FLUSH_SECS = 3600.0  # the importer seals its rows itself, chunk by chunk
IMPORT_MAX_ROWS = 1 << 20


def import_tensorboard(
    paths: Iterable[Path],
    root: Path,
    project: str = SOURCE,
    report: ImportReport | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import every TensorBoard run under each of `paths` into `root`/`project`."""
    report = report or ImportReport(SOURCE)
    runs = [run for path in paths for run in _runs_of(Path(path), report)]
    todo = sum(_unread(run, root, project) for run in runs)
    bar = Progress(todo, enabled=progress)
    for run in runs:
        before = sum(report.points.values())
        _import_run(run, root, project, report, bar)
        report.runs.add(run.name)
        bar.run_done(run.name, sum(report.points.values()) - before)
    return report


def _runs_of(path: Path, report: ImportReport) -> list[SourceRun]:
    if not path.exists():
        report.errors.append(f"{path}: no such file or directory")
        return []
    runs = find_tensorboard_runs(path)
    if not runs:
        report.warnings.append(f"{path}: no TensorBoard event files (*tfevents*) found")
    return runs


def _unread(run: SourceRun, root: Path, project: str) -> int:
    state = load_state(target_dir(root, project, run.name), SOURCE)
    total = 0
    for f in run.files:
        with contextlib.suppress(OSError):
            total += max(0, f.stat().st_size - state.files.get(f.name, FileProgress()).offset)
    return total


def _import_run(
    run: SourceRun, root: Path, project: str, report: ImportReport, bar: Progress
) -> None:
    run_dir = target_dir(root, project, run.name)
    state = load_state(run_dir, SOURCE)
    marker = make_marker(stable_run_id(SOURCE, project, run.name), project, run.name, SOURCE)
    protos = load()
    for path in run.files:
        prog = state.files.setdefault(path.name, FileProgress())
        try:
            size = path.stat().st_size
        except OSError as exc:
            report.errors.append(f"{path}: {exc}")
            continue
        skip = ready_to_read(run_dir, state, prog, size)
        if skip == "unchanged":
            report.files_unchanged += 1
            continue
        if skip == "shorter":
            report.warnings.append(
                f"{path} is shorter ({size} bytes) than what was imported ({prog.offset}): "
                "it was replaced; it is skipped. Import it into another project to keep both"
            )
            continue
        ctx = EventContext(protos, run.name)
        _import_file(path, prog, run_dir, marker, ctx, state, report, bar)
        if "embeddings" in ctx.carried:  # an export's rows as logged: not its projector files
            state.extra["embeddings_carried"] = True
            save_state(run_dir, state)
    if run_dir.exists() and not state.extra.get("embeddings_carried"):
        import_embeddings(run, run_dir, marker, state, report)


def _import_file(
    path: Path,
    prog: FileProgress,
    run_dir: Path,
    marker: Any,
    ctx: EventContext,
    state: Any,
    report: ImportReport,
    bar: Progress,
) -> None:
    writer: RunWriter | None = None
    offset, count, last_wall = prog.offset, 0, None
    try:
        for rec in iter_records(path, prog.offset):
            rows = Rows()
            fast, slow = tb_scalars.decode(rec.buf, rec.data_at, rec.length)
            rows.fast.append(fast)
            for i in slow.tolist():
                convert(i, ctx.protos.Event.FromString(rec.data(i)), rows, ctx)
            walls = _walls(fast, rows) + ([ctx.first_wall] if ctx.first_wall else [])
            if writer is None and len(rec):
                start = min(walls) if walls else None
                start = ctx.start_wall if ctx.start_wall is not None else start
                marker["created_at"] = start or marker["created_at"]
                writer = _open(run_dir, marker, path, start, ctx.start_payload)
                prog.pending = writer.identity.writer
                save_state(run_dir, state)
            if writer is not None:
                scalars = rows.scalar_columns()
                finish_hparams(rows, ctx, scalars)
                rows.write(writer, scalars)
                report.points.update(rows.counts)
                last_wall = max([*walls, *([last_wall] if last_wall else [])], default=None)
            count += len(rec)
            bar.advance(rec.end - offset, len(rec), path.name)
            offset = rec.end
            if rec.truncated:
                report.truncated += 1
                report.warnings.append(
                    f"{path}: the last record is cut short ({rec.truncated} bytes at offset "
                    f"{rec.end}; a writer killed mid-write, or still writing): skipped, the "
                    "next import reads it once it is whole"
                )
            if rec.corrupt is not None:
                report.errors.append(str(rec.corrupt))
    except BaseException:
        if writer is not None:
            writer.close(status="failed", exit_code=1)
        raise
    if writer is not None and ctx.finish is not None:  # an exported writer's own finish
        f = ctx.finish
        writer.close(f.get("status") or "finished", f.get("exit_code"), f["wall_time"])
    elif writer is not None:
        writer.close(wall_time=last_wall)
    mark_done(prog, offset, count, path)
    save_state(run_dir, state)
    report.files_read += 1


def _walls(fast: tb_scalars.FastScalars, rows: Rows) -> list[float]:
    """The first and last wall times of a batch (for the run's start and finish events)."""
    walls = [float(fast.wall.min()), float(fast.wall.max())] if len(fast.wall) else []
    walls += rows.scalar_walls
    walls += [w for points in rows.tagged.values() for _, _, w, _ in points]
    walls += [r["wall_time"] for records in rows.records.values() for r in records]
    return [w for w in walls if w > 0]


def _open(
    run_dir: Path, marker: Any, path: Path, start: float | None, payload: dict[str, Any] | None
) -> RunWriter:
    """The writer of one event file; an exported file's start payload (host, argv, git…) is
    kept as logged, with where it was imported from."""
    return RunWriter(
        run_dir,
        marker,
        flush_secs=IMPORT_FLUSH_SECS,
        max_rows=IMPORT_MAX_ROWS,
        start_payload={**(payload or {}), "imported_from": SOURCE, "source": str(path.resolve())},
        start_wall_time=start,
    )
