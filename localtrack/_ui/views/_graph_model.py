"""A stored `graphs` row as the nodes and edges the graphs view draws, whatever wrote it.

Two formats reach the store (docs/FORMAT.md): `torchscript-nodes` from `add_graph` (nodes
named by their output values, inputs naming values, a torch.jit module scope such as
``__module.layer1/__module.layer1.0/__module.layer1.0.conv1``, output sizes in `shapes` when
the writer recorded them) and `tensorboard-graphdef` from an imported TensorBoard log (nodes
named ``scope/…/name``, inputs naming nodes, sizes in ``_output_shapes``). Both become nodes
with an id (their position), a scope path (``layer1/0/conv1``), the id of the node feeding
each input (null when no stored node produces it), output types and shapes, and a `kind`: ``op``, ``input``, ``output``, or, folded away
in the drawing by default, ``constant``, ``param`` (a weight read by GetAttr), ``attr`` (a
submodule read by GetAttr) and ``update`` (an op on those alone whose result nothing reads). Rows written before shapes existed simply have none.
"""

from __future__ import annotations

import json
from typing import Any

CONSTANT_OPS = ("prim::Constant", "Constant")
PACKING_OPS = ("prim::ListConstruct", "prim::TupleConstruct")
FOLDED = ("constant", "param", "attr", "update")


def torch_scope(scope: str) -> str:
    """``__module.a/__module.a.0/__module.a.0.conv`` -> ``a/0/conv`` (the innermost module's
    qualified name, which holds the outer ones)."""
    last = scope.rsplit("/", 1)[-1]
    if last.startswith("__module"):
        last = last[len("__module") :].lstrip(".")
    return "/".join(part for part in last.split(".") if part)


def _graphdef_shapes(attributes: dict[str, Any]) -> list[list[int] | None] | None:
    shapes = attributes.get("_output_shapes", {}).get("list", {}).get("shape")
    if not isinstance(shapes, list):
        return None
    out: list[list[int] | None] = []
    for shape in shapes:
        if not isinstance(shape, dict) or shape.get("unknownRank"):
            out.append(None)
            continue
        out.append([int(d.get("size", -1)) for d in shape.get("dim", [])])
    return out


def _kind(op: str, outputs: list[str], inputs_kinds: list[str]) -> str:
    if op in CONSTANT_OPS:
        return "constant"
    if op == "prim::GetAttr":
        return "param" if outputs and outputs[0].startswith("Tensor") else "attr"
    if op in PACKING_OPS and all(k in FOLDED for k in inputs_kinds):
        return "constant"
    if op == "IO Node":
        return "input" if not inputs_kinds else "output"
    return "op"


def _fold_updates_and_lists(nodes: list[dict[str, Any]]) -> None:
    """An op fed only by folded values whose output nothing reads is a buffer update (a
    BatchNorm's `num_batches_tracked += 1`): kind ``update``, folded like its inputs. A list
    of constants gets their values as its own (a convolution's stride reads ``[2, 2]``)."""
    used = {s for n in nodes for s in n["inputs"] if s is not None}
    for node in nodes:
        sources = [nodes[s] for s in node["inputs"] if s is not None]
        if (
            node["kind"] == "op"
            and node["id"] not in used
            and sources
            and all(src["kind"] in FOLDED for src in sources)
        ):
            node["kind"] = "update"
        if node["kind"] == "constant" and node["op"] in PACKING_OPS:
            values = [str(src.get("attributes", {}).get("value", "?")) for src in sources]
            node["attributes"] = {**node.get("attributes", {}), "value": f"[{', '.join(values)}]"}


def model(row: dict[str, Any]) -> dict[str, Any]:
    """The view's graph of one `graphs` row: ``{"format", "nodes": [...], "scopes": {path:
    count of ops under it}}``; every stored node is one entry, in stored order, after the
    graph inputs."""
    spec = json.loads(row.get("graph") or "{}")
    fmt = row.get("format") or "torchscript-nodes"
    torch = fmt == "torchscript-nodes"
    nodes: list[dict[str, Any]] = []
    producer: dict[str, int] = {}  # value (torchscript) or node name (graphdef) -> id
    for graph_input in spec.get("inputs", []) if torch else []:
        name = str(graph_input.get("name", ""))
        kind = "attr" if str(graph_input.get("type", "")).startswith("__torch__") else "input"
        producer[name] = len(nodes)
        shape = graph_input.get("shape")
        nodes.append(
            {
                "id": len(nodes),
                "name": name,
                "op": "input",
                "kind": kind,
                "scope": "",
                "inputs": [],
                "input_names": [],
                "outputs": [str(graph_input.get("type", ""))],
                "shapes": [shape] if shape is not None else None,
            }
        )
    stored = spec.get("nodes", [])
    for raw in stored:
        name = str(raw.get("name", ""))
        op = str(raw.get("op", ""))
        names = [str(i) for i in raw.get("inputs", [])]
        if torch:
            sources = [producer.get(i) for i in names]
            scope = torch_scope(str(raw.get("scope") or ""))
        else:
            cleaned = [i.lstrip("^").split(":", 1)[0] for i in names]
            sources = [producer.get(i) for i in cleaned]
            scope = name.rsplit("/", 1)[0] if "/" in name else ""
        found = [s for s in sources if s is not None]
        outputs = [str(o) for o in raw.get("outputs", [])]
        attributes = raw.get("attributes") or {}
        shapes = raw.get("shapes")
        if shapes is None and not torch:
            shapes = _graphdef_shapes(attributes)
        entry = {
            "id": len(nodes),
            "name": name,
            "op": op,
            "kind": _kind(op, outputs, [nodes[s]["kind"] for s in found]),
            "scope": scope,
            "inputs": sources,
            "input_names": names,
            "outputs": outputs,
            "shapes": shapes,
        }
        if not torch and op == "IO Node":
            entry["kind"] = "input" if not found else "output"
        if attributes:
            entry["attributes"] = attributes
        if torch:
            for value in (v.strip() for v in name.split(",")):
                if value:
                    producer[value] = entry["id"]
        else:
            producer[name] = entry["id"]
        nodes.append(entry)
    _fold_updates_and_lists(nodes)
    returns = [producer[v] for v in spec.get("returns", []) if v in producer]
    if returns:
        nodes.append(
            {
                "id": len(nodes),
                "name": "output",
                "op": "output",
                "kind": "output",
                "scope": "",
                "inputs": returns,
                "input_names": list(spec.get("returns", [])),
                "outputs": [],
                "shapes": None,
            }
        )
    scopes: dict[str, int] = {}
    for node in nodes:
        if node["kind"] != "op" or not node["scope"]:
            continue
        parts = node["scope"].split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            scopes[key] = scopes.get(key, 0) + 1
    return {"format": fmt, "stored_nodes": len(stored), "nodes": nodes, "scopes": scopes}
