"""localtrack: offline-first experiment tracking for PyTorch.

Log to an append-only Parquet store, query every run with DuckDB SQL, sync to MLflow later.
"""

from __future__ import annotations

from localtrack._errors import (
    ClosedError,
    FormatVersionError,
    LocaltrackError,
    NeedsPerson,
    RetryLater,
    RunNotFoundError,
    SyncError,
    UsageError,
)
from localtrack._store.layout import FORMAT_VERSION

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "ClosedError",
    "FormatVersionError",
    "LocaltrackError",
    "NeedsPerson",
    "RetryLater",
    "RunNotFoundError",
    "SyncError",
    "UsageError",
    "__version__",
]
