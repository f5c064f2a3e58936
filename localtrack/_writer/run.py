"""The W&B-style API: init() returns a Run with log(), config, summary, watch(), finish().

run.log(dict) of plain numbers appends them to columns (localtrack._writer.blocks); other
values cost one tuple per value (nested dicts flatten with '/'); arrays,
Histogram and Image objects become histograms and images, Tables become `tables` rows,
strings become texts. Steps follow W&B: log() without step= logs at the run's step and,
committed (the default), advances it by one; log(step=N) moves the run to step N without
committing (a later log() at that step adds to it); a step lower than the run's is dropped
with one warning. W&B's other calls (define_metric, save, alert, …) live here too;
init() is in localtrack._writer.wandb_init.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._errors import ClosedError, UsageError
from localtrack._store.segments import read_stream
from localtrack._writer.config import Config, flatten, to_json
from localtrack._writer.core import RunWriter
from localtrack._writer.histograms import histogram_payload
from localtrack._writer.media import Histogram, Image
from localtrack._writer.run_summary import RunSummary, check_summary
from localtrack._writer.tables import Table
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


class _Config(Config):
    """run.config; init(allow_val_change=True) lets every later write change a value."""

    allow_changes = False

    def __setitem__(self, key: str, value: Any, allow_val_change: bool = False) -> None:
        super().__setitem__(key, value, allow_val_change or self.allow_changes)


class Run:
    """One W&B-style run; create it with localtrack.init()."""

    def __init__(
        self, core: RunWriter, project: str, resumed: bool, fields: dict[str, Any] | None = None
    ) -> None:
        fields = fields or {}
        self._core = core
        self.project = project
        self.entity: str | None = fields.get("entity")
        self._tags: tuple[str, ...] = tuple(fields.get("tags") or ())
        self._notes: str | None = fields.get("notes")
        self.group: str | None = fields.get("group")
        self.job_type: str | None = fields.get("job_type")
        self.url: str | None = None  # nothing is online
        self.mode = "offline"
        self.disabled = False
        self._saved_globs: list[tuple[str, str | None]] = []
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
        self._last_step = -1  # the step of the previous log() call
        self._step_keys: Any = ()  # the keys logged at it (a set once a second call lands)
        self._overwrote = False  # whether this writer recorded its `overwrite` event
        self._hooks: list[Any] = []
        self.config = _Config(self._persist("config"), _saved(core.run_dir, "config"))
        self.summary = RunSummary(self._persist("summary"))
        self._observe = self.summary.observe  # bound once: log() calls it every step
        if resumed:
            self._step = _next_step(core.run_dir)
        core.before_close.append(self._before_close)  # finish(), atexit or SIGTERM

    def _persist(self, stream: str) -> Any:
        def persist(key: str, value: Any) -> None:
            self._check_open()
            self._core.record(stream, {"key": key, "value": to_json(value)})

        return persist

    @property
    def step(self) -> int:
        return self._step

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, tags: tuple[str, ...] | list[str]) -> None:
        self._tags = tuple(str(t) for t in tags)
        self._update_event({"tags": list(self._tags)})

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, notes: str | None) -> None:
        self._notes = notes
        self._update_event({"notes": notes})

    @property
    def path(self) -> str:
        return f"{self.entity or 'local'}/{self.project}/{self.id}"

    def _update_event(self, payload: dict[str, Any]) -> None:
        self._check_open()
        self._core.record("events", {"kind": "update", "payload": json.dumps(payload)})

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(
                f"run {self.id!r} is finished; call localtrack.init() to start a new run"
            )

    # ---- log: the hot path -------------------------------------------------------------

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log a dict of values at `step` (default: the run's current step).

        As W&B: commit defaults to True without step= and to False with it; a committed
        log moves the run to the next step."""
        if self._closed:
            self._check_open()
        if step is None:
            step = self._step
            if commit is None:
                commit = True
        else:
            if type(step) is not int or step < self._step or step > _STEP_MAX:
                vetted = self._vet_step(step)
                if vetted is None:
                    return
                step = vetted
            self._step = step
        if step == self._last_step:  # only a call at the previous call's step does key work
            self._same_step(data)
        else:
            self._last_step = step
            self._step_keys = data
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
        self._advance(step, commit)  # before _append, which may block at a full buffer
        self._append(data, step, now)

    def _append(self, data: Mapping[str, Any], step: int, now: float) -> None:
        """The slow path of log(): numbers into the flat scalars buffer, anything else through
        its own classification; the automatic summary follows. Framework adapters log at the
        framework's own step through this too (localtrack/integrations/_steps.py)."""
        rows = self._scalars
        for key, value in data.items():
            if type(value) is float or type(value) is int:
                rows.extend((key, value, step, now))
            else:
                self._log_other(str(key), value, step, now)
        self._observe(data)
        if len(rows) >= self._limit[0]:
            self._core.scalar_pressure(rows)

    def _same_step(self, data: Mapping[str, Any]) -> None:
        """A second log() at one step: W&B keeps the last value of a key logged twice there.

        The first repeated key of this writer records one `overwrite` event; queries then keep
        the last row per (tag, step) of this writer (localtrack/_query/overwrite.py). Every row
        stays on disk."""
        keys = self._step_keys
        if type(keys) is not set:
            keys = self._step_keys = set(keys)
        if not self._overwrote and not keys.isdisjoint(data):
            self._overwrote = True
            self._core.record("events", {"kind": "overwrite", "payload": None})
        keys.update(data)

    def _advance(self, step: int, commit: bool | None) -> None:
        # A thread that read the step before another thread advanced it must not move
        # the run back (one thread alone always has step + 1 > self._step here)
        if commit and step >= self._step:
            self._step = step + 1

    def _vet_step(self, step: Any) -> int | None:
        """The step to log at, or None to drop the call (a step lower than the run's)."""
        try:
            good = capture_step(step)
        except BadValue as exc:
            self._core.warn("step", "step", f"{exc}; logged at step {self._step} instead")
            return self._step
        if good < self._step:
            self._core.warn(
                "step",
                "monotonic",
                f"step {good} is lower than the run's current step {self._step}: W&B drops "
                "such a log() call and so does localtrack (dropped, and every later call "
                f"with a lower step, warned once); log with step >= {self._step}, or "
                "without step=",
                stacklevel=4,
            )
            return None
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
            if value.error is not None:
                raise BadValue(value.error)
            return "images", value.payload
        if isinstance(value, list | tuple) and value and all(isinstance(v, Image) for v in value):
            bad = next((v.error for v in value if v.error is not None), None)
            if bad is not None:
                raise BadValue(bad)
            return "images", [v.payload for v in value]
        if isinstance(value, Table):
            return "tables", value.payload()
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

    # ---- W&B's other calls ------------------------------------------------------------

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> dict[str, Any]:
        """Say how a metric (or a glob like "val/*") is summarised and charted, as W&B does:
        summary="min,max,mean,first,last,best,none" (best needs goal=), step_metric= the key
        to chart it against. Recorded as a `metric` event; the summary follows it."""
        self._check_open()
        if not isinstance(name, str) or not name:
            raise UsageError(f"define_metric needs a metric name, got {name!r}")
        kinds = check_summary(summary, goal)
        definition = {
            "name": name,
            "step_metric": step_metric,
            "step_sync": step_sync,
            "hidden": hidden,
            "summary": list(kinds),
            "goal": goal,
        }
        self._core.record("events", {"kind": "metric", "payload": json.dumps(definition)})
        self.summary.define(name, kinds, goal)
        self._observe = self.summary.observe
        return definition

    def save(self, glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
        """Copy files into the run's files/ folder, now ("now", "live") and at finish
        ("live", "end"); returns the paths of the copies made now."""
        from localtrack._writer.wandb_extras import save_files

        self._check_open()
        if policy not in ("live", "now", "end"):
            raise UsageError(f"policy must be 'live', 'now' or 'end', got {policy!r}")
        if policy != "now":
            self._saved_globs.append((glob_str, base_path))
        if policy == "end":
            return []
        saved = save_files(self._core.run_dir, glob_str, base_path)
        self._core.record("events", {"kind": "save", "payload": json.dumps({"files": saved})})
        return saved

    def alert(
        self, title: str, text: str, level: str | None = None, wait_duration: Any = None
    ) -> None:
        """Record an alert (an `alert` event) and print it on stderr; nothing is sent."""
        self._check_open()
        level = str(getattr(level, "value", level) or "INFO").upper()
        payload = {"title": str(title), "text": str(text), "level": level}
        self._core.record("events", {"kind": "alert", "payload": json.dumps(payload)})
        print(f"localtrack alert [{level}] {title}: {text}", file=sys.stderr)

    # ---- end -----------------------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Seal everything, write the summary, mark the run finished (failed if exit_code != 0)."""
        if self._closed:
            return
        status = "finished" if not exit_code else "failed"
        self._core.close(status=status, exit_code=exit_code)  # runs _before_close first
        self._before_close()

    def _before_close(self) -> None:
        """What ending the run writes first, however it ends: the summary, saved files."""
        if self._closed:
            return
        self.unwatch()
        self.summary.persist_auto()
        if self._saved_globs:
            from localtrack._writer.wandb_extras import save_files

            for glob_str, base_path in self._saved_globs:
                try:
                    save_files(self._core.run_dir, glob_str, base_path)
                except (OSError, UsageError) as exc:  # the run still ends
                    print(
                        f"localtrack: save({glob_str!r}) at finish failed: {exc}", file=sys.stderr
                    )
        self._closed = True
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
    """The run localtrack.log() and friends act on (a disabled run counts)."""
    return _current


def _forget(run: Run) -> None:
    global _current
    if _current is run:
        _current = None


def _set_current(run: Run | None) -> None:
    global _current
    _current = run


from localtrack._writer.wandb_init import init  # noqa: E402  (it builds Runs)

__all__ = ["Run", "current", "init"]
