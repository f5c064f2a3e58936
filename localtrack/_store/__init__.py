"""The on-disk store: run directories, streams of immutable Parquet segments (see docs/FORMAT.md)."""
