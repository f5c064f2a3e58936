"""`localtrack show RUN`: one run's metadata, config, tags and every scalar tag's last/min/max."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

import pyarrow as pa

from localtrack._cli import render
from localtrack._cli.resolve import resolve_run
from localtrack._query.connect import run_with_retry
from localtrack._query.run_facts import gather
from localtrack._store.layout import runs_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "show",
        help="show one run: metadata, config, tags and every scalar's last/min/max",
        description="Show one run. RUN is a run id (or a unique prefix), a name, or a path.",
    )
    p.add_argument("run_ref", metavar="RUN", help="run id, unique id prefix, name, or path")
    p.set_defaults(run=run)


def print_run(facts: dict[str, pa.Table], out: IO[str]) -> None:
    rows = facts["run"].to_pylist()
    info: dict[str, Any] = rows[0] if rows else {}
    metadata = json.loads(info.pop("metadata", None) or "{}")
    for key, value in info.items():
        if value not in (None, [], ""):
            print(f"{key:<11} {render.cell(value)}", file=out)
    for key in ("entity", "git", "argv", "cwd", "python", "torch", "world_size"):
        if metadata.get(key) not in (None, [], ""):
            print(f"{key:<11} {render.cell(metadata[key])}", file=out)
    for title in ("config", "summary", "scalars", "streams"):
        if facts[title].num_rows:
            print(f"\n{title}:", file=out)
            render.write_table(facts[title], out)


def run(args: argparse.Namespace) -> int:
    entry = resolve_run(runs_root(args.root), args.run_ref)
    print_run(run_with_retry(entry.path, gather), sys.stdout)
    return 0
