"""Hugging Face Trainer callback: `Trainer(..., callbacks=[LocaltrackCallback()])` logs to a run.

`LocaltrackCallback` is a `transformers.TrainerCallback`. On the world-main process only, it
starts a run at `on_train_begin` (the TrainingArguments and the model's config go to the
run's config), logs every `on_log` at `state.global_step` with the keys HF's own loggers use
(`eval_loss` → `eval/loss`, `test_x` → `test/x`, the rest `train/…`), records each
checkpoint `on_save`, and flushes at `on_train_end`. The run stays open after training, so
a later `trainer.evaluate()` logs into it; it is finished at exit, or by `callback.finish()`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

from localtrack._writer.run import Run
from localtrack.integrations._steps import log_at


def rewrite_logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """HF's key names (transformers.integrations.integration_utils.rewrite_logs)."""
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out["eval/" + key[len("eval_") :]] = value
        elif key.startswith("test_"):
            out["test/" + key[len("test_") :]] = value
        else:
            out["train/" + key] = value
    return out


def _config_dict(obj: Any) -> dict[str, Any]:
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}


class LocaltrackCallback(TrainerCallback):  # type: ignore[misc]
    """Log a `transformers.Trainer` to localtrack.

    Args:
        project: the run's project (default `$WANDB_PROJECT`, else "uncategorized").
        **init_kwargs: passed to `localtrack.init` (dir=, name=, tags=, …); the run's name
            defaults to `TrainingArguments.run_name`.
    """

    def __init__(self, project: str | None = None, **init_kwargs: Any) -> None:
        self._project = project
        self._init_kwargs = init_kwargs
        self.run: Run | None = None

    def _setup(self, args: Any, state: Any, model: Any = None) -> Run:
        if self.run is None or self.run._closed:
            import localtrack

            kwargs = dict(self._init_kwargs)
            run_name = getattr(args, "run_name", None)
            if run_name and run_name != getattr(args, "output_dir", None):
                kwargs.setdefault("name", run_name)
            self.run = localtrack.init(project=self._project, **kwargs)
            model_config = _config_dict(getattr(model, "config", None))
            self.run.config.update({**model_config, **_config_dict(args)}, allow_val_change=True)
        return self.run

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero:
            self._setup(args, state, model)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Any = None, model: Any = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run = self._setup(args, state, model)
        log_at(run, rewrite_logs(logs), state.global_step)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero or self.run is None or self.run._closed:
            return
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        payload = {
            "path": path,
            "step": state.global_step,
            "best_model_checkpoint": state.best_model_checkpoint,
            "best_metric": state.best_metric,
        }
        self.run._core.record("events", {"kind": "checkpoint", "payload": json.dumps(payload)})

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero and self.run is not None and not self.run._closed:
            self.run._core.flush()

    def finish(self) -> None:
        """Finish the run now (it is otherwise finished at exit)."""
        if self.run is not None:
            self.run.finish()
