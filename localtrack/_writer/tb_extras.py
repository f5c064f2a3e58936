"""SummaryWriter's rarer calls: add_tensor, add_pr_curve_raw, add_onnx_graph and
add_image_with_boxes, as torch.utils.tensorboard and tensorboardX spell them.

Validated on the caller's thread, converted on the sealer's, like every other add_* call.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from localtrack._writer.boxes import check_boxes, draw_boxes
from localtrack._writer.core import RunWriter
from localtrack._writer.images import check_dataformats, image_payload, to_hwc
from localtrack._writer.tensors import tensor_struct
from localtrack._writer.values import BadValue, WarnOnce, host, snapshot, to_numpy


class TensorBoardExtras:
    """Mixed into SummaryWriter, which provides _put and _core."""

    _core: RunWriter
    _warn: WarnOnce

    def _put(self, stream: str, tag: Any, step: Any, walltime: Any, make: Any, *args: Any) -> None:
        raise NotImplementedError

    def add_tensor(
        self, tag: str, tensor: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Log an n-d tensor as it is (the `tensors` stream), as TensorBoard's add_tensor."""

        def make(v: Any) -> Any:
            snap = snapshot(v, "a tensor")
            return lambda: {"tensor": tensor_struct(host(snap, "a tensor"))}

        self._put("tensors", tag, global_step, walltime, make, tensor)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a PR curve from counts computed elsewhere (one value per threshold)."""
        named = {
            "tp": true_positive_counts,
            "fp": false_positive_counts,
            "tn": true_negative_counts,
            "fn": false_negative_counts,
            "precision": precision,
            "recall": recall,
        }

        def make() -> dict[str, Any]:
            arrays = {k: to_numpy(v, k).astype(np.float64).reshape(-1) for k, v in named.items()}
            sizes = {a.size for a in arrays.values()}
            if len(sizes) != 1:
                raise BadValue(f"the six PR curve arrays differ in length: {sorted(sizes)}")
            n = sizes.pop()
            if n < 1:
                raise BadValue("a PR curve needs at least one threshold")
            lists = {k: a.tolist() for k, a in arrays.items()}
            return {"num_thresholds": n, "thresholds": np.linspace(0, 1, n).tolist(), **lists}

        self._put("pr_curves", tag, global_step, walltime, make)

    def add_onnx_graph(self, prototxt: str | os.PathLike[str]) -> None:
        """Store an ONNX model file's bytes (the `onnx_graphs` stream; tag: the file's stem).

        tensorboardX calls the argument onnx_model_file, torch's SummaryWriter prototxt."""

        def make() -> dict[str, Any]:
            try:
                data = Path(prototxt).read_bytes()
            except (OSError, TypeError) as exc:
                raise BadValue(f"cannot read the ONNX file {prototxt!r}: {exc}") from None
            return {"data": data, "num_bytes": len(data)}

        tag = Path(prototxt).stem if isinstance(prototxt, str | os.PathLike) else "onnx"
        tag = tag or "onnx"
        self._put("onnx_graphs", tag, 0, None, make)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: list[str] | str | None = None,
    ) -> None:
        """Log an image with boxes drawn into it (`images`), and the boxes and labels as data
        (`boxes`, same tag and step). Boxes are (N, 4): xmin, ymin, xmax, ymax in pixels."""
        fmt = check_dataformats(dataformats, batched=False)
        pool = self._core.pool

        def make_boxes(b: Any) -> dict[str, Any]:
            arr = check_boxes(to_numpy(b, "boxes"))
            names = [labels] if isinstance(labels, str) else labels
            if names is not None and len(names) != len(arr):
                names = None  # as TensorBoard: labels that do not match the boxes are dropped
            return {
                "boxes": tensor_struct(arr, "float32"),
                "labels": None if names is None else json.dumps([str(n) for n in names]),
            }

        try:
            box_row = make_boxes(box_tensor)
        except BadValue as exc:
            self._warn(str(tag), "boxes", str(exc))
            return
        boxes = np.frombuffer(box_row["boxes"]["data"], np.float32).reshape(-1, 4)
        names = json.loads(box_row["labels"]) if box_row["labels"] is not None else None

        def make_image(v: Any) -> Any:
            snap = pool.copy(v, "an image")
            if len(snap.shape) != len(fmt):
                raise BadValue(f"an image of shape {tuple(snap.shape)} does not match {fmt!r}")

            def payload() -> dict[str, Any]:
                try:
                    hwc = to_hwc(host(snap, "an image"), fmt)
                finally:
                    pool.give(snap)
                return image_payload(draw_boxes(hwc, boxes.astype(np.float64), names, rescale))

            return payload

        self._put("images", tag, global_step, walltime, make_image, img_tensor)
        self._put("boxes", tag, global_step, walltime, lambda: box_row)
