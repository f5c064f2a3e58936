"""`localtrack compact`: merge small segments of finished or crashed writers, with progress."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localtrack._query.compact import compact
from localtrack._store.layout import runs_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "compact",
        help="merge small segment files of writers that have stopped",
        description="Merge each stopped writer's small segments into one file per stream. "
        "Safe while training and queries run: live writers compact their own files, and "
        "queries never see a row twice.",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def progress(i: int, n: int, run_dir: Path) -> None:
        print(f"compact: [{i + 1}/{n}] {run_dir}", file=sys.stderr, flush=True)

    report = compact(runs_root(args.root), progress=progress)
    print(
        f"compacted {report.runs} runs: merged {report.merged_files} files into "
        f"{report.written_files}, removed {report.deleted_covered} already-merged files, "
        f"left {report.skipped_writers} live writers alone",
        file=sys.stderr,
    )
    return 0
