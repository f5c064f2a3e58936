"""The two ways a report is made: `localtrack ui --export` over runs of a root, and one run's
report for the sync daemon (every stream), both one self-contained HTML file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localtrack._cli.resolve import resolve_run

from .gather import Progress, ReportError, gather
from .page import render
from .store import open_snapshot


def choose_runs(root: Path, refs: Sequence[str], all_ids: Sequence[str],
                latest: int | None) -> list[str]:  # fmt: skip
    """Run ids of the runs named (id, name, path or id prefix, as `localtrack show` takes),
    else the latest `latest` runs, else every run (newest first, as the runs panel lists)."""
    if refs:
        chosen: list[str] = []
        for ref in refs:
            run_id = str(resolve_run(root, ref).marker["run_id"])
            if run_id not in all_ids:
                raise ReportError(f"run {ref!r} ({run_id}) is not readable under {root}")
            if run_id not in chosen:
                chosen.append(run_id)
        return chosen
    if not all_ids:
        raise ReportError(f"no runs under {root}; --root or LOCALTRACK_DIR names another")
    return list(all_ids[:latest] if latest else all_ids)


def export_report(
    root: Path,
    out: Path,
    refs: Sequence[str] = (),
    *,
    tags: str | None = None,
    latest: int | None = None,
    every_stream: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the report of the runs `refs` names (default: every run, or the `latest`) to
    `out` (atomically); returns its counts (runs, charts, images, bytes)."""
    snap = open_snapshot(root)
    try:
        cur = snap.con.cursor()
        try:
            ids = [str(r["run_id"]) for r in snap.facts["runs"]]
            runs = choose_runs(root, refs, ids, latest)
            if progress is not None:
                progress(f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
            payload = gather(snap, cur, runs, tags=tags, every_stream=every_stream,
                             title=f"localtrack report: {root.resolve().name}",
                             progress=progress)  # fmt: skip
        finally:
            cur.close()
    finally:
        snap.close()
    body = render(payload)
    write_atomically(out, body)
    return {
        "runs": len(payload["runs"]),
        "charts": len(payload["scalars"]),
        "images": len(payload["images"]),
        "bytes": len(body),
    }


def write_atomically(path: Path, body: bytes) -> None:
    """`body` into `path` through a temporary file beside it (no half-written report)."""
    folder = path.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o644 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run_report(run_dir: Path, run_id: str) -> bytes:
    """The report of one run, every stream in it (the daemon's `localtrack/report.html`)."""
    snap = open_snapshot(run_dir)
    try:
        cur = snap.con.cursor()
        try:
            runs = [r for r in snap.facts["runs"] if r["run_id"] == run_id]
            if not runs:
                raise ReportError(f"run {run_id} is not readable in {run_dir}")
            name = runs[0]["name"] or run_id
            payload = gather(snap, cur, [run_id], every_stream=True,
                             title=f"localtrack report: {name}")  # fmt: skip
            payload["root"] = ""
        finally:
            cur.close()
    finally:
        snap.close()
    return render(payload)
