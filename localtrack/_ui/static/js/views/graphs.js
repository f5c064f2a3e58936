// The Graphs view: the model graph of add_graph. A list of the tags and runs that logged a
// graph; the open one drawn as an SVG of ops grouped by module scope (containers collapsed
// at first, click a box to open it, the frame's "−" to close it), laid out by topological
// depth (graph_layout.js), with pan (drag) and zoom (wheel). Beside it, the selected node's
// op, scope, inputs and outputs with their shapes, and every stored node in a filterable
// list. URL parameters: graph_tag, graph_run, graph_node (the selected node's id).

import { getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el } from "../format.js";
import { userRegex } from "../state.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { FOLDED, containerScopes, formatShape, inScope, layout, shortOp, visibleGraph } from "./graph_layout.js";
import { pickCurrent, renderList, visibleEntries } from "./series_list.js";

const SVG = "http://www.w3.org/2000/svg";
const LIST_LIMIT = 4000;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function clip(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function leaf(scope) {
  return scope ? scope.split("/").pop() : "";
}

class GraphsView {
  constructor(element, app) {
    this.app = app;
    this.tags = [];
    this.current = null;
    this.graph = null;
    this.expanded = new Set();
    this.showFolded = false;
    this.selected = null;
    this.view = { k: 1, tx: 0, ty: 0 };
    this.build(element);
  }

  build(element) {
    const root = el("div", "v3-view graphs-view");
    root.dataset.testid = "graphs-view";
    const bar = el("div", "toolbar");
    const expandAll = el("button", "button", "Expand all");
    expandAll.type = "button";
    expandAll.dataset.testid = "graph-expand-all";
    expandAll.addEventListener("click", () => this.setExpanded(new Set(this.graph ? containerScopes(this.graph.scopes) : [])));
    const collapseAll = el("button", "button", "Collapse all");
    collapseAll.type = "button";
    collapseAll.dataset.testid = "graph-collapse-all";
    collapseAll.addEventListener("click", () => this.setExpanded(new Set()));
    const fit = el("button", "button", "Fit");
    fit.type = "button";
    fit.dataset.testid = "graph-fit";
    fit.addEventListener("click", () => this.fit());
    const folded = el("label", "control check");
    this.foldedBox = document.createElement("input");
    this.foldedBox.type = "checkbox";
    this.foldedBox.dataset.testid = "graph-show-folded";
    this.foldedBox.addEventListener("change", () => {
      this.showFolded = this.foldedBox.checked;
      this.draw(true);
    });
    folded.append(this.foldedBox, el("span", "control-label", "Constants and parameters"));
    this.summary = el("span", "toolbar-summary");
    this.summary.dataset.testid = "graph-summary";
    bar.append(expandAll, collapseAll, fit, folded, el("span", "spacer"), this.summary);

    const body = el("div", "v3-body graphs-body");
    this.list = el("aside", "series-list");
    this.list.dataset.testid = "graph-list";
    const stage = el("section", "v3-stage");
    const head = el("div", "v3-stage-head");
    this.swatch = el("span", "swatch");
    this.title = el("span", "v3-title");
    this.counts = el("span", "v3-counts");
    this.counts.dataset.testid = "graph-counts";
    head.append(this.swatch, this.title, this.counts);
    const main = el("div", "graph-main");
    this.box = el("div", "graph-box");
    this.box.dataset.testid = "graph-viewer";
    this.box.dataset.state = "idle";
    this.svg = svg("svg", { class: "graph-svg" });
    this.svg.dataset.testid = "graph-canvas";
    const defs = svg("defs");
    const marker = svg("marker", { id: "graph-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M 0 1 L 9 5 L 0 9 z", class: "graph-arrowhead" }));
    defs.append(marker);
    this.world = svg("g", { class: "graph-world" });
    this.svg.append(defs, this.world);
    this.message = el("div", "v3-message");
    this.box.append(this.svg, this.message);
    const side = el("aside", "graph-side");
    this.details = el("div", "graph-details");
    this.details.dataset.testid = "graph-details";
    const listHead = el("div", "graph-nodes-head");
    this.filter = el("input", "input graph-filter");
    Object.assign(this.filter, { type: "search", placeholder: "Find nodes (regex: name, op, scope)", spellcheck: false });
    this.filter.dataset.testid = "graph-search";
    this.filter.addEventListener("input", () => this.renderNodes());
    this.nodeCount = el("span", "graph-node-count");
    listHead.append(this.filter, this.nodeCount);
    this.nodes = el("div", "graph-nodes");
    this.nodes.dataset.testid = "graph-node-list";
    side.append(this.details, listHead, this.nodes);
    main.append(this.box, side);
    const foot = el("div", "v3-foot", "Click a box to open its module · drag to pan · wheel to zoom · double-click to fit");
    this.meta = el("span", "v3-meta");
    foot.append(this.meta);
    stage.append(head, main, foot);
    body.append(this.list, stage);
    root.append(bar, body);
    element.replaceChildren(root);
    this.bindPanZoom();
    new ResizeObserver(() => this.applyView()).observe(this.box);
  }

  // ---- the list of graphs -------------------------------------------------------------

  async loadTags() {
    try {
      this.tags = (await getJSON("/api/graphs/tags")).tags;
    } catch (error) {
      this.showMessage("Could not list the graphs: " + error.message, "error");
      return;
    }
    this.renderList();
  }

  renderList() {
    const entries = visibleEntries(this.tags, this.app.selected());
    const picked = pickCurrent(entries, getParam(this.app, "graph_tag"), getParam(this.app, "graph_run"));
    renderList(this.list, this.app, {
      entries, allTags: this.tags, what: "graphs", current: picked,
      onPick: (tag, r) => this.open(tag, r.run_id),
    });
    if (!picked) {
      this.current = null;
      this.graph = null;
      this.world.replaceChildren();
      this.details.replaceChildren();
      this.nodes.replaceChildren();
      this.summary.textContent = "";
      this.showMessage(this.tags.length ? "Select a run that logged a graph." : "No graph logged yet: SummaryWriter.add_graph(model, example_input).", "empty");
      return;
    }
    if (!this.current || this.current.tag !== picked.tag || this.current.run !== picked.run) {
      this.open(picked.tag, picked.run);
    }
  }

  async open(tag, run) {
    this.current = { tag, run };
    setParams(this.app, { graph_tag: tag, graph_run: run });
    for (const row of this.list.querySelectorAll(".series-row")) {
      row.classList.toggle("active", row.dataset.tag === tag && row.dataset.runId === run);
    }
    const info = this.app.runsById.get(run);
    this.swatch.style.background = runColor(run);
    this.title.textContent = `${tag} · ${info ? info.name || run : run}`;
    this.box.dataset.state = "loading";
    let graph;
    try {
      graph = await getJSON("/api/graphs/graph", { run, tag });
    } catch (error) {
      this.showMessage("Could not load the graph: " + error.message, "error");
      return;
    }
    if (!this.current || this.current.tag !== tag || this.current.run !== run) return;
    this.graph = graph;
    this.expanded = new Set();
    const wanted = Number(getParam(this.app, "graph_node", "NaN"));
    this.selected = Number.isInteger(wanted) && graph.nodes[wanted] ? wanted : null;
    if (this.selected !== null) this.reveal(this.selected);
    const ops = graph.nodes.filter((n) => n.kind === "op").length;
    const shaped = graph.nodes.some((n) => Array.isArray(n.shapes) && n.shapes.some(Array.isArray));
    this.counts.textContent = `${graph.stored_nodes.toLocaleString()} nodes · ${ops.toLocaleString()} ops · ${Object.keys(graph.scopes).length} scopes`;
    this.counts.dataset.nodes = String(graph.stored_nodes);
    this.meta.textContent = `step ${graph.step} · ${graph.format}` + (shaped ? "" : " · no shapes recorded");
    this.message.hidden = true;
    this.draw(false);
    this.renderNodes();
    this.renderDetails();
  }

  // ---- drawing ------------------------------------------------------------------------

  setExpanded(expanded) {
    this.expanded = expanded;
    this.draw(true);
  }

  toggle(scope) {
    this.holdScope(scope);
    const next = new Set(this.expanded);
    if (next.has(scope)) {
      for (const s of [...next]) if (s === scope || s.startsWith(scope + "/")) next.delete(s);
    } else next.add(scope);
    this.setExpanded(next);
  }

  draw(keepView) {
    const graph = this.graph;
    if (!graph) return;
    const anchor = keepView ? this.anchorOf() : null;
    const visible = visibleGraph(graph, this.expanded, this.showFolded);
    const placed = layout(visible);
    this.visible = visible;
    this.placed = placed;
    const frames = svg("g", { class: "graph-frames" });
    const edges = svg("g", { class: "graph-edges" });
    const nodes = svg("g", { class: "graph-nodes-layer" });
    this.drawFrames(frames, visible, placed);
    const byKey = new Map(visible.units.map((u) => [u.key, u]));
    for (const e of visible.edges) edges.append(this.edgePath(e, placed.positions, byKey));
    for (const unit of visible.units) nodes.append(this.unitGroup(unit, placed.positions.get(unit.key)));
    this.world.replaceChildren(frames, edges, nodes);
    this.box.dataset.state = "drawn";
    this.box.dataset.units = String(visible.units.length);
    const open = [...this.expanded].filter((scope) => visible.containers.has(scope)).length;
    this.summary.textContent = `${visible.units.length} shown · ${open} of ${visible.containers.size} modules open`;
    if (anchor) this.restoreAnchor(anchor);
    else this.fit(true);
    this.markSelected();
  }

  unitGroup(unit, box) {
    const g = svg("g", { class: `graph-unit kind-${unit.kind}`, transform: `translate(${box.x},${box.y})` });
    g.dataset.testid = unit.kind === "scope" ? "graph-scope" : "graph-node";
    g.dataset.key = unit.key;
    if (unit.kind === "scope") {
      const ops = this.graph.scopes[unit.scope] || 0;
      const out = this.scopeOutput(unit);
      g.dataset.scope = unit.scope;
      g.append(svg("rect", { class: "graph-box-shadow", x: 3, y: 3, width: box.w, height: box.h, rx: 8 }));
      g.append(svg("rect", { class: "graph-box", width: box.w, height: box.h, rx: 8 }));
      g.append(svg("text", { class: "graph-title", x: 12, y: 19 }, clip(leaf(unit.scope), 18)));
      g.append(svg("text", { class: "graph-toggle", x: box.w - 14, y: 19, "text-anchor": "middle" }, "+"));
      g.append(svg("text", { class: "graph-sub", x: 12, y: 37 }, clip(`${ops} ops${out ? " · " + out : ""}`, 26)));
      g.append(svg("title", {}, `${unit.scope}: ${ops} ops (click to open)`));
      return g;
    }
    const node = unit.node;
    g.dataset.nodeId = String(node.id);
    g.dataset.op = node.op;
    const shape = Array.isArray(node.shapes) ? node.shapes.map(formatShape).filter(Boolean).join(", ") : "";
    g.append(svg("rect", { class: "graph-box", width: box.w, height: box.h, rx: unit.kind === "op" ? 6 : box.h / 2 }));
    const title = unit.kind === "input" || unit.kind === "output" ? node.name : shortOp(node.op);
    // a leaf module's op says which module it is; a container's own op (a block's residual
    // add) sits in that container's frame already
    const where = unit.kind === "op" && !this.visible.containers.has(node.scope) ? leaf(node.scope) : "";
    const sub = [where, shape].filter(Boolean).join(" · ");
    const cx = box.w / 2;
    if (sub && box.h >= 38) {
      g.append(svg("text", { class: "graph-title", x: cx, y: 17, "text-anchor": "middle" }, clip(title, 20)));
      const text = svg("text", { class: "graph-sub", x: cx, y: 32, "text-anchor": "middle" }, clip(sub, 26));
      text.dataset.testid = "graph-node-shape";
      g.append(text);
    } else {
      g.append(svg("text", { class: "graph-title", x: cx, y: box.h / 2 + 4, "text-anchor": "middle" }, clip(sub && unit.kind !== "op" ? `${title} · ${sub}` : title, 22)));
    }
    g.append(svg("title", {}, `${node.op}${node.scope ? " in " + node.scope : ""}\n${node.name}${shape ? "\n" + shape : ""}`));
    return g;
  }

  scopeOutput(unit) {
    for (let i = unit.members.length - 1; i >= 0; i--) {
      const node = this.graph.nodes[unit.members[i]];
      if (node.kind === "op" && Array.isArray(node.shapes) && Array.isArray(node.shapes[0])) return formatShape(node.shapes[0]);
    }
    return "";
  }

  edgePath(edge, positions, byKey) {
    const a = positions.get(edge.from);
    const b = positions.get(edge.to);
    const sx = a.x + a.w / 2;
    const sy = a.y + a.h;
    const tx = b.x + b.w / 2;
    const ty = b.y;
    let d;
    if (edge.back) {
      const side = Math.max(a.x + a.w, b.x + b.w) + 40;
      d = `M ${a.x + a.w} ${a.y + a.h / 2} C ${side} ${a.y + a.h / 2}, ${side} ${b.y + b.h / 2}, ${b.x + b.w} ${b.y + b.h / 2}`;
    } else if (b.depth - a.depth > 1 && Math.abs(sx - tx) < 40) {
      const off = Math.max(a.w, b.w) / 2 + 26; // skip connections bow out beside the chain
      d = `M ${sx} ${sy} C ${sx + off} ${sy + 50}, ${tx + off} ${ty - 50}, ${tx} ${ty}`;
    } else {
      const mid = (ty - sy) / 2;
      d = `M ${sx} ${sy} C ${sx} ${sy + mid}, ${tx} ${ty - mid}, ${tx} ${ty}`;
    }
    const path = svg("path", { class: "graph-edge" + (edge.back ? " back" : ""), d, "marker-end": "url(#graph-arrow)" });
    const source = this.graph.nodes[edge.source];
    const shape = source && Array.isArray(source.shapes) ? formatShape(source.shapes[0]) : "";
    if (shape) path.append(svg("title", {}, shape));
    void byKey;
    return path;
  }

  drawFrames(layer, visible, placed) {
    const frames = visible.frames.sort((a, b) => b.split("/").length - a.split("/").length);
    const rects = new Map();
    for (const scope of frames) {
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (const u of visible.units) {
        if (!inScope(u, scope)) continue;
        const p = placed.positions.get(u.key);
        x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x + p.w); y1 = Math.max(y1, p.y + p.h);
      }
      for (const [inner, r] of rects) {
        if (!inner.startsWith(scope + "/")) continue;
        x0 = Math.min(x0, r.x); y0 = Math.min(y0, r.y); x1 = Math.max(x1, r.x + r.w); y1 = Math.max(y1, r.y + r.h);
      }
      if (!Number.isFinite(x0)) continue;
      const pad = 10;
      const r = { x: x0 - pad, y: y0 - pad - 14, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad + 14 };
      rects.set(scope, r);
    }
    for (const scope of [...rects.keys()].reverse()) {
      const r = rects.get(scope);
      const g = svg("g", { class: "graph-frame" });
      g.dataset.testid = "graph-frame";
      g.dataset.scope = scope;
      g.append(svg("rect", { x: r.x, y: r.y, width: r.w, height: r.h, rx: 10 }));
      const label = svg("text", { class: "graph-frame-label", x: r.x + 10, y: r.y + 15 }, `− ${scope}`);
      label.dataset.testid = "graph-frame-toggle";
      g.append(label);
      layer.append(g);
    }
  }

  // ---- pan and zoom -------------------------------------------------------------------

  applyView() {
    const { k, tx, ty } = this.view;
    this.world.setAttribute("transform", `translate(${tx},${ty}) scale(${k})`);
    this.box.dataset.zoom = k.toFixed(3);
  }

  /** The whole drawing in view (`readable`: no smaller than 80 %, from the top). */
  fit(readable = false) {
    if (!this.placed) return;
    const { bounds } = this.placed;
    const W = this.box.clientWidth || 800;
    const H = this.box.clientHeight || 600;
    let k = Math.max(0.1, Math.min(1, (W - 40) / Math.max(1, bounds.w), (H - 40) / Math.max(1, bounds.h)));
    if (readable) k = Math.max(k, Math.min(0.8, (W - 40) / Math.max(1, bounds.w)));
    this.view = { k, tx: W / 2 - (bounds.x + bounds.w / 2) * k, ty: bounds.h * k < H - 40 ? (H - bounds.h * k) / 2 : 24 };
    this.applyView();
  }

  /** What stays put on screen when the drawing changes: the module box just opened or
   * closed, else the selected unit, else the view as it is. */
  anchorOf() {
    if (this.pendingAnchor) {
      const anchor = this.pendingAnchor;
      this.pendingAnchor = null;
      return anchor;
    }
    const g = this.world.querySelector(".graph-unit.selected") || null;
    if (g && this.placed) {
      const p = this.placed.positions.get(g.dataset.key);
      if (p) return { key: g.dataset.key, sx: (p.x + p.w / 2) * this.view.k + this.view.tx, sy: p.y * this.view.k + this.view.ty };
    }
    return { key: null };
  }

  /** Marks where module `scope`'s box (or its first unit, once open) is on screen. */
  holdScope(scope) {
    const unit = this.visible && this.visible.units.find((u) => inScope(u, scope) || u.key === "s:" + scope);
    const p = unit && this.placed.positions.get(unit.key);
    if (p) this.pendingAnchor = { scope, sx: (p.x + p.w / 2) * this.view.k + this.view.tx, sy: p.y * this.view.k + this.view.ty };
  }

  restoreAnchor(anchor) {
    if (anchor.scope) {
      const unit = this.visible.units.find((u) => inScope(u, anchor.scope) || u.key === "s:" + anchor.scope);
      if (unit) anchor = { ...anchor, key: unit.key };
    }
    const p = anchor.key && this.placed.positions.get(anchor.key);
    if (!p) return this.applyView();
    this.view.tx = anchor.sx - (p.x + p.w / 2) * this.view.k;
    this.view.ty = anchor.sy - p.y * this.view.k;
    this.applyView();
  }

  centerOn(key) {
    const p = this.placed && this.placed.positions.get(key);
    if (!p) return;
    const W = this.box.clientWidth;
    const H = this.box.clientHeight;
    this.view.k = Math.max(this.view.k, 0.8);
    this.view.tx = W / 2 - (p.x + p.w / 2) * this.view.k;
    this.view.ty = H / 2 - (p.y + p.h / 2) * this.view.k;
    this.applyView();
  }

  bindPanZoom() {
    let drag = null;
    this.svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = this.svg.getBoundingClientRect();
      const mx = event.clientX - box.left;
      const my = event.clientY - box.top;
      const k = Math.max(0.05, Math.min(4, this.view.k * Math.exp(-event.deltaY * 0.0015)));
      const f = k / this.view.k;
      this.view = { k, tx: mx - (mx - this.view.tx) * f, ty: my - (my - this.view.ty) * f };
      this.applyView();
    }, { passive: false });
    this.svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, tx: this.view.tx, ty: this.view.ty, moved: false, target: event.target };
      this.svg.setPointerCapture(event.pointerId);
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      this.box.classList.add("panning");
      this.view.tx = drag.tx + dx;
      this.view.ty = drag.ty + dy;
      this.applyView();
    });
    const end = () => {
      if (!drag) return;
      const { moved, target } = drag;
      drag = null;
      this.box.classList.remove("panning");
      if (!moved) this.clicked(target);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", () => { drag = null; this.box.classList.remove("panning"); });
    this.svg.addEventListener("dblclick", (event) => {
      if (!event.target.closest || !event.target.closest(".graph-unit")) this.fit(true);
    });
  }

  clicked(target) {
    const toggle = target.closest && target.closest("[data-testid=graph-frame-toggle]");
    if (toggle) return this.toggle(toggle.parentNode.dataset.scope);
    const g = target.closest && target.closest(".graph-unit");
    if (!g) return;
    if (g.dataset.scope) {
      this.toggle(g.dataset.scope);
      this.selectScope(g.dataset.scope);
    } else this.select(Number(g.dataset.nodeId), false);
  }

  // ---- selection, details and the node list -------------------------------------------

  /** Opens every collapsed module above node `id`. */
  reveal(id) {
    const node = this.graph.nodes[id];
    if (!node || !node.scope) return;
    const parts = node.scope.split("/");
    for (let d = 1; d <= parts.length; d++) this.expanded.add(parts.slice(0, d).join("/"));
  }

  select(id, fromList) {
    this.selected = id;
    this.selectedScope = null;
    setParams(this.app, { graph_node: id });
    const node = this.graph.nodes[id];
    if (fromList) {
      const before = this.expanded.size;
      this.reveal(id);
      if (node && FOLDED.has(node.kind) && !this.showFolded) {
        const user = this.graph.nodes.find((n) => n.inputs.includes(id));
        if (user) this.reveal(user.id);
      }
      if (this.expanded.size !== before) this.draw(true);
    }
    this.markSelected();
    this.renderDetails();
    if (fromList) {
      const g = this.world.querySelector(".graph-unit.selected");
      if (g) this.centerOn(g.dataset.key);
    }
    for (const row of this.nodes.querySelectorAll(".graph-node-row.active")) row.classList.remove("active");
    const row = this.nodes.querySelector(`.graph-node-row[data-node-id="${id}"]`);
    if (row) {
      row.classList.add("active");
      if (!fromList) row.scrollIntoView({ block: "nearest" });
    }
  }

  selectScope(scope) {
    this.selectedScope = scope;
    this.selected = null;
    setParams(this.app, { graph_node: "" });
    this.renderDetails();
  }

  markSelected() {
    for (const g of this.world.querySelectorAll(".graph-unit.selected, .graph-unit.uses")) g.classList.remove("selected", "uses");
    if (this.selected === null || !this.graph) return;
    const node = this.graph.nodes[this.selected];
    let g = this.world.querySelector(`.graph-unit[data-node-id="${this.selected}"]`);
    if (!g && node) {
      // a folded node (a constant, a weight): mark the op that reads it
      const user = this.graph.nodes.find((n) => n.inputs.includes(node.id) && !FOLDED.has(n.kind));
      if (user) g = this.world.querySelector(`.graph-unit[data-node-id="${user.id}"]`);
      if (g) g.classList.add("uses");
    }
    if (!g && node && node.scope) {
      for (const box of this.world.querySelectorAll(".graph-unit[data-scope]")) {
        if (node.scope === box.dataset.scope || node.scope.startsWith(box.dataset.scope + "/")) g = box;
      }
    }
    if (g) g.classList.add("selected");
  }

  renderDetails() {
    const box = this.details;
    box.replaceChildren();
    const graph = this.graph;
    if (!graph) return;
    if (this.selectedScope) {
      const scope = this.selectedScope;
      box.append(el("div", "graph-details-title", scope));
      box.append(this.fact("ops", String(graph.scopes[scope] || 0)));
      const inner = Object.keys(graph.scopes).filter((s) => s.startsWith(scope + "/") && !s.slice(scope.length + 1).includes("/"));
      if (inner.length) box.append(this.fact("modules", inner.map(leaf).join(", ")));
      box.append(this.fact("state", this.expanded.has(scope) ? "open" : "collapsed"));
      return;
    }
    const node = this.selected === null ? null : graph.nodes[this.selected];
    if (!node) {
      box.append(el("div", "graph-details-hint", "Click a node to see its op, inputs, outputs and shapes."));
      return;
    }
    box.dataset.nodeId = String(node.id);
    const title = el("div", "graph-details-title", node.op);
    title.dataset.testid = "graph-details-op";
    box.append(title);
    box.append(this.fact("name", node.name));
    if (node.scope) box.append(this.fact("scope", node.scope));
    box.append(this.fact("kind", node.kind));
    if (node.attributes && node.attributes.value !== undefined) box.append(this.fact("value", String(node.attributes.value)));
    const inputs = el("div", "graph-io");
    inputs.dataset.testid = "graph-details-inputs";
    inputs.append(el("div", "graph-io-head", `Inputs (${node.input_names.length})`));
    node.input_names.forEach((name, i) => {
      const source = graph.nodes[this.sourceOf(node, i)];
      const row = el("div", "graph-io-row");
      const what = source ? (source.kind === "constant" && source.attributes ? String(source.attributes.value) : source.kind === "op" ? shortOp(source.op) : source.kind) : "";
      const shape = source && Array.isArray(source.shapes) ? formatShape(source.shapes[0]) : "";
      row.append(el("span", "graph-io-name", name), el("span", "graph-io-what", clip(what, 40)), el("span", "graph-io-shape", shape));
      if (source) {
        row.classList.add("link");
        row.addEventListener("click", () => this.select(source.id, true));
      }
      inputs.append(row);
    });
    const outputs = el("div", "graph-io");
    outputs.dataset.testid = "graph-details-outputs";
    outputs.append(el("div", "graph-io-head", `Outputs (${node.outputs.length})`));
    node.outputs.forEach((type, i) => {
      const shape = Array.isArray(node.shapes) ? formatShape(node.shapes[i]) : "";
      const row = el("div", "graph-io-row");
      row.append(el("span", "graph-io-name", clip(type, 40)), el("span", "graph-io-shape", shape));
      outputs.append(row);
    });
    box.append(inputs, outputs);
  }

  sourceOf(node, i) {
    return node.inputs[i] === null ? undefined : node.inputs[i];
  }

  fact(label, value) {
    const row = el("div", "graph-fact");
    row.append(el("span", "graph-fact-label", label), el("span", "graph-fact-value", value));
    return row;
  }

  renderNodes() {
    const graph = this.graph;
    this.nodes.replaceChildren();
    if (!graph) return;
    const pattern = userRegex(this.filter.value);
    this.filter.classList.toggle("invalid", Boolean(this.filter.value) && pattern === null);
    const shown = graph.nodes.filter((n) => !pattern || pattern.test(n.name) || pattern.test(n.op) || pattern.test(n.scope));
    this.nodeCount.textContent = shown.length === graph.nodes.length ? `${graph.nodes.length} nodes` : `${shown.length} of ${graph.nodes.length}`;
    const rows = [];
    for (const node of shown.slice(0, LIST_LIMIT)) {
      const row = el("button", "graph-node-row kind-" + node.kind);
      row.type = "button";
      row.dataset.testid = "graph-node-row";
      row.dataset.nodeId = String(node.id);
      row.dataset.name = node.name;
      row.dataset.op = node.op;
      row.dataset.kind = node.kind;
      if (node.id === this.selected) row.classList.add("active");
      const shape = Array.isArray(node.shapes) ? formatShape(node.shapes[0]) : "";
      row.append(el("span", "graph-node-op", shortOp(node.op)), el("span", "graph-node-name", node.name), el("span", "graph-node-shape", shape));
      row.title = `${node.op} · ${node.name}${node.scope ? " · " + node.scope : ""}`;
      row.addEventListener("click", () => this.select(node.id, true));
      rows.push(row);
    }
    if (shown.length > LIST_LIMIT) rows.push(el("div", "graph-more muted", `… ${shown.length - LIST_LIMIT} more: narrow the filter`));
    this.nodes.append(...rows);
  }

  showMessage(text, state) {
    this.message.hidden = false;
    this.message.textContent = text;
    this.message.classList.toggle("error", state === "error");
    this.box.dataset.state = state;
  }
}

export async function mount(element, app) {
  useStyle("series_list");
  useStyle("graphs");
  const view = new GraphsView(element, app);
  app.store.subscribe((_state, keys) => {
    if (keys.has("runs")) view.renderList();
  });
  app.events.on("runs", () => view.loadTags());
  await view.loadTags();
}
