"""localtrack.init(): W&B's init, every keyword of it, offline.

A second init() finishes the first run, as W&B does by default (reinit="finish_previous";
"return_previous" returns it, "create_new" keeps it open), and a first run that logged
nothing is removed rather than left behind empty. mode="disabled" (or $WANDB_MODE) returns a
run whose every call does nothing. Unknown keywords warn and are ignored.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localtrack._errors import LocaltrackWarning, RunNotFoundError, UsageError
from localtrack._store.layout import MARKER_NAME, runs_root, safe_component
from localtrack._store.marker import make_marker, new_run_id, read_marker
from localtrack._writer import wandb_extras as extras
from localtrack._writer.core import RunWriter
from localtrack._writer.run import Run, _set_current, current

_RESUME = (None, False, True, "allow", "must", "never", "auto")


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
    entity: str | None = None,
    mode: str | None = None,
    reinit: bool | str | None = None,
    settings: Any = None,
    save_code: bool | None = None,
    anonymous: str | None = None,
    magic: Any = None,
    allow_val_change: bool | None = None,
    force: bool | None = None,
    monitor_gym: bool | None = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    fork_from: str | None = None,
    resume_from: str | None = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    *,
    flush_secs: float = 0.5,
    on_full: str = "block",
    system_metrics: bool = True,
    system_metrics_interval: float = 10.0,
    **unknown: Any,
) -> Run:
    """Start (or with resume=, continue) a run under <dir or $LOCALTRACK_DIR or ./runs>/<project>/<id>."""
    for key in unknown:
        warnings.warn(
            f"localtrack.init() got an unknown keyword {key!r}; it was ignored",
            LocaltrackWarning,
            stacklevel=2,
        )
    if resume not in _RESUME:
        raise UsageError(f"resume must be one of {_RESUME}, got {resume!r}")
    if reinit not in extras.REINIT:
        raise UsageError(f"reinit must be one of {extras.REINIT}, got {reinit!r}")
    chosen_mode = extras.check_mode(mode)
    config = _filtered(config, config_include_keys, config_exclude_keys)
    previous = current()
    if previous is not None:
        if reinit == "return_previous":
            return previous
        if reinit != "create_new":
            _finish_previous(previous)
    if chosen_mode == "disabled":
        disabled = extras.DisabledRun(project, name, config)
        _set_current(disabled)  # type: ignore[arg-type]
        return disabled  # type: ignore[return-value]
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
    fields = {"entity": entity, "tags": list(tags or []), "notes": notes, "group": group}
    fields["job_type"] = job_type
    recorded = {
        "mode": chosen_mode,
        "reinit": reinit,
        "anonymous": anonymous,
        "magic": extras.plain(magic),
        "force": force,
        "monitor_gym": monitor_gym,
        "sync_tensorboard": bool(sync_tensorboard or tensorboard),
        "fork_from": fork_from,
        "resume_from": resume_from,
        "settings": extras.plain(settings),
    }
    payload = {**fields, "resume": bool(exists and resume), **recorded}
    if save_code:
        run_dir.mkdir(parents=True, exist_ok=True)
        payload["code_path"] = extras.save_code(run_dir)
    marker = make_marker(run_id, project, name or f"run-{run_id}", "wandb")
    core = RunWriter(run_dir, marker, flush_secs=flush_secs, on_full=on_full, start_payload=payload)
    run = Run(core, project, resumed=bool(exists and resume), fields=fields)
    object.__setattr__(run.config, "allow_changes", bool(allow_val_change))
    if config is not None:
        run.config.update(config, allow_val_change=run.resumed or bool(allow_val_change))
    _set_current(run)
    if sync_tensorboard or tensorboard:
        _patch_tensorboard(run)
    from localtrack._writer.system_metrics import start_for  # system/… tags, own time axis

    sampler = start_for(core, system_metrics, system_metrics_interval)
    run._system_metrics = sampler  # type: ignore[attr-defined]
    return run


def _filtered(
    config: Any, include: list[str] | None, exclude: list[str] | None
) -> dict[str, Any] | None:
    if config is None:
        return None
    items = dict(config) if isinstance(config, Mapping) else dict(vars(config))
    if include is not None:
        items = {k: v for k, v in items.items() if k in include}
    if exclude is not None:
        items = {k: v for k, v in items.items() if k not in exclude}
    return items


def _finish_previous(previous: Any) -> None:
    """Finish the current run for a new init(); remove it if it logged nothing."""
    previous.finish()
    core = previous._core if isinstance(previous, Run) else None
    if (
        core is not None
        and core.created
        and extras.is_empty_run(core.run_dir, core.identity.writer)
    ):
        shutil.rmtree(core.run_dir, ignore_errors=True)


def _patch_tensorboard(run: Run) -> None:
    import localtrack

    patch = getattr(localtrack, "patch_tensorboard", None)
    if patch is None:
        warnings.warn(
            "init(sync_tensorboard=True) was recorded, but this localtrack has no "
            "patch_tensorboard(): log with localtrack.SummaryWriter instead",
            LocaltrackWarning,
            stacklevel=3,
        )
        return
    patch(run)  # TensorBoard writers made while the run is open log into it, as W&B's do


def _resume_id(project_dir: Path, resume: bool | str | None) -> str:
    if resume in (True, "allow", "must", "auto"):
        markers = sorted(
            project_dir.glob(f"*/{MARKER_NAME}"), key=lambda p: read_marker(p.parent)["created_at"]
        )
        if markers:
            return markers[-1].parent.name
    return new_run_id()
