"""Read-only DuckDB connections over a store, and queries that survive compaction and bad files.

`connect()` takes one listing of the store and returns an in-memory DuckDB connection whose
views read exactly the live files of that listing: each row once. The connection can read
those files and nothing else, and can write no file at all (external access off,
configuration locked; see docs/QUERY.md for DuckDB's one exception). It is a snapshot, kept
readable while running writers compact (pins.py): call `connect()` again to see rows sealed
since (it is cheap).

`sql()` (and the command line) run a query to completion and retry it on a fresh listing
when a file vanished under it (compaction deleted it) or turned out to be unreadable (then
it is reported and skipped, never deleted).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from localtrack._errors import UsageError
from localtrack._query import overwrite, pins, purge, views, writer_states
from localtrack._query.files import StoreListing, list_store, warn_skipped
from localtrack._query.purge_events import purge_events
from localtrack._query.readonly import ReadOnlyConnection
from localtrack._query.result import QueryResult
from localtrack._query.runs_table import live_status_table, markers_table
from localtrack._store.layout import runs_root
from localtrack._store.schema import STREAMS, TAGGED_STREAMS

T = TypeVar("T")

MAX_ATTEMPTS = 8
"""How many fresh listings a query gets before a vanishing or bad file error is raised."""

READ_ONLY_STATEMENTS = frozenset(
    {
        duckdb.StatementType.SELECT,
        duckdb.StatementType.EXPLAIN,
        duckdb.StatementType.PRAGMA,
    }
)


def build_connection(
    listing: StoreListing,
) -> tuple[duckdb.DuckDBPyConnection, Callable[[], object]]:
    """An in-memory connection with every view over `listing`, locked read-only.

    The connection owns the listing's pinned descriptors: the returned finalizer closes
    them, and runs by itself when the connection is garbage-collected.
    """
    con = duckdb.connect(":memory:")
    release = weakref.finalize(con, pins.close_all, list(listing.pinned.values()))
    listing.handed_over = True
    try:
        _create_views(con, listing)
    except BaseException:
        con.close()
        release()
        raise
    return con, release


def _create_views(con: duckdb.DuckDBPyConnection, listing: StoreListing) -> None:
    events = purge_events(con, listing)
    rules = purge.rules(events)
    repeats = overwrite.overwriters(events)
    run_ids = {run.path: run.marker["run_id"] for run in listing.runs} if rules or repeats else {}
    for stream, paths in listing.files.items():
        if not paths:
            con.register(views.empty_table_name(stream), STREAMS[stream].empty_table())
        reads = [listing.read_path(p) for p in paths]
        con.execute(views.stream_view_sql(stream, reads))
        if stream in TAGGED_STREAMS:
            filtered: list[str] = []
            latest: list[str] = []
            plain = reads
            if rules or repeats:
                hit = purge.affected(paths, rules, run_ids) if rules else [False] * len(paths)
                last = purge.of_writers(paths, repeats, run_ids) if repeats else [False] * len(hit)
                sets: tuple[list[str], list[str], list[str]] = ([], [], [])
                for r, h, w in zip(reads, hit, last, strict=True):
                    sets[2 if w else 1 if h else 0].append(r)
                plain, filtered, latest = sets
            hidden = purge.hidden_sql(rules)
            con.execute(views.visible_view_sql(stream, plain, filtered, hidden, latest))
    for stream in views.KEYED_STREAMS:
        con.execute(views.keyed_view_sql(stream))
    con.register(views.MARKERS_TABLE, markers_table(listing.runs))
    con.register(views.LIVE_STATUS_TABLE, live_status_table(listing.runs))
    writer_states.register(con, listing, writer_states.EAGER_FILES)
    con.execute(views.RUNS_VIEW_SQL)
    con.register(purge.PURGES_TABLE, purge.rules_table(rules))
    con.register(overwrite.OVERWRITERS_TABLE, overwrite.overwriters_table(repeats))
    allowed = listing.allowed_paths()
    for statement in views.LOCKDOWN_SQL:
        con.execute(statement, {"paths": allowed} if "$paths" in statement else None)


def connect(
    root: str | os.PathLike[str] | None = None, *, skip: tuple[Path, ...] = ()
) -> ReadOnlyConnection:
    """A read-only DuckDB connection with a view per stream over every run under `root`.

    `root` defaults to $LOCALTRACK_DIR, then ./runs. Views: runs, scalars, histograms,
    images, texts, meshes, hparams, graphs, embeddings, pr_curves, audio, video, events,
    config, summary (docs/QUERY.md lists their columns). It is DuckDB's connection, wrapped
    so that statements and methods that could write a file are refused (readonly.py).
    """
    return ReadOnlyConnection(run_with_retry(root, lambda con: con, skip=skip, close=False))


USER_ERRORS: tuple[type[duckdb.Error], ...] = (
    duckdb.ParserException,
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.InterruptException,
    duckdb.OutOfMemoryException,
    duckdb.NotImplementedException,
)
"""Errors the query itself causes; anything else may come from a vanished or damaged file."""

FULL_CHECK_BYTES = 256 * 2**20
"""In the error path, how much of the store is re-read in full to find a damaged file."""


def _unreadable(path: Path, full: bool) -> str | None:
    """Why pyarrow cannot read `path` as Parquet (footer, or every page when `full`), or None."""
    try:
        if full:
            pq.read_table(path)
        else:
            pq.read_metadata(path)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def damaged_files(
    message: str, listing: StoreListing, named_only: bool = False
) -> tuple[list[Path], bool]:
    """The listed files that cannot be read, and whether some listed file vanished.

    Files the error names are checked first; then (unless `named_only`) every footer; then,
    within FULL_CHECK_BYTES, every page.
    """
    files = listing.all_files()
    named = listing.mentioned_in(message)
    rounds = [(named, True)] if named_only else [(named, True), (files, False), (files, True)]
    for candidates, full in rounds:
        vanished = any(not p.exists() for p in candidates)
        if vanished:
            return [], True
        budget = FULL_CHECK_BYTES
        bad: list[tuple[Path, str]] = []
        for path in candidates:
            if full:
                budget -= path.stat().st_size
                if budget < 0:
                    break
            why = _unreadable(path, full)
            if why is not None:
                bad.append((path, why))
        if bad:
            for path, why in bad:
                warn_skipped(path, why)
            return [p for p, _ in bad], False
    return [], False


def run_with_retry(
    root: str | os.PathLike[str] | None,
    work: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    skip: tuple[Path, ...] = (),
    close: bool = True,
) -> T:
    """Run `work` on a fresh connection; on a vanished or unreadable file, re-list and retry.

    The connection is closed afterwards unless `close` is false (connect() hands it out).
    """
    return run_on_listing(root, lambda con, _listing: work(con), skip=skip, close=close)


def run_on_listing(
    root: str | os.PathLike[str] | None,
    work: Callable[[duckdb.DuckDBPyConnection, StoreListing], T],
    *,
    skip: tuple[Path, ...] = (),
    close: bool = True,
) -> T:
    """run_with_retry for work that also needs the listing the connection was built on."""
    base = runs_root(root)
    skipped: set[Path] = set(skip)
    for attempt in range(MAX_ATTEMPTS):
        listing = list_store(base, skipped, pin=True)
        con: duckdb.DuckDBPyConnection | None = None
        release = None
        ok = False
        try:
            con, release = build_connection(listing)
            result = work(con, listing)
            ok = True
            return result
        except duckdb.Error as e:
            if isinstance(e, USER_ERRORS) or attempt == MAX_ATTEMPTS - 1:
                raise
            # A vanished file reads as a glob nobody may open: a PermissionException.
            only_named = isinstance(e, duckdb.PermissionException)
            bad, vanished = damaged_files(str(e), listing, only_named)
            if not bad and not vanished:
                raise
            skipped.update(bad)
            time.sleep(0.01 * attempt)
        finally:
            if con is not None and (close or not ok):
                con.close()
            if release is not None and (close or not ok):
                release()
            listing.release()  # no-op once a connection owns the descriptors
    raise AssertionError("unreachable")


def check_read_only(query: str) -> None:
    """Refuse statements other than queries (COPY, CREATE, SET …) with the fix in the message."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as e:
        raise UsageError(f"cannot parse the query: {e}") from None
    if not statements:
        raise UsageError("the query is empty")
    for s in statements:
        if s.type not in READ_ONLY_STATEMENTS:
            raise UsageError(
                f"only queries run here, not {s.type.name} statements; to save a result, use "
                "`localtrack sql --csv/--json/--parquet FILE`, or `.df()`/`.arrow()` in Python"
            )


def query_arrow(query: str, root: str | os.PathLike[str] | None = None) -> pa.Table:
    """Run one read-only query over the store to completion and return its rows."""
    check_read_only(query)

    def work(con: duckdb.DuckDBPyConnection) -> pa.Table:
        relation = con.sql(query)
        return pa.table({}) if relation is None else relation.arrow().read_all()

    return run_with_retry(root, work)


def sql(query: str, root: str | os.PathLike[str] | None = None) -> QueryResult:
    """Run `query` over every run under `root` and return its rows.

    The rows are read completely before this returns (retrying across compaction), so
    `.df()`, `.pl()`, `.arrow()`, `.fetchall()` and `.show()` on the result never touch the store.
    """
    return QueryResult(query_arrow(query, root))
