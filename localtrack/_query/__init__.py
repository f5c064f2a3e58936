"""The query side: read-only DuckDB views over every run of a store (docs/QUERY.md)."""

from __future__ import annotations

from localtrack._query.compact import CompactionReport, compact
from localtrack._query.connect import connect, sql
from localtrack._query.result import QueryResult

__all__ = ["CompactionReport", "QueryResult", "compact", "connect", "sql"]
