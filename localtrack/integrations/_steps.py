"""Logging at a framework's own step: the step is the framework's, W&B's step rules do not apply.

Frameworks repeat a step (Lightning logs training and validation at one step) and go back to
an earlier one (`trainer.test()` after `fit()` starts again at its own step), which W&B's
rule for `run.log(step=)` would drop. Rows are appended by `Run.log`'s own slow path
(`Run._append`), so the automatic summary follows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from localtrack._writer.run import Run
from localtrack._writer.values import BadValue, capture_step


def log_at(run: Run, data: Mapping[str, Any], step: int | None) -> None:
    """Log `data` at `step` (None: at the run's current step, which then advances by one)."""
    if step is None:
        run.log(dict(data))
        return
    run._check_open()
    try:
        step = capture_step(step)
    except BadValue as exc:
        run._core.warn("step", "step", f"{exc}; logged at step {run.step} instead")
        step = run.step
    run._append(data, step, time.time())
