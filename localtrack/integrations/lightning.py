"""Lightning's logger for localtrack: `Trainer(logger=LocaltrackLogger())`; one run per fit, any DDP.

`LocaltrackLogger` is a `lightning.pytorch.loggers.Logger` (so also a Fabric logger) and keeps
Lightning's logger contract: `version` is the run id, fixed when the logger is made, so
checkpoints land in `<save_dir>/<name>/<version>/checkpoints`, which is the run's own folder;
`experiment` is the `Run` on global rank 0 and Lightning's dummy elsewhere; `save()` costs
nothing (rows are sealed by the writer thread); `finalize("failed")` marks the run failed.
Under DDP every rank gets the same run id (pickled with the logger under `ddp_spawn`, through
`$LOCALTRACK_RUN_ID` for the ranks Lightning starts as new processes) and only rank 0 creates
the run: one local run per fit, never one per rank.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.fabric.utilities.logger import (
    _add_prefix,
    _convert_params,
    _sanitize_callable_params,
)
from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.utilities import _scan_checkpoints
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn

from localtrack._store.layout import runs_root
from localtrack._store.marker import new_run_id
from localtrack._writer.run import Run
from localtrack.integrations._steps import log_at

RUN_ID_ENV = "LOCALTRACK_RUN_ID"
"""Set by rank 0's logger; the ranks Lightning launches as new processes read it."""

_CHECKPOINT_FIELDS = ("monitor", "mode", "save_last", "save_top_k", "save_weights_only")


def _launched_rank() -> bool:
    """Whether this process is a non-zero rank started by a launcher (its env says so)."""
    return any(os.environ.get(k, "0") not in ("", "0") for k in ("RANK", "LOCAL_RANK"))


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a checkpoint score or field (tensors become numbers)."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (RuntimeError, ValueError):
            return str(value)
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


class LocaltrackLogger(Logger):  # type: ignore[misc]
    """Log a Lightning Trainer (or Fabric) to a localtrack run.

    Args:
        project: the run's project (the folder under the runs root); Lightning's `name`.
        name: the run's display name.
        save_dir: the runs root (default `$LOCALTRACK_DIR`, else `./runs`).
        version: the run id; give an existing one to continue that run.
        prefix: joined to every metric key with "-" (Lightning's `LOGGER_JOIN_CHAR`).
        log_model: as WandbLogger: True copies the checkpoints into the run's `files/` at the
            end of training, "all" whenever one is saved, False (default) never.
        log_graph: as TensorBoardLogger: record the model's graph when Lightning asks
            (`example_input_array` traced with torch.jit); off by default.
        **init_kwargs: passed to `localtrack.init` (config=, tags=, notes=, group=, …).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        version: str | None = None,
        prefix: str = "",
        log_model: bool | str = False,
        log_graph: bool = False,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            raise ValueError(f"log_model must be True, False or 'all', got {log_model!r}")
        if version is None:
            version = os.environ.get(RUN_ID_ENV) if _launched_rank() else None
        if version is None:
            version = new_run_id()
            if not _launched_rank():
                os.environ[RUN_ID_ENV] = version  # inherited by the ranks started after this
        self._project = project or os.environ.get("WANDB_PROJECT") or "uncategorized"
        self._run_name = name
        self._save_dir = str(runs_root(save_dir))
        self._version: str = version
        self._prefix = prefix
        self._log_model = log_model
        self._log_graph = log_graph
        self._init_kwargs = init_kwargs
        self._experiment: Run | None = None
        self._checkpoint_callbacks: dict[int, Any] = {}
        self._recorded_time: dict[str, float] = {}  # checkpoint path -> mtime, as recorded
        self._logged_model_time: dict[str, float] = {}  # the same, as copied (log_model)

    # ---- the contract's names and folders ----------------------------------------------

    @property
    def name(self) -> str:
        """The project: the folder under `save_dir` that holds the run."""
        return self._project

    @property
    def version(self) -> str:
        """The run id, the same on every rank and fixed before `experiment` is first used."""
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        return os.path.join(self._save_dir, self._project)

    @property
    def log_dir(self) -> str:
        """The run's directory (checkpoints land in its `checkpoints/`)."""
        return os.path.join(self.root_dir, self._version)

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The localtrack `Run` (on global rank 0; Lightning's dummy on the others)."""
        if self._experiment is None or self._experiment._closed:
            import localtrack

            self._experiment = localtrack.init(
                project=self._project,
                name=self._run_name,
                dir=self._save_dir,
                id=self._version,
                **self._init_kwargs,
            )
        return self._experiment

    # ---- logging -------------------------------------------------------------------------

    @rank_zero_only  # type: ignore[misc]
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        metrics = _add_prefix(dict(metrics), self._prefix, self.LOGGER_JOIN_CHAR)
        log_at(self.experiment, metrics, step)

    @rank_zero_only  # type: ignore[misc]
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Hyper-parameters (a Namespace, a dict, nested dicts) go to the run's config."""
        params = _sanitize_callable_params(_convert_params(params))
        self.experiment.config.update(params, allow_val_change=True)

    @rank_zero_only  # type: ignore[misc]
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """With log_graph=True: the model's op graph, traced with torch.jit (by default on
        `example_input_array`); Lightning calls this when fit, validate or test starts."""
        from localtrack._writer.graph import graph_payload
        from localtrack._writer.values import BadValue

        if not self._log_graph:
            return
        if input_array is None:
            input_array = getattr(model, "example_input_array", None)
        if input_array is None:
            rank_zero_warn(
                "Could not log the computational graph since neither `model.example_input_array`"
                " nor `input_array` was given"
            )
            return
        core = self.experiment._core
        try:
            payload = graph_payload(model, input_array, True)
        except BadValue as exc:
            core.warn("graph", "graph", str(exc))
            return
        core.put("graphs", (type(model).__name__ or "graph", 0, time.time(), payload))

    def save(self) -> None:
        """Lightning calls this after every log: nothing to do, the writer thread seals rows."""

    @rank_zero_only  # type: ignore[misc]
    def finalize(self, status: str) -> None:
        """ "success": checkpoints of log_model=True are kept; "failed" marks the run failed.

        The run stays open after a successful fit, so a later `trainer.test()` logs into it; it
        is finished at exit (or by `logger.experiment.finish()`)."""
        if self._experiment is None or self._experiment._closed:
            return
        if status == "success":
            for callback in self._checkpoint_callbacks.values():
                self._scan_checkpoints(callback)
            self._experiment._core.flush()
        elif status == "failed":
            self._experiment.finish(exit_code=1)

    # ---- checkpoints -----------------------------------------------------------------------

    @rank_zero_only  # type: ignore[misc]
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Record the checkpoint paths and scores; copy them as `log_model` says."""
        if self._log_model == "all" or (
            self._log_model is True and getattr(checkpoint_callback, "save_top_k", 1) == -1
        ):
            self._scan_checkpoints(checkpoint_callback)
            return
        if self._log_model is True:
            self._checkpoint_callbacks[id(checkpoint_callback)] = checkpoint_callback
        self._record_checkpoints(checkpoint_callback, copy=False)

    def _scan_checkpoints(self, checkpoint_callback: Any) -> None:
        self._record_checkpoints(checkpoint_callback, copy=True)

    def _record_checkpoints(self, checkpoint_callback: Any, copy: bool) -> None:
        """One `checkpoint` event per new or rewritten checkpoint file (copied if `copy`)."""
        run = self.experiment
        seen = self._logged_model_time if copy else self._recorded_time
        fields = {
            k: _plain(getattr(checkpoint_callback, k))
            for k in _CHECKPOINT_FIELDS
            if hasattr(checkpoint_callback, k)
        }
        for mtime, path, score, tag in _scan_checkpoints(checkpoint_callback, seen):
            payload = {"path": str(path), "score": _plain(score), "tag": tag, **fields}
            payload["best"] = path == getattr(checkpoint_callback, "best_model_path", None)
            if copy:
                target = Path(run.dir) / "files" / "checkpoints" / Path(path).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                payload["copied_to"] = str(target)
            seen[path] = mtime
            run._core.record("events", {"kind": "checkpoint", "payload": json.dumps(payload)})

    # ---- pickling (ddp_spawn, Trainer pickles) ----------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_experiment"] = None  # a writer (threads, files) is per process; re-joined by id
        state["_checkpoint_callbacks"] = {}
        return state
