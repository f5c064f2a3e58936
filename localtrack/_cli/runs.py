"""`localtrack runs`: every run with status, start, duration, last step and key scalars."""

from __future__ import annotations

import argparse
import sys

import duckdb
import pyarrow as pa

from localtrack._cli import render
from localtrack._query import writer_states
from localtrack._query.connect import run_on_listing
from localtrack._query.files import StoreListing
from localtrack._query.last_values import run_tags
from localtrack._query.views import quote
from localtrack._store.layout import runs_root

KEY_METRICS = 3
"""How many scalar tags `runs` shows by default."""

_PREFERRED = ("loss", "acc", "score", "reward")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "runs",
        help="list runs with status, duration, last step and key scalars",
        description="List every run under the root, newest first.",
    )
    p.add_argument("--project", help="only runs of this project")
    p.add_argument(
        "--status", choices=["running", "finished", "failed", "crashed"], help="only this status"
    )
    p.add_argument("--name", help="only runs whose name contains this text (or matches a glob)")
    p.add_argument(
        "--metric",
        action="append",
        metavar="TAG",
        help="scalar tag to show the last value of (repeat; default: a few loss/acc tags)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def where_clause(args: argparse.Namespace) -> str:
    parts = ["TRUE"]
    if args.project:
        parts.append(f"r.project = {quote(args.project)}")
    if args.status:
        parts.append(f"r.status = {quote(args.status)}")
    if args.name:
        if any(ch in args.name for ch in "*?["):
            parts.append(f"r.name GLOB {quote(args.name)}")
        else:
            parts.append(f"contains(r.name, {quote(args.name)})")
    return " AND ".join(parts)


def key_metrics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A few tags worth a column: those named like a loss or accuracy first, most common first."""
    tags = con.execute("SELECT tag FROM per_tag GROUP BY tag ORDER BY count(*) DESC, tag")
    names = [t[0] for t in tags.fetchall()]
    preferred = [t for t in names if any(p in t.lower() for p in _PREFERRED)]
    return (preferred + [t for t in names if t not in preferred])[:KEY_METRICS]


def runs_query(where: str, metrics: list[str]) -> str:
    picks_sql = "".join(
        f", any_value(last_value) FILTER (WHERE tag = {quote(m)}) AS m{i}"
        for i, m in enumerate(metrics)
    )
    chosen = "".join(
        f", s.m{i} AS {quote(m).replace(chr(39), chr(34))}" for i, m in enumerate(metrics)
    )
    return f"""
        WITH last AS (
            SELECT run_id, max(last_step) AS last_step, max(last_time) AS last_time{picks_sql}
            FROM per_tag GROUP BY run_id
        )
        SELECT r.run_id, r.project, r.name, r.status, r.started_at,
            epoch(CASE WHEN r.status = 'running' THEN now() AT TIME ZONE 'UTC'
                ELSE coalesce(r.ended_at, s.last_time, r.started_at) END - r.started_at)
                AS duration_s,
            s.last_step{chosen}
        FROM runs AS r LEFT JOIN last AS s USING (run_id)
        WHERE {where}
        ORDER BY r.started_at DESC, r.run_id
    """


def run(args: argparse.Namespace) -> int:
    def work(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> pa.Table:
        writer_states.complete(con, listing)  # every run is shown: keep every events file's facts
        con.register("per_tag", run_tags(con, listing))
        metrics = args.metric or key_metrics(con)
        return con.sql(runs_query(where_clause(args), metrics)).arrow().read_all()

    root = runs_root(args.root)
    table = run_on_listing(root, work)
    if table.num_rows == 0 and not args.json:
        where = "" if root.is_dir() else " (the folder does not exist)"
        print(
            f"no runs under {root}{where}; --root or LOCALTRACK_DIR names another", file=sys.stderr
        )
    if args.json:
        render.write_json(table)
        return 0
    durations = [
        None if s is None else render.duration(s) for s in table.column("duration_s").to_pylist()
    ]
    i = table.column_names.index("duration_s")
    table = table.set_column(i, "duration", pa.array(durations, pa.string()))
    render.write_table(table)
    return 0
