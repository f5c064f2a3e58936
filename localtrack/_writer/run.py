"""The W&B-style API: init() returns a Run with log(), config, summary, watch(), finish().

run.log(dict) of plain numbers appends them to columns (localtrack._writer.blocks); other
values cost one tuple per value (nested dicts flatten with '/'); arrays,
Histogram and Image objects become histograms and images, strings become texts. Steps
follow W&B: without step= each committed log() advances the run's step by one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._errors import ClosedError, RunNotFoundError, UsageError
from localtrack._store.layout import MARKER_NAME, runs_root, safe_component
from localtrack._store.marker import make_marker, new_run_id, read_marker
from localtrack._store.segments import read_stream
from localtrack._writer.config import Config, Summary, flatten, to_json
from localtrack._writer.core import RunWriter
from localtrack._writer.histograms import histogram_payload
from localtrack._writer.media import Histogram, Image
from localtrack._writer.values import (
    BadValue,
    capture_scalar,
    capture_step,
    is_tensor,
    nbytes,
    snapshot,
    to_numpy,
)

_now = time.time
_PLAIN = frozenset((float, int))
_STEP_MAX = 2**63 - 1
_RESUME = (None, False, True, "allow", "must", "never", "auto")


class Run:
    """One W&B-style run; create it with localtrack.init()."""

    def __init__(self, core: RunWriter, project: str, resumed: bool) -> None:
        self._core = core
        self.project = project
        self.id = core.run_id
        self.name = core.marker["name"]
        self.dir = str(core.run_dir)
        self.resumed = resumed
        self._scalars: list[Any] = core.buffers["scalars"]  # flat: see sealing.py
        self._block = core.scalar_block
        self._limit = core.scalar_limit  # shared with the core, which moves it
        self._block_cap = core.block_soft_cap
        self._closed = False
        self._step = 0
        self._hooks: list[Any] = []
        self.config = Config(self._persist("config"), _saved(core.run_dir, "config"))
        self.summary = Summary(self._persist("summary"))
        self._observe = self.summary.observe  # bound once: log() calls it every step
        if resumed:
            self._step = _next_step(core.run_dir)

    def _persist(self, stream: str) -> Any:
        def persist(key: str, value: Any) -> None:
            self._check_open()
            self._core.record(stream, {"key": key, "value": to_json(value)})

        return persist

    @property
    def step(self) -> int:
        return self._step

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(
                f"run {self.id!r} is finished; call localtrack.init() to start a new run"
            )

    # ---- log: the hot path -------------------------------------------------------------

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = True
    ) -> None:
        """Log a dict of values at `step` (default: the run's current step)."""
        if self._closed:
            self._check_open()
        if step is None:
            step = self._step
        elif type(step) is not int or step < self._step or step > _STEP_MAX:
            step = self._vet_step(step)
        now = _now()
        values = data.values()
        if _PLAIN.issuperset(map(type, values)):  # only plain numbers: the columnar fast path
            block = self._block
            if len(block.values) >= self._block_cap and not self._core.admit(block):
                self._advance(step, commit)  # on_full="drop": the step is counted as dropped
                return
            numbers = list(values)
            keys = tuple(data)
            if numbers:
                with block.lock:
                    try:
                        block.values.fromlist(numbers)  # all or nothing
                    except OverflowError:  # an int beyond float range: the slow path names it
                        numbers = []
                    else:
                        if keys != block.keys:
                            block.new_keys(keys)
                        block.steps.append(step)
                        block.times.append(now)
            if numbers or not keys:
                self._observe(data)
                self._advance(step, commit)
                return
        rows = self._scalars
        for key, value in data.items():
            if type(value) is float or type(value) is int:
                rows.extend((key, value, step, now))
            else:
                self._log_other(str(key), value, step, now)
        self._observe(data)
        self._advance(step, commit)
        if len(rows) >= self._limit[0]:
            self._core.scalar_pressure(rows)

    def _advance(self, step: int, commit: bool | None) -> None:
        if commit or commit is None:
            self._step = step + 1
        elif step > self._step:
            self._step = step

    def _vet_step(self, step: Any) -> int:
        try:
            good = capture_step(step)
        except BadValue as exc:
            self._core.warn("step", "step", f"{exc}; logged at step {self._step} instead")
            return self._step
        if good < self._step:
            self._core.warn(
                "step",
                "monotonic",
                f"step {good} is lower than the run's current step {self._step}; the values "
                "are kept at the step you gave (W&B would drop them)",
            )
        return good

    def _log_other(self, key: str, value: Any, step: int, now: float) -> None:
        if isinstance(value, Mapping):
            for sub, v in flatten(value, f"{key}/").items():
                if type(v) is float or type(v) is int:
                    self._scalars.extend((sub, v, step, now))
                elif not isinstance(v, Mapping):
                    self._log_other(sub, v, step, now)
            return
        try:
            stream, payload = self._classify(value)
        except (BadValue, UsageError, TypeError, ValueError) as exc:
            self._core.warn(key, f"log:{type(value).__name__}", str(exc), stacklevel=5)
            return
        if stream == "scalars":
            if type(payload) is not float and type(payload) is not int:
                self._core.device_scalars += 1
            self._scalars.extend((key, payload, step, now))
        elif isinstance(payload, list):
            for p in payload:
                self._core.put(stream, (key, step, now, p))
        else:
            self._core.put(stream, (key, step, now, payload), nbytes(value))

    @staticmethod
    def _classify(value: Any) -> tuple[str, Any]:
        if isinstance(value, Histogram):
            return "histograms", value.payload()
        if isinstance(value, Image):
            return "images", value.payload
        if isinstance(value, list | tuple) and value and all(isinstance(v, Image) for v in value):
            return "images", [v.payload for v in value]
        if isinstance(value, str):
            return "texts", {"text": value}
        if value is None:
            raise BadValue("None is not a value; leave the key out instead")
        many = value.numel() > 1 if is_tensor(value) else np.size(value) > 1
        if many and (is_tensor(value) or isinstance(value, np.ndarray | list | tuple)):
            snap = snapshot(value, "an array")
            return "histograms", lambda: histogram_payload(to_numpy(snap, "an array"), 64)
        return "scalars", capture_scalar(value)

    # ---- watch ---------------------------------------------------------------------------

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """Log histograms of gradients and/or parameters every `log_freq` batches."""
        from localtrack._writer.watch import watch_model

        self._check_open()
        if log not in ("gradients", "parameters", "all", None):
            raise UsageError(f"log must be 'gradients', 'parameters', 'all' or None, got {log!r}")
        if not isinstance(log_freq, int) or log_freq < 1:
            raise UsageError(f"log_freq must be a positive integer, got {log_freq!r}")
        for i, model in enumerate(models if isinstance(models, list | tuple) else [models]):
            prefix = "" if idx is None and i == 0 else f"graph_{idx if idx is not None else i}/"
            self._hooks += watch_model(self, model, log, log_freq, prefix)

    def unwatch(self, models: Any = None) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _log_histogram(self, tag: str, tensor: Any) -> None:
        snap = snapshot(tensor, "a tensor")
        row = (tag, self._step, _now(), lambda: histogram_payload(to_numpy(snap, "a tensor"), 64))
        self._core.put("histograms", row, nbytes(snap))

    # ---- end -----------------------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Seal everything, write the summary, mark the run finished (failed if exit_code != 0)."""
        if self._closed:
            return
        self.unwatch()
        self.summary.persist_auto()
        self._closed = True
        status = "finished" if not exit_code else "failed"
        self._core.close(status=status, exit_code=exit_code)
        _forget(self)

    def close(self, status: str = "finished", exit_code: int | None = None) -> None:
        self.finish(exit_code=exit_code if status == "finished" else (exit_code or 1))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.finish(exit_code=None if kind is None else 1)

    def __repr__(self) -> str:
        return f"<localtrack.Run {self.project}/{self.id} name={self.name!r} dir={self.dir!r}>"


def _saved(run_dir: Path, stream: str) -> dict[str, Any]:
    """The latest value of each key of a resumed run's config (flattened keys)."""
    table = read_stream(run_dir, stream)
    if table is None:
        return {}
    rows = sorted(
        table.select(["key", "value", "wall_time", "seq"]).to_pylist(),
        key=lambda r: (r["wall_time"], r["seq"]),
    )
    return {r["key"]: json.loads(r["value"]) for r in rows}


def _next_step(run_dir: Path) -> int:
    table = read_stream(run_dir, "scalars")
    if table is None or table.num_rows == 0:
        return 0
    import pyarrow.compute as pc

    return int(pc.max(table.column("step")).as_py()) + 1


_current: Run | None = None


def current() -> Run | None:
    return _current


def _forget(run: Run) -> None:
    global _current
    if _current is run:
        _current = None


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | Any = None,
    dir: str | os.PathLike[str] | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    resume: bool | str | None = None,
    id: str | None = None,
    *,
    flush_secs: float = 0.5,
    on_full: str = "block",
) -> Run:
    """Start (or with resume=, continue) a run under <dir or $LOCALTRACK_DIR or ./runs>/<project>/<id>."""
    global _current
    if resume not in _RESUME:
        raise UsageError(f"resume must be one of {_RESUME}, got {resume!r}")
    if _current is not None:
        _current.finish()
    project = safe_component(
        project or os.environ.get("WANDB_PROJECT") or "uncategorized", "project"
    )
    project_dir = runs_root(dir) / project
    run_id = safe_component(id, "run id") if id is not None else _resume_id(project_dir, resume)
    run_dir = project_dir / run_id
    exists = (run_dir / MARKER_NAME).exists()
    if resume == "must" and not exists:
        raise RunNotFoundError(f"resume='must' but there is no run {run_id!r} in {project_dir}")
    if resume == "never" and exists:
        raise UsageError(
            f"run {run_id!r} exists in {project_dir}; pass resume='allow' to continue it"
        )
    if exists and not resume and id is not None:
        resume = "allow"
    payload = {
        "tags": list(tags or []),
        "notes": notes,
        "group": group,
        "job_type": job_type,
        "resume": bool(exists and resume),
    }
    marker = make_marker(run_id, project, name or f"run-{run_id}", "wandb")
    core = RunWriter(run_dir, marker, flush_secs=flush_secs, on_full=on_full, start_payload=payload)
    run = Run(core, project, resumed=bool(exists and resume))
    if config is not None:
        run.config.update(
            config if isinstance(config, Mapping) else vars(config), allow_val_change=run.resumed
        )
    _current = run
    return run


def _resume_id(project_dir: Path, resume: bool | str | None) -> str:
    if resume in (True, "allow", "must", "auto"):
        markers = sorted(
            project_dir.glob(f"*/{MARKER_NAME}"), key=lambda p: read_marker(p.parent)["created_at"]
        )
        if markers:
            return markers[-1].parent.name
    return new_run_id()
