"""Accelerate's tracker for localtrack: `Accelerator(log_with=[LocaltrackTracker("proj")])`.

`LocaltrackTracker` is an `accelerate.tracking.GeneralTracker` named "localtrack". Importing
this module registers it with `accelerate.tracking.register_tracker_class` where Accelerate
has it (1.x), so `Accelerator(log_with="localtrack")` works too. Accelerate calls it on the
main process only (`main_process_only = True`): `store_init_configuration` writes the run's
config, `log(values, step)` logs at Accelerate's step (numbers as scalars, strings as texts,
a dict as `key/sub` scalars, as its TensorBoard tracker does), `finish()` (from
`accelerator.end_training()`) finishes the run.
"""

from __future__ import annotations

import os
from typing import Any

from accelerate.tracking import GeneralTracker

from localtrack._writer.run import Run
from localtrack.integrations._steps import log_at


class LocaltrackTracker(GeneralTracker):  # type: ignore[misc]
    """A localtrack run as an Accelerate tracker.

    Args:
        run_name: the run's project (Accelerate passes `init_trackers(project_name)` here).
        logging_dir: the runs root (default `$LOCALTRACK_DIR`, else `./runs`).
        **init_kwargs: passed to `localtrack.init` (name=, tags=, …; from
            `init_trackers(init_kwargs={"localtrack": {...}})`).
    """

    name = "localtrack"
    requires_logging_directory = False
    main_process_only = True

    def __init__(
        self,
        run_name: str | None = None,
        logging_dir: str | os.PathLike[str] | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self.run_name = run_name
        self.logging_dir = logging_dir
        self.init_kwargs = init_kwargs
        self.run: Run | None = None

    def start(self) -> None:
        """Start the run (Accelerate ≥ 1.4 calls this on the main process)."""
        if self.run is None or self.run._closed:
            import localtrack

            kwargs = {"dir": self.logging_dir, **self.init_kwargs}
            self.run = localtrack.init(project=self.run_name, **kwargs)

    @property
    def tracker(self) -> Run:
        """The localtrack `Run`."""
        self.start()
        assert self.run is not None
        return self.run

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self.tracker.config.update(values, allow_val_change=True)

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        log_at(self.tracker, values, step)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()


def _register() -> None:
    try:
        from accelerate.tracking import register_tracker_class
    except ImportError:  # an Accelerate without it: log_with=[LocaltrackTracker(...)] only
        return
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    if LOGGER_TYPE_TO_CLASS.get(LocaltrackTracker.name) is not LocaltrackTracker:
        register_tracker_class(LocaltrackTracker)


_register()
