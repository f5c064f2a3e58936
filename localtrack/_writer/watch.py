"""run.watch(): torch hooks that log gradient and parameter histograms, counted as W&B does.

Gradients: a hook on each parameter counts the backward passes that reach it, and logs the
gradient on every log_freq-th, whatever forwards happen in between (an accuracy forward in
train mode, a torch.no_grad() forward, other models). Parameters: a forward hook on the model
counts its forward calls in train mode and logs every parameter on every log_freq-th.
Tensors are cloned on their device; binning happens on the sealer thread.
"""

from __future__ import annotations

from typing import Any, Protocol


class _Sink(Protocol):
    def _log_histogram(self, tag: str, tensor: Any) -> None: ...


class _Every:
    """True on every n-th call."""

    __slots__ = ("count", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0

    def __call__(self) -> bool:
        self.count += 1
        if self.count < self.n:
            return False
        self.count = 0
        return True


def watch_model(run: _Sink, model: Any, log: str | None, log_freq: int, prefix: str) -> list[Any]:
    import torch

    if not isinstance(model, torch.nn.Module):
        from localtrack._errors import UsageError

        raise UsageError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
    if log is None:
        return []
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    hooks: list[Any] = []
    if log in ("parameters", "all"):
        due = _Every(log_freq)

        def on_forward(module: Any, inputs: Any, output: Any) -> None:
            if module.training and due():
                for name, p in params:
                    run._log_histogram(f"{prefix}parameters/{name}", p)

        hooks.append(model.register_forward_hook(on_forward))
    if log in ("gradients", "all"):
        for name, p in params:
            hooks.append(
                p.register_hook(_gradient_hook(run, f"{prefix}gradients/{name}", log_freq))
            )
    return hooks


def _gradient_hook(run: _Sink, tag: str, log_freq: int) -> Any:
    due = _Every(log_freq)

    def on_grad(grad: Any) -> None:
        if due():
            run._log_histogram(tag, grad)

    return on_grad
