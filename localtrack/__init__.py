"""localtrack: offline-first experiment tracking for PyTorch.

Log to an append-only Parquet store (TensorBoard's SummaryWriter or W&B's init/log API),
query every run with DuckDB SQL, sync to an MLflow tracking server later. torch is optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from localtrack._query import compact, connect, sql
    from localtrack._store.layout import FORMAT_VERSION
    from localtrack._writer.media import Histogram, Image
    from localtrack._writer.run import Run, init
    from localtrack._writer.summary_writer import SummaryWriter
    from localtrack._writer.tables import Table
    from localtrack._writer.wandb_extras import login

_LAZY = {
    "compact": "localtrack._query",
    "connect": "localtrack._query",
    "sql": "localtrack._query",
    "FORMAT_VERSION": "localtrack._store.layout",
    "Histogram": "localtrack._writer.media",
    "Image": "localtrack._writer.media",
    "Run": "localtrack._writer.run",
    "init": "localtrack._writer.run",
    "SummaryWriter": "localtrack._writer.summary_writer",
    "Table": "localtrack._writer.tables",
    "login": "localtrack._writer.wandb_extras",
}
"""Public names imported on first use: `import localtrack` loads no pyarrow, DuckDB or numpy
(0.4 s), so `localtrack ui` listens at once and a training script pays only for what it uses."""

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
    "Table",
    "UsageError",
    "__version__",
    "alert",
    "compact",
    "connect",
    "define_metric",
    "finish",
    "init",
    "load_ipython_extension",
    "log",
    "login",
    "patch_tensorboard",
    "save",
    "sql",
    "ui",
    "watch",
]


def _current() -> Run | None:
    from localtrack._writer.run import current

    return current()


def _run(what: str) -> Run:
    run = _current()
    if run is None:
        raise UsageError(f"localtrack.{what} needs a run: call localtrack.init() first")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
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


def define_metric(name: str, *args: Any, **kwargs: Any) -> Any:
    """Define how a metric of the current run is summarised (see Run.define_metric)."""
    return _run("define_metric()").define_metric(name, *args, **kwargs)


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
    """Copy files into the current run's files/ folder (see Run.save)."""
    result: list[str] = _run("save()").save(glob_str, base_path, policy)
    return result


def alert(title: str, text: str, level: str | None = None, wait_duration: Any = None) -> None:
    """Record an alert in the current run and print it (see Run.alert)."""
    _run("alert()").alert(title, text, level, wait_duration)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any."""
    run = _current()
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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    # localtrack.ui is imported on first use: `import localtrack` starts no server code.
    if name == "ui":
        return importlib.import_module("localtrack.ui")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once: later lookups skip this hook
        return value
    # localtrack.config, .summary and .run follow the current run, as wandb.config does.
    if name == "run":
        return _current()
    if name in ("config", "summary"):
        return getattr(_run(name), name)
    raise AttributeError(f"module 'localtrack' has no attribute {name!r}")
