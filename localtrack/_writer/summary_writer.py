"""SummaryWriter: a drop-in for torch.utils.tensorboard.SummaryWriter that logs to Parquet.

Same constructor, methods, argument names and defaults as TensorBoard's, with two documented
differences: `flush_secs` defaults to 0.5 s (the loss window after a SIGKILL), and
`max_queue` does not delay writing (rows are sealed by time and size, not by count).
add_scalar costs well under a microsecond: it appends a tuple; everything else happens on
the sealer thread. Bad data warns once per tag and is skipped; use after close() raises.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._errors import ClosedError, UsageError
from localtrack._store.layout import DEFAULT_ROOT, ENV_ROOT
from localtrack._store.marker import make_marker, new_run_id
from localtrack._writer.core import RunWriter
from localtrack._writer.file_writer import FileWriterAccess
from localtrack._writer.histograms import histogram_payload, pr_curve_payload
from localtrack._writer.images import check_dataformats, image_payload, to_hwc
from localtrack._writer.tb_extras import TensorBoardExtras
from localtrack._writer.tensors import (
    audio_payload,
    embedding_payload,
    mesh_payload,
    video_payload,
)
from localtrack._writer.values import (
    BadValue,
    capture_scalar,
    capture_step,
    check_walltime,
    host,
    nbytes,
    to_numpy,
)

_now = time.time


class _ClosedRows(list):  # type: ignore[type-arg]
    """Stands in for a buffer after close(): adding to it raises with the fix."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self._what = what

    def append(self, _row: object) -> None:
        raise ClosedError(
            f"cannot log to {self._what} after close(); create a new writer to log more"
        )

    def extend(self, row: object) -> None:
        self.append(row)


def default_log_dir(comment: str = "") -> str:
    """TensorBoard's default, runs/<Mon DD_HH-MM-SS>_<host><comment>, under $LOCALTRACK_DIR."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    root = os.environ.get(ENV_ROOT) or DEFAULT_ROOT
    return os.path.join(root, f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter(TensorBoardExtras, FileWriterAccess):
    """Writes a run's scalars, histograms, images… to the local store, TensorBoard style.

    add_tensor, add_pr_curve_raw, add_onnx_graph and add_image_with_boxes: tb_extras.py."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 0.5,
        filename_suffix: str = "",
        *,
        on_full: str = "block",
        logdir: str | os.PathLike[str] | None = None,
    ) -> None:
        if log_dir is None:
            log_dir = logdir  # tensorboardX's name for it
        self.log_dir = str(log_dir) if log_dir is not None else default_log_dir(comment)
        run_dir = Path(self.log_dir)
        proposed = make_marker(
            new_run_id(), run_dir.resolve().parent.name or "default", run_dir.name, "tensorboard"
        )
        self._core = RunWriter(
            run_dir,
            proposed,
            flush_secs=flush_secs,
            on_full=on_full,
            start_payload={"comment": comment, "filename_suffix": filename_suffix},
        )
        self._warn = self._core.warn
        self._limit = self._core.scalar_limit  # shared with the core, which moves it
        self._scalars: list[Any] = self._core.buffers["scalars"]  # flat: see sealing.py
        self._closed = False
        if purge_step is not None:
            try:
                step = capture_step(purge_step)
            except BadValue as exc:
                self._core.close(status="failed")
                raise UsageError(f"purge_step: {exc}") from None
            self._core.record("events", {"kind": "purge", "payload": json.dumps({"step": step})})

    # ---- scalars: the hot path ------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number. Costs one list.extend; tag, step and time are vetted when sealing."""
        if type(scalar_value) is not float:
            scalar_value = self._capture(tag, scalar_value)
            if scalar_value is None:
                return
        rows = self._scalars
        rows.extend((tag, scalar_value, global_step, _now() if walltime is None else walltime))
        if len(rows) >= self._limit[0]:
            self._core.scalar_pressure(rows)

    def _capture(self, tag: Any, value: Any) -> Any:
        if self._closed:
            self._raise_closed()
        try:
            captured = capture_scalar(value)
        except BadValue as exc:
            self._warn(str(tag), f"scalar:{type(value).__name__}", str(exc), stacklevel=4)
            return None
        if type(captured) is not float and type(captured) is not int:
            self._core.device_scalars += 1
        return captured

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log several related numbers; each is stored under the tag `main_tag/key`."""
        wt = _now() if walltime is None else walltime
        for key, value in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{key}", value, global_step, wt)

    # ---- everything else: validated now, heavy work deferred to the sealer ----------------

    def _raise_closed(self) -> None:
        raise ClosedError(
            f"SummaryWriter({self.log_dir!r}) is closed; create a new SummaryWriter to log more"
        )

    @staticmethod
    def _check_tag(tag: Any) -> str:
        if not isinstance(tag, str) or not tag:
            raise BadValue(f"a tag must be a non-empty string, got {tag!r}")
        return tag

    @staticmethod
    def _step(step: Any) -> int:
        return 0 if step is None else capture_step(step)

    @staticmethod
    def _walltime(walltime: Any) -> float | None:
        return None if walltime is None else check_walltime(walltime)

    def _put(self, stream: str, tag: Any, step: Any, walltime: Any, make: Any, *args: Any) -> None:
        """Validate tag/step now, run `make(*args)` (cheap checks, snapshots) now, and buffer."""
        if self._closed:
            self._raise_closed()
        try:
            tag = self._check_tag(tag)
            row = (tag, self._step(step), self._walltime(walltime) or _now(), make(*args))
        except BadValue as exc:
            self._warn(str(tag), f"{stream}:{exc}", str(exc), stacklevel=4)
            return
        self._core.put(stream, row, sum(map(nbytes, args)))

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log the distribution of `values`; binning happens on the sealer thread."""

        pool = self._core.pool

        def make(v: Any) -> Any:
            snap = pool.copy(v, "histogram values")

            def payload() -> dict[str, Any]:
                try:
                    return histogram_payload(host(snap, "histogram values"), bins, max_bins)
                finally:
                    pool.give(snap)

            return payload

        self._put("histograms", tag, global_step, walltime, make, values)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: int,
        sum: float,
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a histogram that is already binned."""

        def make() -> dict[str, Any]:
            limits = to_numpy(bucket_limits, "bucket_limits").astype(float).reshape(-1)
            counts = to_numpy(bucket_counts, "bucket_counts").astype(float).reshape(-1)
            if limits.size != counts.size:
                raise BadValue(f"{limits.size} bucket_limits for {counts.size} bucket_counts")
            return {
                "min": float(min),
                "max": float(max),
                "num": float(num),
                "sum": float(sum),
                "sum_squares": float(sum_squares),
                "bucket_limits": limits.tolist(),
                "bucket_counts": counts.tolist(),
            }

        self._put("histograms", tag, global_step, walltime, make)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image; PNG encoding happens on the sealer thread."""
        fmt = check_dataformats(dataformats, batched=False)
        self._put_image(tag, img_tensor, global_step, walltime, fmt)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images, tiled into one grid image as TensorBoard does."""
        fmt = check_dataformats(dataformats, batched=True)
        self._put_image(tag, img_tensor, global_step, walltime, fmt)

    def _put_image(self, tag: str, img: Any, step: Any, walltime: Any, fmt: str) -> None:
        pool = self._core.pool

        def make(v: Any) -> Any:
            snap = pool.copy(v, "an image")
            shape = tuple(snap.shape)
            if len(shape) != len(fmt):
                raise BadValue(f"an image of shape {shape} does not match dataformats={fmt!r}")
            if "C" in fmt and shape[fmt.index("C")] not in (1, 3, 4):
                raise BadValue(
                    f"an image must have 1, 3 or 4 channels, got {shape[fmt.index('C')]} "
                    f"(shape {shape}, dataformats={fmt!r})"
                )

            def payload() -> dict[str, Any]:
                try:
                    return image_payload(to_hwc(host(snap, "an image"), fmt))
                finally:
                    pool.give(snap)

            return payload

        self._put("images", tag, step, walltime, make, img)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Render a matplotlib figure (or a list of them) to an image."""
        from localtrack._writer.figures import figure_to_hwc

        figures = figure if isinstance(figure, list) else [figure]
        try:
            images = [figure_to_hwc(f, close) for f in figures]
        except BadValue as exc:
            self._warn(str(tag), "figure", str(exc))
            return
        if len(images) == 1:
            self._put_image(tag, images[0], global_step, walltime, "HWC")
        else:
            self._put_image(tag, np.stack(images), global_step, walltime, "NHWC")

    def add_text(
        self,
        tag: str,
        text_string: str,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        def make(text: Any) -> dict[str, Any]:
            if not isinstance(text, str):
                raise BadValue(f"text must be a str, got {type(text).__name__}")
            return {"text": text}

        self._put("texts", tag, global_step, walltime, make, text_string)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict[str, Any] | None = None,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        def make() -> dict[str, Any]:
            arrays = [
                None if a is None else to_numpy(a, "mesh data") for a in (vertices, colors, faces)
            ]
            return mesh_payload(arrays[0], arrays[1], arrays[2], config_dict)  # type: ignore[arg-type]

        self._put("meshes", tag, global_step, walltime, make)

    def add_hparams(
        self,
        hparam_dict: dict[str, Any],
        metric_dict: dict[str, Any],
        hparam_domain_discrete: dict[str, list[Any]] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Log one trial's hyper-parameters and its metrics (the metrics also as scalars)."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionaries.")
        name = run_name if run_name is not None else str(time.time())

        def make() -> dict[str, Any]:
            return {
                "hparams": json.dumps(_plain(hparam_dict)),
                "metrics": json.dumps(_plain(metric_dict)),
                "domain_discrete": json.dumps(hparam_domain_discrete)
                if hparam_domain_discrete is not None
                else None,
                "run_name": name,
            }

        self._put("hparams", "hparams", global_step, None, make)
        for key, value in metric_dict.items():
            self.add_scalar(key, value, global_step)

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Record the model's op graph (traced with torch.jit) in the `graphs` stream."""
        from localtrack._writer.graph import graph_payload

        if self._closed:
            self._raise_closed()
        try:
            payload = graph_payload(model, input_to_model, use_strict_trace)
        except BadValue as exc:
            self._warn("graph", "graph", str(exc))
            return
        self._put("graphs", type(model).__name__ or "graph", 0, None, lambda: payload)

    def add_embedding(
        self,
        mat: Any,
        metadata: list[Any] | None = None,
        label_img: Any = None,
        global_step: int | None = None,
        tag: str = "default",
        metadata_header: list[str] | None = None,
    ) -> None:
        def make() -> dict[str, Any]:
            img = None if label_img is None else to_numpy(label_img, "label_img")
            meta = list(metadata) if metadata is not None else None
            return embedding_payload(to_numpy(mat, "mat"), meta, img, metadata_header)

        self._put("embeddings", tag, global_step, None, make)

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        def make() -> Any:
            lab, pred = to_numpy(labels, "labels"), to_numpy(predictions, "predictions")
            w = None if weights is None else to_numpy(weights, "weights")
            return lambda: pr_curve_payload(lab, pred, num_thresholds, w)

        self._put("pr_curves", tag, global_step, walltime, make)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: int | None = None,
        sample_rate: int = 44100,
        walltime: float | None = None,
    ) -> None:
        def make() -> Any:
            sound = to_numpy(snd_tensor, "audio")
            return lambda: audio_payload(sound, sample_rate)

        self._put("audio", tag, global_step, walltime, make)

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: int | None = None,
        fps: float = 4,
        walltime: float | None = None,
    ) -> None:
        def make() -> Any:
            video = to_numpy(vid_tensor, "video")
            return lambda: video_payload(video, fps)

        self._put("video", tag, global_step, walltime, make)

    def add_custom_scalars(self, layout: dict[str, Any]) -> None:
        """Record a custom-scalars layout ({category: {chart: [kind, [tags]]}})."""
        if self._closed:
            self._raise_closed()
        self._core.record("events", {"kind": "layout", "payload": json.dumps(layout)})

    def add_custom_scalars_multilinechart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: list[str], category: str = "default", title: str = "untitled"
    ) -> None:
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # ---- lifecycle ---------------------------------------------------------------------

    def get_logdir(self) -> str:
        return self.log_dir

    @property
    def run_id(self) -> str:
        return self._core.run_id

    def flush(self) -> None:
        """Seal everything logged so far; it is on disk when this returns."""
        if not self._closed:
            self._core.flush()

    def close(self) -> None:
        """Flush and stop; later logging raises ClosedError. Calling twice is fine.

        Called while an exception propagates (a framework's `finally:` or `except:` block
        after training raised), it records the run as failed, as __exit__ does."""
        if self._closed:
            return
        self._closed = True
        self._scalars = _ClosedRows(f"SummaryWriter({self.log_dir!r})")
        if _failing():
            self._core.close(status="failed", exit_code=1)
        else:
            self._core.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self._closed = True
            self._scalars = _ClosedRows(f"SummaryWriter({self.log_dir!r})")
            self._core.close(status="failed", exit_code=1)


def _failing() -> bool:
    """Whether an exception other than KeyboardInterrupt/SystemExit is being handled."""
    kind = sys.exc_info()[0]
    return kind is not None and not issubclass(kind, KeyboardInterrupt | SystemExit)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready copy: numbers, strings and bools stay, tensors become numbers, else str."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, bool | int | float | str) or v is None:
            out[str(k)] = v
        else:
            try:
                out[str(k)] = capture_scalar(v)
                if not isinstance(out[str(k)], int | float):
                    out[str(k)] = str(v)
            except BadValue:
                out[str(k)] = str(v)
    return out
