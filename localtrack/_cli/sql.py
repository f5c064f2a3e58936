"""`localtrack sql QUERY`: run read-only SQL over every run and print or save the result."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localtrack._cli import render
from localtrack._errors import UsageError
from localtrack._query.connect import query_arrow
from localtrack._store.layout import runs_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "sql",
        help="run SQL over every run (views: runs, scalars, config, …; see docs/QUERY.md)",
        description="Run a read-only DuckDB query over every run under the root. Views: runs, "
        "scalars, histograms, images, texts, meshes, hparams, graphs, embeddings, pr_curves, "
        "audio, video, events, config, summary.",
    )
    p.add_argument("query", help="the SQL query, or - to read it from stdin")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    fmt.add_argument("--json", action="store_true", help="print a JSON array of objects")
    fmt.add_argument("--parquet", metavar="FILE", type=Path, help="write the result to FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    if not query.strip():
        raise UsageError("the query is empty")
    table = query_arrow(query, runs_root(args.root))
    if args.parquet is not None:
        render.write_parquet(table, args.parquet)
        print(f"wrote {table.num_rows} rows to {args.parquet}", file=sys.stderr)
    elif args.csv:
        render.write_csv(table)
    elif args.json:
        render.write_json(table)
    else:
        render.write_table(table)
    return 0
