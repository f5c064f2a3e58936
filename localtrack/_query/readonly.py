"""The connection `connect()` hands out: DuckDB's own, minus every way to write a file.

DuckDB's `allowed_paths` lets a connection read the listed segment files and nothing else,
but it also lets it write them: `COPY … TO '<a listed path>'` would overwrite a segment. So
the connection is wrapped: statements that write files (COPY, EXPORT, ATTACH, and PREPARE /
EXECUTE, which could hide a COPY) and a relation's write_csv/write_parquet are refused with
the fix in the message; everything else is DuckDB's connection and relation as they are.
"""

from __future__ import annotations

from typing import Any

import duckdb

from localtrack._errors import UsageError

WRITING_STATEMENTS = frozenset(
    {
        duckdb.StatementType.COPY,
        duckdb.StatementType.COPY_DATABASE,
        duckdb.StatementType.EXPORT,
        duckdb.StatementType.ATTACH,
        duckdb.StatementType.DETACH,
        duckdb.StatementType.PREPARE,
        duckdb.StatementType.EXECUTE,
        duckdb.StatementType.LOAD,
        duckdb.StatementType.EXTENSION,
    }
)

_HOW_TO_SAVE = (
    "to save a result, use .df().to_csv(), .arrow() or `localtrack sql --csv/--json/--parquet FILE`"
)

_RELATION_WRITERS = frozenset({"write_csv", "to_csv", "write_parquet", "to_parquet"})


def check_no_writes(query: object) -> None:
    """Refuse SQL text holding a statement that could write a file."""
    if not isinstance(query, str):
        raise UsageError("the store's connection runs SQL text only")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error:
        return  # DuckDB reports the syntax error itself when the query runs
    for s in statements:
        if s.type in WRITING_STATEMENTS:
            raise UsageError(
                f"the store is read-only: {s.type.name} statements are refused here; "
                + _HOW_TO_SAVE
            )


class ReadOnlyRelation:
    """A DuckDB relation whose results may be read in any form but not written to files."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation

    def __getattr__(self, name: str) -> Any:
        if name in _RELATION_WRITERS:
            raise UsageError(f"the store is read-only: {name}() is refused here; " + _HOW_TO_SAVE)
        attr = getattr(self._relation, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in ("query", "sql"):  # relation.query(view_name, sql)
                for arg in (*args, *kwargs.values()):
                    check_no_writes(arg)
            return _wrap(attr(*args, **kwargs))

        return call

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._relation[key])

    def __len__(self) -> int:
        return len(self._relation)

    def __repr__(self) -> str:
        return repr(self._relation)

    def __str__(self) -> str:
        return str(self._relation)


class ReadOnlyConnection:
    """A DuckDB connection over the store (see localtrack.connect): every query and result
    method of DuckDB's connection works; statements that could write a file are refused."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        check_no_writes(query)
        return _wrap(self._connection.sql(query, *args, **kwargs))

    query = sql
    from_query = sql

    def execute(self, query: str, *args: Any, **kwargs: Any) -> ReadOnlyConnection:
        check_no_writes(query)
        self._connection.execute(query, *args, **kwargs)
        return self

    def executemany(self, query: str, *args: Any, **kwargs: Any) -> ReadOnlyConnection:
        check_no_writes(query)
        self._connection.executemany(query, *args, **kwargs)
        return self

    def cursor(self) -> ReadOnlyConnection:
        return ReadOnlyConnection(self._connection.cursor())

    duplicate = cursor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._connection, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: _wrap(attr(*args, **kwargs))

    def __enter__(self) -> ReadOnlyConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def __repr__(self) -> str:
        return f"<localtrack read-only {self._connection!r}>"


def _wrap(result: Any) -> Any:
    if isinstance(result, duckdb.DuckDBPyRelation):
        return ReadOnlyRelation(result)
    if isinstance(result, duckdb.DuckDBPyConnection):
        return ReadOnlyConnection(result)
    return result
