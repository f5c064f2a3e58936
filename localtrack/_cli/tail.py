"""`localtrack tail RUN`: print a run's newest scalars, then follow new ones as they are sealed.

Rows are recognised as new by their writer and segment sequence number (kept through
compaction), so each is printed once. Following stops when the run is no longer running.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO

import duckdb
import pyarrow as pa

from localtrack._cli import render
from localtrack._cli.resolve import resolve_run
from localtrack._query.connect import run_with_retry
from localtrack._query.views import quote
from localtrack._store.layout import runs_root


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "tail",
        help="follow a run's scalars live, as tail -f does",
        description="Print the last scalars of RUN, then new ones as training logs them, until "
        "the run stops (or Ctrl-C).",
    )
    p.add_argument("run_ref", metavar="RUN", help="run id, unique id prefix, name, or path")
    p.add_argument("-n", "--lines", type=int, default=10, help="rows to print first (default 10)")
    p.add_argument("--tag", help="only this tag (a LIKE pattern: 'Loss/%%')")
    p.add_argument("--no-follow", action="store_true", help="print the last rows and exit")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between looks (0.5)")
    p.set_defaults(run=run)


def new_rows_query(seen: dict[str, int], tag: str | None, limit: int | None) -> str:
    """Scalars sealed after the highest sequence number seen per writer."""
    cases = " ".join(f"WHEN {quote(w)} THEN {s}" for w, s in seen.items())
    newer = f"seq > CASE writer {cases} ELSE -1 END" if seen else "TRUE"
    tag_filter = f" AND tag LIKE {quote(tag)}" if tag else ""
    columns = ("wall_time", "writer", "seq", "step")
    order = ", ".join(columns)
    newest_first = ", ".join(f"{c} DESC" for c in columns)
    inner = (
        f"SELECT wall_time, step, tag, value, writer, seq FROM scalars WHERE {newer}{tag_filter}"
    )
    if limit is None:
        return f"{inner} ORDER BY {order}"
    return f"SELECT * FROM ({inner} ORDER BY {newest_first} LIMIT {limit}) ORDER BY {order}"


def status_of(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT any_value(status) FROM runs").fetchone()
    return str(row[0]) if row and row[0] else "running"


def first_look(
    con: duckdb.DuckDBPyConnection, tag: str | None, lines: int
) -> tuple[pa.Table, dict[str, int], str]:
    """The last `lines` rows, the newest sequence number of each writer, and the status."""
    rows = con.sql(new_rows_query({}, tag, lines)).arrow().read_all()
    seen = dict(con.execute("SELECT writer, max(seq) FROM scalars GROUP BY writer").fetchall())
    return rows, seen, status_of(con)


def next_look(
    con: duckdb.DuckDBPyConnection, seen: dict[str, int], tag: str | None
) -> tuple[pa.Table, str]:
    return con.sql(new_rows_query(seen, tag, None)).arrow().read_all(), status_of(con)


def print_rows(rows: pa.Table, seen: dict[str, int], out: IO[str]) -> None:
    for wall, step, tag, value, writer, seq in render.rows_of(rows):
        seen[writer] = max(seq, seen.get(writer, -1))
        print(f"{render.cell(wall)}  {step:>8}  {tag}  {render.cell(value)}", file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    entry = resolve_run(runs_root(args.root), args.run_ref)
    rows, seen, status = run_with_retry(
        entry.path, lambda con: first_look(con, args.tag, max(args.lines, 0))
    )
    print_rows(rows, seen, sys.stdout)
    while not args.no_follow:
        time.sleep(args.interval)
        rows, status = run_with_retry(entry.path, lambda con: next_look(con, seen, args.tag))
        print_rows(rows, seen, sys.stdout)
        if status != "running" and rows.num_rows == 0:
            break
    return 0
