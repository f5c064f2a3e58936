"""`localtrack compact`: merge small segments of finished or crashed writers, with progress."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from localtrack._query.compact import CompactionWarning, compact
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


SHOWN_ERRORS = 5
"""Folders named one by one when compaction could not write them; the rest are counted."""


def run(args: argparse.Namespace) -> int:
    def progress(i: int, n: int, run_dir: Path) -> None:
        print(f"compact: [{i + 1}/{n}] {run_dir}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompactionWarning)  # printed below, each folder
        report = compact(runs_root(args.root), progress=progress)
    for error in report.errors[:SHOWN_ERRORS]:
        print(f"compact: {error}", file=sys.stderr)
    if len(report.errors) > SHOWN_ERRORS:
        print(f"compact: … and {len(report.errors) - SHOWN_ERRORS} more", file=sys.stderr)
    print(
        f"compacted {report.runs} runs: merged {report.merged_files} files into "
        f"{report.written_files}, removed {report.deleted_covered} already-merged files, "
        f"left {report.skipped_writers} live writers alone",
        file=sys.stderr,
    )
    if report.errors and not (report.written_files or report.deleted_covered):
        print(
            "compact: nothing was merged: the store cannot be written to here "
            "(read-only mount, or another user's files); run it where the store is writable",
            file=sys.stderr,
        )
        return 1
    return 0
