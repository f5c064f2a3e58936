"""`localtrack export RUN…`: a run's streams as CSV or Parquet files, or runs as TensorBoard logs.

Parquet keeps every column as stored; CSV writes lists and structs as JSON text and binary
payloads (images, audio) as base64. `--format tensorboard` writes event files, one folder per
run, that `tensorboard --logdir OUT` shows and `localtrack import tensorboard` reads back
(localtrack/_interop/tb_export.py, docs/INTEROP.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from localtrack._cli import render
from localtrack._cli.resolve import resolve_run
from localtrack._errors import UsageError
from localtrack._query.connect import run_with_retry
from localtrack._query.files import RunEntry
from localtrack._store.layout import runs_root
from localtrack._store.schema import STREAMS

EXAMPLES = """examples:
  localtrack export 3fj2k9qa                              every stream as Parquet files
  localtrack export 3fj2k9qa --format csv --out ./csv     as CSV
  localtrack export run-a run-b --format tensorboard --out ./tb
  tensorboard --logdir ./tb                               then view them in TensorBoard
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "export",
        help="write a run's streams to CSV or Parquet files, or runs as TensorBoard logs",
        description="Write each stream of RUN that has rows to OUT/<stream>.csv or .parquet; "
        "with --format tensorboard, write each RUN as TensorBoard event files in OUT/<run name> "
        "(needs the tensorboard package: pip install 'localtrack[tensorboard]').",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "run_refs",
        metavar="RUN",
        nargs="+",
        help="run id, unique id prefix, name, or path (several for --format tensorboard)",
    )
    p.add_argument("--format", choices=["csv", "parquet", "tensorboard"], default="parquet")
    p.add_argument(
        "--out",
        type=Path,
        help="folder to write into (default: ./<run_id>-export, tensorboard: ./tensorboard-export)",
    )
    p.set_defaults(run=run)


def read_streams(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    tables = {s: con.sql(f"SELECT * FROM {s}").arrow().read_all() for s in STREAMS}
    return {s: t for s, t in tables.items() if t.num_rows}


def run(args: argparse.Namespace) -> int:
    root = runs_root(args.root)
    if args.format == "tensorboard":
        return _tensorboard(args, root)
    if len(args.run_refs) > 1:
        raise UsageError(
            f"--format {args.format} exports one run ({len(args.run_refs)} given): run the "
            "command once per run, each with its own --out"
        )
    entry = resolve_run(root, args.run_refs[0])
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


def _tensorboard(args: argparse.Namespace, root: Path) -> int:
    from localtrack._interop.tb_export import export_tensorboard

    by_id: dict[str, RunEntry] = {}  # a run named twice is exported once
    for ref in args.run_refs:
        entry = resolve_run(root, ref)
        by_id.setdefault(entry.marker["run_id"], entry)
    entries = list(by_id.values())
    out: Path = args.out or Path("tensorboard-export")
    report = export_tensorboard(entries, out)
    print(report.summary(), file=sys.stderr)
    print(f"view them with: tensorboard --logdir {out}", file=sys.stderr)
    return 0
