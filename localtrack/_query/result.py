"""The rows of a finished query, held in memory: they never touch the store again.

`localtrack.sql()` returns one. `.df()`, `.arrow()` and `.pl()` convert the Arrow table it
holds without copying where they can (much faster than a DuckDB relation's `.df()`), and
everything else a DuckDB relation offers (`.show()`, `.filter()`, `.aggregate()`, …) works
on a relation over the same rows.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa


class QueryResult:
    """Rows of a finished query: `.df()`, `.arrow()`, `.pl()`, `.fetchall()`, and any
    DuckDB relation method."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._relation: duckdb.DuckDBPyRelation | None = None

    def arrow(self) -> pa.Table:
        """The rows as a pyarrow Table."""
        return self._table

    def df(self) -> Any:
        """The rows as a pandas DataFrame."""
        return self._table.to_pandas()

    def pl(self) -> Any:
        """The rows as a polars DataFrame (needs polars installed)."""
        import polars

        return polars.from_arrow(self._table)

    def fetchall(self) -> list[tuple[Any, ...]]:
        columns = [c.to_pylist() for c in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def __len__(self) -> int:
        return int(self._table.num_rows)

    @property
    def relation(self) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over the rows, in a private in-memory database."""
        if self._relation is None:
            self._relation = duckdb.connect(":memory:").from_arrow(self._table)
        return self._relation

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.relation, name)

    def __repr__(self) -> str:
        """The rows as DuckDB prints a relation (a boxed table, long results elided)."""
        return repr(self.relation)
