"""A model's op graph, traced with torch.jit, as JSON nodes a person or a tool can read.

Each node keeps what torch.jit.trace records (name, op, inputs, output types, module scope)
and, since the format's `shapes` key was added, the sizes of its tensor outputs. The module
that `torch.jit.trace` returns has had its shape information erased, so the sizes come from
a second trace of the same inputs through torch's tracer (`torch.jit._get_trace_graph`,
scopes recorded as `trace_module` does), whose ops are matched to the first trace's in order.
That trace runs without gradients and puts back the model's buffers (BatchNorm's running
statistics) and the random state afterwards, so logging a graph changes nothing in training.
Should any of it fail, or the two traces disagree, the nodes are stored without shapes:
`shapes` is optional and readers take a node without it as one of unknown sizes.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from localtrack._writer.values import BadValue

# ops whose outputs are not computed tensors: never carry shapes, differ between the traces
_UNMATCHED = ("prim::Constant", "prim::GetAttr", "prim::ListConstruct", "prim::TupleConstruct")


def _sizes(value: Any) -> list[int] | None:
    import torch

    kind = value.type()
    if not isinstance(kind, torch._C.TensorType):
        return None
    try:
        sizes = kind.sizes()
    except RuntimeError:
        return None
    return None if sizes is None else [int(n) for n in sizes]


def _constant(node: Any) -> str:
    """A constant's value as short text (a tensor constant can be large)."""
    try:
        text = repr(node.output().toIValue())
    except Exception:
        return "?"
    return text if len(text) <= 120 else text[:119] + "…"


def _tensor_shape(arg: Any) -> list[int] | None:
    shape = getattr(arg, "shape", None)
    return None if shape is None else [int(n) for n in shape]


def _traced_shapes(model: Any, args: tuple[Any, ...]) -> list[list[list[int] | None]] | None:
    """The output sizes of each matched node (ops outside `_UNMATCHED`) of a fresh trace, in
    graph order; None when torch's tracer cannot say."""
    import torch
    import torch.jit._trace as trace_module

    if not isinstance(model, torch.nn.Module):
        return None
    names: dict[Any, Any] = {"__module": model}  # as trace_module builds it

    def register(module: Any, prefix: str) -> None:
        for name, child in module.named_children():
            names[child] = f"{prefix}.{name}"
            register(child, names[child])

    register(model, "__module")
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    before = trace_module._trace_module_map
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            trace_module._trace_module_map = names
            graph, _ = trace_module._get_trace_graph(model, args)
    finally:
        trace_module._trace_module_map = before
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in buffers:
                    b.copy_(buffers[name])
    torch._C._jit_pass_inline(graph)
    return [
        [_sizes(o) for o in node.outputs()]
        for node in graph.nodes()
        if node.kind() not in _UNMATCHED
    ]


def graph_payload(model: Any, input_to_model: Any, use_strict_trace: bool = True) -> dict[str, Any]:
    import torch

    if input_to_model is None:
        raise BadValue("add_graph needs input_to_model (an example input) to trace the model")
    args = input_to_model if isinstance(input_to_model, tuple) else (input_to_model,)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch 2.13 deprecates jit.trace; TensorBoard's add_graph still traces with it.
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, args, strict=use_strict_trace, check_trace=False)
    except Exception as exc:
        raise BadValue(f"torch.jit.trace could not trace the model: {exc}") from exc
    graph = traced.inlined_graph
    nodes = []
    for node in graph.nodes():
        entry: dict[str, Any] = {
            "name": ", ".join(o.debugName() for o in node.outputs()),
            "op": node.kind(),
            "inputs": [i.debugName() for i in node.inputs()],
            "outputs": [str(o.type()) for o in node.outputs()],
            "scope": node.scopeName(),
        }
        if node.kind() == "prim::Constant" and node.outputsSize() == 1:
            entry["attributes"] = {"value": _constant(node)}
        nodes.append(entry)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shapes = _traced_shapes(model, args)
    except Exception:  # a private torch API: the graph is still logged, without sizes
        shapes = None
    matched = [n for n in nodes if n["op"] not in _UNMATCHED]
    if shapes is not None and len(shapes) == len(matched):
        for n, sizes in zip(matched, shapes, strict=True):
            if len(sizes) == len(n["outputs"]):
                n["shapes"] = sizes
    inputs = [{"name": i.debugName(), "type": str(i.type())} for i in graph.inputs()]
    returned = [v.debugName() for v in graph.return_node().inputs()]
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if len(tensors) == len(args) == len(inputs) - 1:  # `self` comes first
        for entry, arg in zip(inputs[1:], tensors, strict=True):
            entry["shape"] = _tensor_shape(arg)
    return {
        "format": "torchscript-nodes",
        "graph": json.dumps({"inputs": inputs, "nodes": nodes, "returns": returned}),
        "text": str(graph),
    }
