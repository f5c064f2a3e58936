"""localtrack: offline-first experiment tracking for PyTorch.

Log to an append-only Parquet store (TensorBoard's SummaryWriter or W&B's init/log API),
query every run with DuckDB SQL, sync to an MLflow tracking server later. torch is optional.
"""

from __future__ import annotations

from typing import Any

from localtrack._errors import (
    ClosedError,
    FormatVersionError,
    LocaltrackError,
    LocaltrackWarning,
    NeedsPerson,
    RetryLater,
    RunNotFoundError,
    SyncError,
    UsageError,
)
from localtrack._query import compact, connect, sql
from localtrack._store.layout import FORMAT_VERSION
from localtrack._writer.media import Histogram, Image
from localtrack._writer.run import Run, current, init
from localtrack._writer.summary_writer import SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "ClosedError",
    "FormatVersionError",
    "Histogram",
    "Image",
    "LocaltrackError",
    "LocaltrackWarning",
    "NeedsPerson",
    "RetryLater",
    "Run",
    "RunNotFoundError",
    "SummaryWriter",
    "SyncError",
    "UsageError",
    "__version__",
    "compact",
    "connect",
    "finish",
    "init",
    "load_ipython_extension",
    "log",
    "patch_tensorboard",
    "sql",
    "ui",
    "watch",
]


def _run(what: str) -> Run:
    run = current()
    if run is None:
        raise UsageError(f"localtrack.{what} needs a run: call localtrack.init() first")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = True) -> None:
    """Log to the current run (see Run.log)."""
    _run("log()").log(data, step=step, commit=commit)


def watch(
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """Watch a model in the current run (see Run.watch)."""
    _run("watch()").watch(models, criterion, log, log_freq, idx, log_graph)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any."""
    run = current()
    if run is not None:
        run.finish(exit_code=exit_code)


def patch_tensorboard(sync_to: Run | None = None) -> None:
    """Make torch.utils.tensorboard's and tensorboardX's SummaryWriter localtrack's, even
    without the tensorboard package (see localtrack.integrations.tensorboard_patch)."""
    from localtrack.integrations.tensorboard_patch import patch_tensorboard as patch

    patch(sync_to)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext localtrack`: adds the `%localtrack --logdir DIR` magic (the dashboard inline)."""
    from localtrack._ui.notebook import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    # localtrack.ui is imported on first use: `import localtrack` starts no server code.
    if name == "ui":
        import importlib

        return importlib.import_module("localtrack.ui")
    # localtrack.config, .summary and .run follow the current run, as wandb.config does.
    if name == "run":
        return current()
    if name in ("config", "summary"):
        return getattr(_run(name), name)
    raise AttributeError(f"module 'localtrack' has no attribute {name!r}")
