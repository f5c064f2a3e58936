"""The query side: DuckDB views over every run of a store, read-only."""
