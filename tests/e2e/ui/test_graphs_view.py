"""The Graphs view in a real browser, on graphs logged with the real writer (torch's tracer):
every stored node is listed, module scopes start collapsed and open on a click, each op shows
its output shape, and a ResNet-18 opens small enough to read and pans and zooms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import localtrack

torch = pytest.importorskip("torch")
nn = torch.nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: Any) -> Any:
        return torch.relu(self.bn(self.conv(x)) + x)


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.body = nn.Sequential(Block(), Block())
        self.head = nn.Linear(4, 5)

    def forward(self, x: Any) -> Any:
        return self.head(self.body(self.stem(x)).mean((2, 3)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's resnet18 layout (torchvision is not a dependency)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 10)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def log_graph(root: Path, name: str, net: Any, shape: tuple[int, ...]) -> list[dict[str, Any]]:
    w = localtrack.SummaryWriter(str(root / "vision" / name))
    w.add_graph(net, torch.zeros(*shape))
    w.add_scalar("loss", 1.0, 0)
    w.close()
    rows = localtrack.sql("SELECT graph FROM graphs", root=str(root)).fetchall()
    return [n for (g,) in rows for n in json.loads(g)["nodes"]]


def open_graphs(page: Any, handle: Any) -> None:
    page.goto(handle.url.replace("/?", "/?view=graphs&"))
    page.wait_for_selector("[data-testid=graph-viewer][data-state=drawn]")


def units(page: Any) -> list[str]:
    return page.locator("[data-testid=graph-canvas] .graph-unit").evaluate_all(
        "gs => gs.map(g => g.dataset.key)"
    )


def test_every_node_listed_and_scopes_open_with_shapes(tmp_path: Path, ui: Any, page: Any) -> None:
    stored = log_graph(tmp_path, "small", Small(), (2, 3, 10, 10))
    open_graphs(page, ui(tmp_path))
    rows = page.locator("[data-testid=graph-node-row]").evaluate_all(
        "rs => rs.map(r => [r.dataset.name, r.dataset.op, r.dataset.kind])"
    )
    assert [r[2] for r in rows[:2]] == ["attr", "input"] and rows[-1][2] == "output"
    assert [(r[0], r[1]) for r in rows[2:-1]] == [(n["name"], n["op"]) for n in stored]
    counts = page.locator("[data-testid=graph-counts]")
    assert counts.get_attribute("data-nodes") == str(len(stored))

    # collapsed at first: the container `body` is one box, its ops are not drawn
    assert "s:body" in units(page)
    assert page.locator("[data-testid=graph-node][data-op='aten::_convolution']").count() == 1
    page.locator("[data-testid=graph-scope][data-scope=body]").click()
    page.wait_for_selector("[data-testid=graph-frame][data-scope=body]")
    assert {"s:body/0", "s:body/1"} <= set(units(page))
    page.locator("[data-testid=graph-scope][data-scope='body/0']").click()
    conv = page.locator("[data-testid=graph-node][data-op='aten::_convolution']").nth(1)
    conv.wait_for()
    assert conv.locator("[data-testid=graph-node-shape]").text_content() == "conv · 2×4×8×8"

    conv.click()
    details = page.locator("[data-testid=graph-details]")
    assert details.locator("[data-testid=graph-details-op]").text_content() == "aten::_convolution"
    outputs = details.locator("[data-testid=graph-details-outputs] .graph-io-shape")
    assert outputs.all_text_contents() == ["2×4×8×8"]
    inputs = details.locator("[data-testid=graph-details-inputs] .graph-io-row").all_text_contents()
    assert inputs[0].endswith("2×4×8×8")  # the block input: the stem output
    assert any("[1, 1]" in row for row in inputs)  # the stride, a folded constant list

    # the frame's "−" closes the module again
    page.locator(
        "[data-testid=graph-frame][data-scope=body] [data-testid=graph-frame-toggle]"
    ).click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=graph-frame][data-scope=body]')"
    )
    assert "s:body" in units(page)

    # a row of the list opens the modules above its node and selects it
    page.locator("[data-testid=graph-search]").fill("batch_norm")
    assert page.locator("[data-testid=graph-node-row]").count() == 2
    page.locator("[data-testid=graph-node-row]").nth(1).click()
    page.wait_for_selector("[data-testid=graph-frame][data-scope='body/1']")
    selected = page.locator(".graph-unit.selected")
    assert selected.get_attribute("data-op") == "aten::batch_norm"

    # constants and weights are folded into the ops that read them, unless asked for
    constants = "[data-testid=graph-node][data-op='prim::Constant']"
    assert page.locator(constants).count() == 0
    page.locator("[data-testid=graph-expand-all]").click()
    assert (
        page.locator("[data-testid=graph-summary]").text_content().endswith("3 of 3 modules open")
    )
    page.locator("[data-testid=graph-show-folded]").check()
    shown = sum(1 for n in stored if n["op"] == "prim::Constant")
    page.wait_for_function(f'() => document.querySelectorAll("{constants}").length === {shown}')
    page.locator("[data-testid=graph-show-folded]").uncheck()
    page.wait_for_function(f'() => document.querySelectorAll("{constants}").length === 0')


def test_resnet18_opens_collapsed_and_pans_and_zooms(
    tmp_path: Path, ui: Any, new_page: Any, screenshot: Any
) -> None:
    stored = log_graph(tmp_path, "resnet18", ResNet(), (1, 3, 64, 64))
    page = new_page(viewport={"width": 1440, "height": 900})
    open_graphs(page, ui(tmp_path))
    shown = units(page)
    assert {"s:layer1", "s:layer2", "s:layer3", "s:layer4"} <= set(shown)
    assert len(shown) <= 20
    box = page.locator("[data-testid=graph-viewer]")
    zoom = float(box.get_attribute("data-zoom") or 0)
    assert zoom >= 0.8  # readable at once: the collapsed graph fits the width at 80 %
    before = page.locator(".graph-world").get_attribute("transform")
    area = box.bounding_box()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.mouse.wheel(0, 400)
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=graph-viewer]').dataset.zoom) < {zoom}"
    )
    page.mouse.move(area["x"] + 40, area["y"] + 40)
    page.mouse.down()
    page.mouse.move(area["x"] + 140, area["y"] + 90, steps=5)
    page.mouse.up()
    assert page.locator(".graph-world").get_attribute("transform") != before

    page.locator("[data-testid=graph-expand-all]").click()
    ops = [n for n in stored if n["op"].startswith("aten::") and n["op"] != "aten::add_"]
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=graph-node][data-op^=\"aten::\"]').length >= {len(ops)}"
    )
    page.locator("[data-testid=graph-collapse-all]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=graph-scope]').length === 4"
    )
    page.locator("[data-testid=graph-fit]").click()  # all of it in view
    assert float(box.get_attribute("data-zoom") or 0) < zoom
    page.mouse.dblclick(area["x"] + 12, area["y"] + area["height"] - 12)  # back to readable
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=graph-viewer]').dataset.zoom) >= {zoom}"
    )
    page.locator("[data-testid=graph-scope][data-scope=layer2]").click()
    page.locator("[data-testid=graph-scope][data-scope='layer2/0']").click()
    page.locator("[data-testid=graph-node][data-op='aten::_convolution']").nth(2).click()
    page.mouse.move(0, 0)
    screenshot(page, "graphs")
