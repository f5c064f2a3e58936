"""The rest of W&B's surface: mode="disabled", save(), save_code, login(), and init's extras.

Offline there is no server: `entity`, `anonymous`, `force`, `magic`, `monitor_gym`, `settings`,
`fork_from`, `resume_from` are recorded in the run's start event and otherwise change nothing;
`login()` says so. Files saved with run.save() (and the main script, with save_code=True)
are copied into the run's `files/` folder.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from localtrack._errors import UsageError

MODES = ("online", "offline", "disabled", "shared")
REINIT = (None, True, False, "default", "return_previous", "finish_previous", "create_new")
FILES_DIR = "files"
"""A run's copies of the files given to run.save() and of its main script (save_code)."""


def check_mode(mode: str | None) -> str:
    """The mode to run in: the argument, else $WANDB_MODE, else offline (everything is local)."""
    chosen = mode if mode is not None else os.environ.get("WANDB_MODE") or "offline"
    if chosen == "dryrun":  # W&B's old name for offline
        chosen = "offline"
    if chosen not in MODES:
        raise UsageError(f"mode must be one of {MODES}, got {chosen!r}")
    return chosen


def plain(value: Any) -> Any:
    """A JSON-ready form of a recorded init() argument (settings objects become dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    try:
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    except TypeError:
        return str(value)


def save_files(run_dir: Path, glob_str: str, base_path: str | None) -> list[str]:
    """Copy the files `glob_str` matches into <run>/files/, keeping their paths relative to
    `base_path` (default: the folder part of the pattern before any wildcard)."""
    if not isinstance(glob_str, str | os.PathLike) or not str(glob_str):
        raise UsageError(f"save() needs a path or glob pattern, got {glob_str!r}")
    pattern = os.path.abspath(os.fspath(glob_str))
    if base_path is None:
        static = pattern.split("*")[0].split("?")[0].split("[")[0]
        base = os.path.dirname(static) if not os.path.isdir(static) else static
    else:
        base = os.path.abspath(base_path)
    saved = []
    for src in sorted(glob.glob(pattern, recursive=True)):
        if not os.path.isfile(src):
            continue
        rel = os.path.relpath(src, base)
        if rel.startswith(".."):
            raise UsageError(f"{src} is not under base_path {base}; pass a base_path above it")
        dest = run_dir / FILES_DIR / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        saved.append(str(dest))
    return saved


def save_code(run_dir: Path) -> str | None:
    """Copy the main script into <run>/files/code/; its name there, or None without one."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main or not os.path.isfile(main):
        return None
    dest = run_dir / FILES_DIR / "code" / os.path.basename(main)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(main, dest)
    return str(dest.relative_to(run_dir))


def login(*args: Any, **kwargs: Any) -> bool:
    """W&B's login(): localtrack logs locally and has nothing to log in to."""
    print(
        "localtrack.login(): nothing to do, localtrack logs to local files and needs no "
        "account; to upload runs, point `localtrack sync` at an MLflow server",
        file=sys.stderr,
    )
    return True


def is_empty_run(run_dir: Path, writer: str) -> bool:
    """Whether a run holds nothing but this writer's start and finish events."""
    try:
        names = set(os.listdir(run_dir))
    except FileNotFoundError:
        return False
    from localtrack._store.layout import MARKER_NAME, WRITERS_DIR

    if not names <= {MARKER_NAME, "events", WRITERS_DIR}:
        return False
    events = os.listdir(run_dir / "events") if "events" in names else []
    return all(e.startswith(writer) or e.startswith(".") for e in events)


class DisabledRun:
    """What init(mode="disabled") returns: every call works and does nothing, as in W&B."""

    def __init__(self, project: str | None, name: str | None, config: Any) -> None:
        from localtrack._writer.config import Config
        from localtrack._writer.run_summary import RunSummary

        self.project = project or "uncategorized"
        self.id = "disabled"
        self.name = name or "disabled"
        self.dir = tempfile.gettempdir()
        self.entity: str | None = None
        self.tags: tuple[str, ...] = ()
        self.notes: str | None = None
        self.group: str | None = None
        self.job_type: str | None = None
        self.url: str | None = None
        self.mode = "disabled"
        self.disabled = True
        self.resumed = False
        self.step = 0
        self.config = Config(_nothing)
        self.summary = RunSummary(_nothing)
        if config is not None:
            self.config.update(config if isinstance(config, Mapping) else vars(config))

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("__"):
            raise AttributeError(name)
        return _nothing  # log, watch, finish, define_metric, save, alert, …

    def finish(self, *args: Any, **kwargs: Any) -> None:
        from localtrack._writer import run

        if run.current() is self:  # type: ignore[comparison-overlap]
            run._set_current(None)

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def __repr__(self) -> str:
        return "<localtrack.Run disabled>"


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def describe_settings(settings: Any) -> str | None:
    return None if settings is None else json.dumps(plain(settings), default=str)
