"""The graphs view's endpoints over real HTTP on graphs logged with the real writer (torch's
tracer), the shapes the writer now records, and rows of the other formats and of before."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import localtrack
from localtrack import ui
from localtrack._ui.views._graph_model import model, torch_scope

torch = pytest.importorskip("torch")


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x: Any) -> Any:
        return torch.relu(self.bn(self.conv(x)) + x)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 3)
        self.body = torch.nn.Sequential(Block(), Block())
        self.drop = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(4, 5)

    def forward(self, x: Any) -> Any:
        return self.head(self.drop(self.body(self.stem(x)).mean((2, 3))))


INPUT_SHAPE = (2, 3, 10, 10)
OPS = {
    "Conv2d": "aten::_convolution",
    "BatchNorm2d": "aten::batch_norm",
    "Dropout": "aten::dropout",
    "Linear": "aten::linear",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, Any]]:
    root = tmp_path_factory.mktemp("graphs")
    torch.manual_seed(0)
    net = Net()
    writer = localtrack.SummaryWriter(str(root / "p" / "net"))
    writer.add_graph(net, torch.randn(*INPUT_SHAPE))
    writer.close()
    plain = localtrack.SummaryWriter(str(root / "p" / "plain"))
    plain.add_scalar("loss", 1.0, 0)
    plain.close()
    (stored,) = localtrack.sql("SELECT graph FROM graphs", root=str(root)).fetchall()
    handle = ui.serve(root=root, port=0, token=False)
    base = handle.url.rstrip("/")
    runs = {
        r["name"]: r["run_id"] for r in requests.get(base + "/api/runs", timeout=30).json()["runs"]
    }
    yield base, runs["net"], runs["plain"], json.loads(stored[0])
    handle.stop()


def leaf_shapes(net: Any) -> dict[str, list[int]]:
    """Each leaf module's output shape on a real forward, by its qualified name."""
    shapes: dict[str, list[int]] = {}

    def record(name: str) -> Any:
        def hook(_module: Any, _inputs: Any, out: Any) -> None:
            shapes.setdefault(name, list(out.shape))

        return hook

    hooks = [
        m.register_forward_hook(record(name))
        for name, m in net.named_modules()
        if name and not list(m.children())
    ]
    with torch.no_grad():
        net(torch.zeros(*INPUT_SHAPE))
    for h in hooks:
        h.remove()
    return shapes


def test_writer_records_each_ops_output_shape(served: tuple[str, str, str, Any]) -> None:
    *_, stored = served
    expected = leaf_shapes(Net())
    ops = {
        (torch_scope(n["scope"]).replace("/", "."), n["op"]): n
        for n in stored["nodes"]
        if n["op"] in OPS.values()
    }
    for name, shape in expected.items():
        op = OPS[type(Net().get_submodule(name)).__name__]
        assert ops[(name, op)]["shapes"] == [shape], name
    assert stored["inputs"][1]["shape"] == list(INPUT_SHAPE)
    relu = [n for n in stored["nodes"] if n["op"] == "aten::relu"]
    assert [n["shapes"] for n in relu] == [[[2, 4, 8, 8]]] * 2
    assert stored["returns"] and all(
        "shapes" not in n for n in stored["nodes"] if n["op"] == "prim::Constant"
    )


def test_the_shape_trace_changes_no_state_beyond_jit_trace(tmp_path: Any) -> None:
    """BatchNorm's statistics and the random state after add_graph are those of one forward
    in train mode (jit.trace's own), not two."""
    torch.manual_seed(1)
    net = Net()
    twin = copy.deepcopy(net)
    x = torch.randn(*INPUT_SHAPE)
    torch.manual_seed(7)
    with torch.no_grad():
        twin(x)
    expected_draw = torch.rand(3)
    torch.manual_seed(7)
    with localtrack.SummaryWriter(str(tmp_path / "r")) as w:
        w.add_graph(net, x)
    assert torch.equal(torch.rand(3), expected_draw)
    for (name, a), (_, b) in zip(net.named_buffers(), twin.named_buffers(), strict=True):
        assert torch.equal(a, b), name


def test_tags_list_only_runs_with_a_graph(served: tuple[str, str, str, Any]) -> None:
    base, net, plain, _ = served
    body = requests.get(base + "/api/graphs/tags", {"runs": f"{net},{plain}"}, timeout=30).json()
    assert body == {"tags": [{"tag": "Net", "runs": [{"run_id": net, "steps": [0]}]}]}
    assert requests.get(base + "/api/graphs/tags", {"runs": plain}, timeout=30).json() == {
        "tags": []
    }


def test_graph_answer_holds_every_stored_node_with_its_producers(
    served: tuple[str, str, str, Any],
) -> None:
    base, net, _, stored = served
    got = requests.get(base + "/api/graphs/graph", {"run": net, "tag": "Net"}, timeout=30).json()
    assert got["stored_nodes"] == len(stored["nodes"])
    inputs, body, tail = got["nodes"][:2], got["nodes"][2:-1], got["nodes"][-1]
    assert [(n["name"], n["kind"]) for n in inputs] == [("self.1", "attr"), ("x", "input")]
    assert [(n["name"], n["op"]) for n in body] == [(n["name"], n["op"]) for n in stored["nodes"]]
    assert tail["kind"] == "output" and body[tail["inputs"][0] - 2]["op"] == "aten::linear"
    by_value = {v.strip(): n["id"] for n in got["nodes"][:-1] for v in n["name"].split(",")}
    for n in body:
        assert n["inputs"] == [by_value[i] for i in n["input_names"]]
    conv = next(n for n in body if n["scope"] == "body/0/conv" and n["kind"] == "op")
    assert conv["op"] == "aten::_convolution" and conv["shapes"] == [[2, 4, 8, 8]]
    assert got["scopes"]["body"] == sum(
        1 for n in body if n["kind"] == "op" and n["scope"].startswith("body/")
    )
    kinds = {n["op"]: n["kind"] for n in body}
    assert kinds["prim::Constant"] == "constant" and kinds["prim::GetAttr"] in ("param", "attr")
    updates = [n for n in body if n["kind"] == "update"]
    assert updates and all(n["op"] == "aten::add_" for n in updates)  # num_batches_tracked += 1
    stride = next(n for n in body if n["id"] == conv["inputs"][3])
    assert stride["attributes"]["value"] == "[1, 1]"


def test_unknown_tag_and_bad_parameters(served: tuple[str, str, str, Any]) -> None:
    base, net, _, _ = served
    assert (
        requests.get(
            base + "/api/graphs/graph", {"run": net, "tag": "Nope"}, timeout=30
        ).status_code
        == 404
    )
    assert (
        requests.get(
            base + "/api/graphs/graph", {"run": "../x", "tag": "Net"}, timeout=30
        ).status_code
        == 400
    )
    assert requests.get(base + "/api/graphs/graph", {"run": net}, timeout=30).status_code == 400


def test_rows_written_before_shapes_and_imported_graphdefs_are_read() -> None:
    old = {
        "format": "torchscript-nodes",
        "graph": json.dumps(
            {
                "inputs": [
                    {"name": "self.1", "type": "__torch__.M"},
                    {"name": "x", "type": "Tensor"},
                ],
                "nodes": [
                    {
                        "name": "w",
                        "op": "prim::GetAttr",
                        "inputs": ["self.1"],
                        "outputs": ["Tensor"],
                        "scope": "",
                    },
                    {
                        "name": "3",
                        "op": "aten::linear",
                        "inputs": ["x", "w"],
                        "outputs": ["Tensor"],
                        "scope": "__module.fc",
                    },
                ],
            }
        ),
    }
    got = model(old)
    assert [n["kind"] for n in got["nodes"]] == ["attr", "input", "param", "op"]
    assert got["nodes"][3]["shapes"] is None and got["nodes"][3]["inputs"] == [1, 2]
    assert got["scopes"] == {"fc": 1}
    imported = {
        "format": "tensorboard-graphdef",
        "graph": json.dumps(
            {
                "nodes": [
                    {
                        "name": "input/x",
                        "op": "IO Node",
                        "inputs": [],
                        "outputs": [],
                        "scope": "input",
                        "attributes": {},
                    },
                    {
                        "name": "Net/Linear[fc]/out",
                        "op": "aten::linear",
                        "inputs": ["input/x"],
                        "outputs": [],
                        "scope": "Net/Linear[fc]",
                        "attributes": {
                            "_output_shapes": {
                                "list": {"shape": [{"dim": [{"size": "2"}, {"size": "5"}]}]}
                            }
                        },
                    },
                    {
                        "name": "output/y",
                        "op": "IO Node",
                        "inputs": ["Net/Linear[fc]/out:0"],
                        "outputs": [],
                    },
                ]
            }
        ),
    }
    got = model(imported)
    assert [n["kind"] for n in got["nodes"]] == ["input", "op", "output"]
    assert got["nodes"][1]["shapes"] == [[2, 5]] and got["nodes"][1]["scope"] == "Net/Linear[fc]"
    assert got["nodes"][2]["inputs"] == [1]
