"""`localtrack rm RUN`: delete one run directory, after asking (or with --yes)."""

from __future__ import annotations

import argparse
import shutil
import sys

from localtrack._cli.resolve import resolve_run
from localtrack._errors import UsageError
from localtrack._store.layout import runs_root
from localtrack._store.runs import run_status


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "rm",
        help="delete a run (asks first)",
        description="Delete a run directory and everything in it, after asking.",
    )
    p.add_argument("run_ref", metavar="RUN", help="run id, unique id prefix, name, or path")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask (for scripts)")
    p.add_argument("--force", action="store_true", help="delete even a run that is running")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    entry = resolve_run(runs_root(args.root), args.run_ref)
    status = run_status(entry.path)
    if status == "running" and not args.force:
        raise UsageError(f"run {entry.marker['run_id']} is running; stop it first, or pass --force")
    label = f"{entry.marker['run_id']} ({entry.marker.get('project')}/{entry.marker.get('name')})"
    if not args.yes:
        print(f"Delete run {label} at {entry.path}? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("not deleted", file=sys.stderr)
            return 1
    shutil.rmtree(entry.path)
    print(f"deleted run {label}", file=sys.stderr)
    return 0
