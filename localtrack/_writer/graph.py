"""A model's op graph, traced with torch.jit, as JSON nodes a person or a tool can read."""

from __future__ import annotations

import json
import warnings
from typing import Any

from localtrack._writer.values import BadValue


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
        nodes.append(
            {
                "name": ", ".join(o.debugName() for o in node.outputs()),
                "op": node.kind(),
                "inputs": [i.debugName() for i in node.inputs()],
                "outputs": [str(o.type()) for o in node.outputs()],
                "scope": node.scopeName(),
            }
        )
    inputs = [{"name": i.debugName(), "type": str(i.type())} for i in graph.inputs()]
    return {
        "format": "torchscript-nodes",
        "graph": json.dumps({"inputs": inputs, "nodes": nodes}),
        "text": str(graph),
    }
