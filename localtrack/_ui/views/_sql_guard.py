"""What the SQL console lets run: one read-only query, stopped at its time limit.

The snapshot's connection already reads only the store's listed files and writes no file
(`connect()`'s lockdown: external access off, configuration locked). Its cursors share one
in-memory catalog with every other request, so the console also refuses what `connect()`'s
own wrapper allows in memory: a console query is exactly one SELECT (WITH, FROM, VALUES,
DESCRIBE, SHOW, SUMMARIZE are SELECTs to DuckDB) or EXPLAIN. Nothing else reaches DuckDB:
no CREATE, SET, PRAGMA, COPY, ATTACH, INSTALL/LOAD, PREPARE. A query runs under a timer that
interrupts its cursor (`cursor.interrupt()`) when the limit passes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

import duckdb

from localtrack._query.connect import USER_ERRORS

MAX_SQL_CHARS = 16_000
"""The longest query text accepted (it travels in the URL of a GET)."""
ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class Refused(ValueError):
    """A query the console does not run, with why and what to do instead."""


def check_query(text: str) -> str:
    """The query to run (stripped), or Refused with the reason."""
    query = text.strip().rstrip(";").strip()
    if not query:
        raise Refused("the query is empty")
    if len(text) > MAX_SQL_CHARS:
        raise Refused(f"the query is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as e:
        raise Refused(first_line(e)) from None
    if len(statements) != 1:
        raise Refused("one query at a time: this console runs a single SELECT")
    kind = statements[0].type
    if kind not in ALLOWED:
        raise Refused(
            f"the store is read-only: {kind.name} statements are refused here; the console "
            "runs one SELECT (or WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"
        )
    return query


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class Limit:
    """A query's time limit: a timer that interrupts `cur` after `seconds` (start, cancel;
    or use it as a context manager). `fired` tells its interrupt from any other error."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._cur = cur
        self._timer = threading.Timer(seconds, self._stop)
        self._timer.daemon = True

    def _stop(self) -> None:
        self.fired = True
        with contextlib.suppress(duckdb.Error):  # the cursor may be closed by now
            self._cur.interrupt()

    def start(self) -> Limit:
        self._timer.start()
        return self

    def cancel(self) -> None:
        self._timer.cancel()

    def __enter__(self) -> Limit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def message(self) -> str:
        return f"the query ran past the {self.seconds:g} s limit and was stopped"


def query_error(error: Exception, limit: Limit, store_paths: Iterable[str]) -> str | None:
    """The message a person sees for a failed query, or None when the error may come from
    the store changing under it (a compacted file: the server retries on a fresh snapshot).

    `error` is DuckDB's, or the OSError pyarrow raises when a streamed result fails."""
    if limit.fired and isinstance(error, (duckdb.InterruptException, OSError)):
        return limit.message()
    if isinstance(error, USER_ERRORS):
        return first_line(error)
    message = str(error)
    if any(path in message for path in store_paths):
        return None  # a listed file vanished under the query: retry
    if isinstance(error, duckdb.PermissionException):
        return first_line(error) + " (the console reads only the store's views)"
    if isinstance(error, OSError):
        return first_line(error)
    return None
