"""The runs panel and the run page: /api/runs (prepared once per snapshot) and /api/run?id=.

A snapshot's runs answer is built when the snapshot is (the `runs` view joined with the
per-tag tails `localtrack runs` keeps: last step, last time), with an ETag of its bytes;
requests only send it. The run page runs the queries of `localtrack show` for one run and
takes its scalar tags' points/last/min/max from the same per-tag tails.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import duckdb
import pyarrow as pa

from localtrack._query import overwrite, purge
from localtrack._query.files import StoreListing
from localtrack._query.last_values import run_tags
from localtrack._query.run_facts import OTHER_STREAMS, gather
from localtrack._query.views import file_list_sql, quote
from localtrack._store.schema import TAGGED_STREAMS
from localtrack._ui import runs_cache
from localtrack._ui.answer import Answer, NotFound, json_answer
from localtrack._ui.snapshot import Snapshot
from localtrack._ui.static_files import etag_matches
from localtrack._ui.wire import to_json

RUNS_SQL = """
    WITH last AS (
        SELECT run_id, max(last_step) AS last_step, max(last_time) AS last_time
        FROM per_tag GROUP BY run_id
    )
    SELECT r.run_id, r.project, r.name, r.status,
        epoch_us(r.started_at) / 1e6 AS started_at, epoch_us(r.ended_at) / 1e6 AS ended_at,
        epoch(CASE WHEN r.status = 'running' THEN now() AT TIME ZONE 'UTC'
            ELSE coalesce(r.ended_at, s.last_time, r.started_at) END - r.started_at)
            AS duration_s,
        r.host, s.last_step, r.api, r.path,
        r.tags, r.notes, r."group", r.job_type, r.writers, r.metadata
    FROM runs AS r LEFT JOIN last AS s USING (run_id)
    ORDER BY r.started_at DESC, r.run_id
"""


PANEL_FIELDS = ("run_id", "project", "name", "status", "started_at", "ended_at", "duration_s",
                "host", "last_step", "api", "path")  # fmt: skip
"""The fields of /api/runs (docs/UI.md)."""
DETAIL_FIELDS = ("tags", "notes", "group", "job_type", "writers", "metadata")
"""What the run page adds to them, from the same runs view query (kept per snapshot)."""


def relative_path(path: str | None, root: str) -> str | None:
    if path is None:
        return None
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return path


TAILS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("tag", pa.string()),
        pa.field("points", pa.int64()),
        pa.field("last_step", pa.int64()),
        pa.field("last_value", pa.float64()),
        pa.field("last_time", pa.timestamp("us")),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
    ]
)
"""The columns of run_tags, for a first snapshot made without them."""


def runs_rows(con: duckdb.DuckDBPyConnection, per_tag: pa.Table) -> list[dict[str, Any]]:
    """The runs view joined with the per-tag tails (RUNS_SQL), as rows."""
    con.register("per_tag", per_tag)
    try:
        return con.sql(RUNS_SQL).arrow().read_all().to_pylist()  # type: ignore[no-any-return]
    finally:
        con.unregister("per_tag")


def prepare(con: duckdb.DuckDBPyConnection, listing: StoreListing, full: bool) -> dict[str, Any]:
    """What every request of a snapshot shares: per-tag tails, the runs answer, run states.

    Without `full` the per-tag tails are left out (`partial`), so the first snapshot of a big
    store is up at once (its last steps are null); the next one, built right after, has them.
    The rows of a full snapshot are kept for the next server over the same listing
    (runs_cache.py): its first snapshot has them, last steps included, without the query.
    """
    per_tag = run_tags(con, listing) if full else TAILS_SCHEMA.empty_table()
    root = os.path.abspath(listing.root)
    digest = runs_cache.listing_digest(listing, RUNS_SQL)
    rows = runs_cache.load(listing.root, digest) if digest is not None else None
    if rows is None:
        rows = runs_rows(con, per_tag)
        if full and digest is not None:
            runs_cache.save(listing.root, digest, rows)
    panel, details = [], {}
    for row in rows:
        row["path"] = relative_path(row["path"], root)
        panel.append({k: row[k] for k in PANEL_FIELDS})
        details[row["run_id"]] = {k: row[k] for k in DETAIL_FIELDS}
    return {
        "per_tag": per_tag,
        "runs": panel,
        "details": details,
        "states": {r["run_id"]: r["status"] for r in rows},
        "root": root,
        "purges": purge.connection_rules(con),
        "overwriters": overwrite.connection_overwriters(con),
        "partial": not full,
    }


def runs_body(snap: Snapshot) -> tuple[bytes, str]:
    """The /api/runs bytes of a snapshot and their ETag (made once, then kept)."""
    with snap.lock:
        made = snap.facts.get("runs_body")
        if made is None:
            body = to_json(
                {
                    "root": snap.facts["root"],
                    "generation": snap.generation,
                    "runs": snap.facts["runs"],
                }
            )
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            made = snap.facts["runs_body"] = (body, etag)
    return made  # type: ignore[no-any-return]


def runs_answer(snap: Snapshot, if_none_match: str | None) -> Answer:
    body, etag = runs_body(snap)
    headers = [("ETag", etag), ("Cache-Control", "no-cache")]
    if etag_matches(if_none_match, etag):
        return Answer(304, b"", headers=headers)
    return Answer(200, body, headers=headers)


def _key_values(table: pa.Table) -> list[dict[str, Any]]:
    out = []
    for row in table.to_pylist():
        value = row["value"]
        try:
            value = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            pass
        out.append({"key": row["key"], "value": value})
    return out


def _scalars(per_tag: pa.Table, run: str) -> list[dict[str, Any]]:
    mine = per_tag.filter(pa.compute.equal(per_tag.column("run_id"), run))
    rows = sorted(mine.to_pylist(), key=lambda r: r["tag"])
    return [
        {
            "tag": r["tag"],
            "points": r["points"],
            "last_step": r["last_step"],
            "last": r["last_value"],
            "min": r["min"],
            "max": r["max"],
        }
        for r in rows
    ]


def scanned(table: pa.Table) -> list[dict[str, Any]]:
    return [
        {k: r[k] for k in ("tag", "points", "last_step", "last", "min", "max")}
        for r in table.to_pylist()
    ]


def _run_source(snap: Snapshot, stream: str, run: str) -> str | None:
    """SQL reading only `run`'s files of `stream`, minus what a purge hides; None: no files.

    A W&B run that logged a key twice at one step is read through the stream's view, which
    keeps the last value (overwrite.py): such runs are few, the view reads every run's files."""
    paths = snap.streams.get(stream, {}).get(run)
    if not paths:
        return None
    if stream in TAGGED_STREAMS and run in snap.facts.get("overwriters", ()):
        return f"(SELECT * FROM {stream} WHERE run_id = {quote(run)})"
    rules = [r for r in snap.facts.get("purges", ()) if r.run_id == run]
    hidden = f" WHERE NOT coalesce({purge.hidden_sql(rules)}, FALSE)" if rules else ""
    return (
        f"(SELECT * FROM read_parquet({file_list_sql(paths)}, hive_partitioning = false, "
        f"binary_as_string = false){hidden})"
    )


def exit_code(snap: Snapshot, cur: duckdb.DuckDBPyConnection, run: str) -> int | None:
    source = _run_source(snap, "events", run)
    if source is None:
        return None
    found = cur.sql(
        f"SELECT arg_max(exit_code, wall_time) FROM {source} "
        "WHERE run_id = $id AND kind = 'finish'",
        params={"id": run},
    ).fetchall()
    return found[0][0] if found else None


def run_answer(snap: Snapshot, cur: duckdb.DuckDBPyConnection, run: str) -> Answer:
    """The run page: the snapshot's runs row, then config, summary and stream counts read
    from this run's files only (the queries of `localtrack show`, run_facts.gather)."""
    panel = next((r for r in snap.facts["runs"] if r["run_id"] == run), None)
    if panel is None:
        raise NotFound(f"no run {run!r} in this store")
    info = {k: v for k, v in panel.items() if k not in ("duration_s", "last_step")}
    info.update(snap.facts["details"][run])
    try:
        info["metadata"] = json.loads(info.get("metadata") or "{}")
    except (TypeError, ValueError):
        info["metadata"] = {}
    info["exit_code"] = exit_code(snap, cur, run)
    # The per-file tails cache counts every row: a quick snapshot has none, and a W&B run that
    # logged a key twice at one step needs the view's one value per step (overwrite.py).
    partial = snap.facts.get("partial", False) or run in snap.facts.get("overwriters", ())
    sources = {s: src for s in OTHER_STREAMS if (src := _run_source(snap, s, run)) is not None}
    facts = gather(cur, run, scalars=partial, run=False, sources=sources)
    return json_answer(
        {
            "run": info,
            "config": _key_values(facts["config"]),
            "summary": _key_values(facts["summary"]),
            "scalars": scanned(facts["scalars"])
            if partial
            else _scalars(snap.facts["per_tag"], run),
            "streams": facts["streams"].to_pylist(),
        }
    )
