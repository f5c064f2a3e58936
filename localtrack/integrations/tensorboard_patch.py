"""patch_tensorboard(): TensorBoard's SummaryWriter becomes localtrack's, no code change needed.

After `localtrack.patch_tensorboard()` (or `localtrack.init(..., sync_tensorboard=True)`),
`torch.utils.tensorboard.SummaryWriter` and `tensorboardX.SummaryWriter` are
`TensorBoardWriter`, a localtrack `SummaryWriter` that behaves as TensorBoard's where
frameworks rely on it: logging after `close()` reopens it (a new writer of the same run, as
torch's reopens its event file), and `_get_file_writer()` takes the Summary protos they build.
This works **without the `tensorboard` package**: when `torch.utils.tensorboard` cannot be
imported (it needs `tensorboard`), a stand-in module takes its place in `sys.modules`, with
`SummaryWriter`, `writer.SummaryWriter` and `summary.hparams` / `summary.scalar` (which
return localtrack's own summaries); the same for `tensorboardX` when it is missing. Where the
real modules import, only their `SummaryWriter` attributes are replaced. Code that took a
reference to TensorBoard's class before the patch keeps it: patch first, then import the
framework's TensorBoard logger (or build it).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types
from typing import Any

from localtrack._writer.file_writer import HParamsSummary, PartOfHParams, ScalarSummary
from localtrack._writer.run import Run
from localtrack._writer.summary_writer import SummaryWriter

_sync_run: Run | None = None
_undo: list[tuple[Any, str, Any]] = []  # (module, attribute, old value or _ABSENT)
_installed: list[str] = []  # stand-in modules put into sys.modules
_ABSENT = object()


class _Reopening(list):  # type: ignore[type-arg]
    """The scalars buffer of a closed TensorBoardWriter: the next row reopens the writer."""

    def __init__(self, writer: TensorBoardWriter) -> None:
        super().__init__()
        self._writer = writer

    def append(self, row: object) -> None:
        self._writer._reopen()
        self._writer._scalars.append(row)

    def extend(self, row: Any) -> None:
        self._writer._reopen()
        self._writer._scalars.extend(row)


class TensorBoardWriter(SummaryWriter):
    """localtrack's SummaryWriter with TensorBoard's habits, for code that was written for it.

    Accepts tensorboardX's extra keywords (`write_to_disk`, `comet_config`, …: ignored).
    With `patch_tensorboard(sync_to=run)` (what `init(sync_tensorboard=True)` does), a writer
    made while that run is open logs into the run's directory, whatever `log_dir` it was given.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 0.5,
        filename_suffix: str = "",
        *,
        logdir: str | os.PathLike[str] | None = None,
        **ignored: Any,
    ) -> None:
        requested = log_dir if log_dir is not None else logdir
        if _sync_run is not None and not _sync_run._closed:
            requested = _sync_run.dir
        # TensorBoard flushes every 120 s by default; frameworks pass that: keep the loss window
        flush_secs = min(float(flush_secs), 0.5)
        self._reopen_args = (comment, flush_secs, filename_suffix)
        super().__init__(requested, comment, purge_step, max_queue, flush_secs, filename_suffix)

    def _reopen(self) -> None:
        if not self._closed:
            return
        comment, flush_secs, suffix = self._reopen_args
        SummaryWriter.__init__(self, self.log_dir, comment, None, 10, flush_secs, suffix)

    def _raise_closed(self) -> None:
        self._reopen()  # as torch's writer does: logging after close() writes again

    def close(self) -> None:
        super().close()
        self._scalars = _Reopening(self)


# ---- stand-in modules -----------------------------------------------------------------


def hparams(
    hparam_dict: dict[str, Any] | None = None,
    metric_dict: dict[str, Any] | None = None,
    hparam_domain_discrete: dict[str, list[Any]] | None = None,
) -> tuple[HParamsSummary, PartOfHParams, PartOfHParams]:
    """Stand-in for torch.utils.tensorboard.summary.hparams: the three "summaries" it returns
    are read by `SummaryWriter._get_file_writer().add_summary` (hparams + config rows)."""
    return (
        HParamsSummary(dict(hparam_dict or {}), dict(metric_dict or {}), hparam_domain_discrete),
        PartOfHParams("_hparams_/session_start_info"),
        PartOfHParams("_hparams_/session_end_info"),
    )


def scalar(name: str, tensor: Any, *args: Any, **kwargs: Any) -> ScalarSummary:
    """Stand-in for torch.utils.tensorboard.summary.scalar."""
    return ScalarSummary(name, float(tensor))


def _stand_in(name: str) -> types.ModuleType:
    """A package named `name` with SummaryWriter, writer and summary, put into sys.modules."""
    package = types.ModuleType(name, f"localtrack's stand-in for {name} (patch_tensorboard)")
    package.__path__ = []  # a package: `import name.summary` finds the submodules below
    writer = types.ModuleType(f"{name}.writer")
    summary = types.ModuleType(f"{name}.summary")
    # a spec, so importlib.util.find_spec(name) answers (HF's is_tensorboard_available asks it)
    package.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    writer.__spec__ = importlib.machinery.ModuleSpec(writer.__name__, None)
    summary.__spec__ = importlib.machinery.ModuleSpec(summary.__name__, None)
    writer.SummaryWriter = TensorBoardWriter  # type: ignore[attr-defined]
    summary.hparams = hparams  # type: ignore[attr-defined]
    summary.scalar = scalar  # type: ignore[attr-defined]
    package.SummaryWriter = TensorBoardWriter  # type: ignore[attr-defined]
    package.writer = writer  # type: ignore[attr-defined]
    package.summary = summary  # type: ignore[attr-defined]
    for module in (package, writer, summary):
        module.__localtrack_stand_in__ = True  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
        _installed.append(module.__name__)
    return package


def _set(module: Any, attribute: str, value: Any) -> None:
    _undo.append((module, attribute, getattr(module, attribute, _ABSENT)))
    setattr(module, attribute, value)


def _patch_module(name: str) -> types.ModuleType | None:
    """Replace SummaryWriter in the real module `name`, or install a stand-in for it."""
    existing = sys.modules.get(name)
    if getattr(existing, "__localtrack_stand_in__", False):
        return existing
    try:
        module = importlib.import_module(name)
    except ImportError:  # torch.utils.tensorboard raises ImportError without tensorboard
        return _stand_in(name)
    _set(module, "SummaryWriter", TensorBoardWriter)
    writer = sys.modules.get(f"{name}.writer")
    if writer is not None:
        _set(writer, "SummaryWriter", TensorBoardWriter)
    return module


def patch_tensorboard(sync_to: Run | None = None) -> None:
    """Make torch.utils.tensorboard's and tensorboardX's SummaryWriter localtrack's.

    Idempotent. With `sync_to=run`, writers made while that run is open log into it (as
    W&B's `sync_tensorboard=True`); otherwise each `log_dir` is a run of its own, as in
    TensorBoard. Works whether or not the `tensorboard`/`tensorboardX` packages are installed.
    """
    global _sync_run
    _sync_run = sync_to
    try:
        import torch.utils
    except ImportError:
        torch_utils = None
    else:
        torch_utils = torch.utils
    if torch_utils is not None:
        module = _patch_module("torch.utils.tensorboard")
        if getattr(torch_utils, "tensorboard", None) is not module:
            _set(torch_utils, "tensorboard", module)
    _patch_module("tensorboardX")


def unpatch_tensorboard() -> None:
    """Undo patch_tensorboard(): the real classes back, stand-in modules removed."""
    global _sync_run
    _sync_run = None
    while _undo:
        module, attribute, old = _undo.pop()
        if old is _ABSENT:
            delattr(module, attribute)
        else:
            setattr(module, attribute, old)
    while _installed:
        sys.modules.pop(_installed.pop(), None)
