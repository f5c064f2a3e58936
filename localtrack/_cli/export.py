"""`localtrack export RUN`: every stream of one run as CSV or Parquet files in a folder.

Parquet keeps every column as stored; CSV writes lists and structs as JSON text and binary
payloads (images, audio) as base64.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from localtrack._cli import render
from localtrack._cli.resolve import resolve_run
from localtrack._query.connect import run_with_retry
from localtrack._store.layout import runs_root
from localtrack._store.schema import STREAMS


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "export",
        help="write a run's streams to CSV or Parquet files",
        description="Write each stream of RUN that has rows to OUT/<stream>.csv or .parquet.",
    )
    p.add_argument("run_ref", metavar="RUN", help="run id, unique id prefix, name, or path")
    p.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    p.add_argument("--out", type=Path, help="folder to write into (default: ./<run_id>-export)")
    p.set_defaults(run=run)


def read_streams(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    tables = {s: con.sql(f"SELECT * FROM {s}").arrow().read_all() for s in STREAMS}
    return {s: t for s, t in tables.items() if t.num_rows}


def run(args: argparse.Namespace) -> int:
    entry = resolve_run(runs_root(args.root), args.run_ref)
    out: Path = args.out or Path(f"{entry.marker['run_id']}-export")
    out.mkdir(parents=True, exist_ok=True)
    tables = run_with_retry(entry.path, read_streams)
    for i, (stream, table) in enumerate(tables.items()):
        path = out / f"{stream}.{args.format}"
        if args.format == "csv":
            with open(path, "w", encoding="utf-8", newline="") as f:
                render.write_csv(table, f)
        else:
            render.write_parquet(table, path)
        print(
            f"export: [{i + 1}/{len(tables)}] {stream}: {table.num_rows} rows -> {path}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"exported {len(tables)} streams of run {entry.marker['run_id']} to {out}", file=sys.stderr
    )
    return 0
