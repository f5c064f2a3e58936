"""run.watch(): torch hooks that log parameter and gradient histograms every log_freq batches.

A forward hook on the model counts batches; on every log_freq-th batch it logs parameter
histograms and arms per-parameter gradient hooks for the backward pass of that batch.
Tensors are cloned on their device; binning happens on the sealer thread.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Sink(Protocol):
    def _log_histogram(self, tag: str, tensor: Any) -> None: ...


def watch_model(run: _Sink, model: Any, log: str | None, log_freq: int, prefix: str) -> list[Any]:
    import torch

    if not isinstance(model, torch.nn.Module):
        from localtrack._errors import UsageError

        raise UsageError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
    if log is None:
        return []
    state = {"batches": 0, "armed": False}
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def on_forward(module: Any, inputs: Any, output: Any) -> None:
        if not module.training and not torch.is_grad_enabled():
            return
        state["batches"] += 1
        state["armed"] = state["batches"] % log_freq == 0
        if state["armed"] and log in ("parameters", "all"):
            for name, p in params:
                run._log_histogram(f"{prefix}parameters/{name}", p)

    hooks = [model.register_forward_hook(on_forward)]
    if log in ("gradients", "all"):
        for name, p in params:

            def on_grad(grad: Any, name: str = name) -> None:
                if state["armed"]:
                    run._log_histogram(f"{prefix}gradients/{name}", grad)

            hooks.append(p.register_hook(on_grad))
    return hooks
