// The graphs view's layout (pure functions, no DOM): which units are on screen given the
// expanded scopes, the edges between them, and a layered layout by topological depth.
//
// A unit is an op (or graph input/output), or a collapsed module scope standing for every op
// under it. Only scopes that hold other scopes (containers: a Sequential, a block) collapse;
// a leaf module's ops are drawn as themselves, labelled with the module's name. Constants,
// parameters (GetAttr of a weight) and submodule reads are folded into the ops that use them
// unless asked for. Traced graphs list nodes in execution order, so ordering units by their
// first node keeps every producer before its consumers; an edge that goes back in that order
// (two calls of one module folded into one box) is drawn but not used for depth.

export const FOLDED = new Set(["constant", "param", "attr", "update"]);

const SIZES = {
  op: { w: 150, h: 40 },
  scope: { w: 178, h: 50 },
  input: { w: 128, h: 34 },
  output: { w: 128, h: 34 },
  constant: { w: 128, h: 30 },
  param: { w: 128, h: 30 },
  attr: { w: 128, h: 30 },
  update: { w: 150, h: 40 },
};
const LAYER_GAP = 46;
const NODE_GAP = 22;

/** The set of scopes that contain other scopes (the only ones that collapse). */
export function containerScopes(scopes) {
  const containers = new Set();
  for (const path of Object.keys(scopes)) {
    const parts = path.split("/");
    for (let d = 1; d < parts.length; d++) containers.add(parts.slice(0, d).join("/"));
  }
  return containers;
}

/** The unit key of node `n`: "n:<id>", "s:<scope>" (collapsed), or null (folded away). */
export function unitKey(node, containers, expanded, showFolded) {
  if (FOLDED.has(node.kind) && !showFolded) return null;
  if (node.scope) {
    const parts = node.scope.split("/");
    for (let d = 1; d <= parts.length; d++) {
      const prefix = parts.slice(0, d).join("/");
      if (containers.has(prefix) && !expanded.has(prefix)) return "s:" + prefix;
    }
  }
  return "n:" + node.id;
}

/**
 * visibleGraph(graph, expanded, showFolded) -> {units: [unit], edges: [{from, to, back}],
 * frames: [scope]} where a unit is {key, kind, node?, scope?, members: [node ids], order}.
 */
export function visibleGraph(graph, expanded, showFolded = false) {
  const containers = containerScopes(graph.scopes);
  const byKey = new Map();
  const keyOf = new Array(graph.nodes.length).fill(null);
  for (const node of graph.nodes) {
    const key = unitKey(node, containers, expanded, showFolded);
    keyOf[node.id] = key;
    if (key === null) continue;
    let unit = byKey.get(key);
    if (!unit) {
      unit = key.startsWith("s:")
        ? { key, kind: "scope", scope: key.slice(2), members: [], order: node.id }
        : { key, kind: node.kind, node, members: [], order: node.id };
      byKey.set(key, unit);
    }
    unit.members.push(node.id);
  }
  const units = [...byKey.values()].sort((a, b) => a.order - b.order);
  const edges = [];
  const seen = new Set();
  for (const node of graph.nodes) {
    const to = keyOf[node.id];
    if (to === null) continue;
    for (const source of node.inputs) {
      if (source === null) continue;
      const from = keyOf[source];
      if (from === null || from === to) continue;
      const id = from + "|" + to;
      if (seen.has(id)) continue;
      seen.add(id);
      edges.push({ from, to, source });
    }
  }
  const frames = [...expanded].filter((s) => containers.has(s) && units.some((u) => inScope(u, s)));
  return { units, edges, frames, containers };
}

/** Whether unit `u` is drawn inside the expanded scope `scope`. */
export function inScope(unit, scope) {
  const path = unit.kind === "scope" ? unit.scope : unit.node.scope;
  return path === scope || (path || "").startsWith(scope + "/");
}

/**
 * layout(visible) -> {positions: Map key -> {x, y, w, h}, width, height, bounds}: layers by
 * longest path from the inputs, each layer ordered by its parents' mean x and packed around
 * the x its parents want, so a chain stays straight.
 */
export function layout(visible) {
  const { units, edges } = visible;
  const index = new Map(units.map((u, i) => [u.key, i]));
  const parents = units.map(() => []);
  for (const e of edges) {
    const a = index.get(e.from);
    const b = index.get(e.to);
    e.back = a >= b;
    if (!e.back) parents[b].push(a);
  }
  const depth = new Array(units.length).fill(0);
  for (let i = 0; i < units.length; i++) {
    for (const p of parents[i]) depth[i] = Math.max(depth[i], depth[p] + 1);
    // an op fed only by folded values (BatchNorm's counter update) sits where it runs
    if (!parents[i].length && i > 0 && units[i].kind !== "input") depth[i] = depth[i - 1];
  }
  const layers = [];
  units.forEach((_, i) => (layers[depth[i]] ||= []).push(i));
  const size = units.map((u) => SIZES[u.kind] || SIZES.op);
  const x = new Array(units.length).fill(0);
  const y = new Array(units.length).fill(0);
  let top = 0;
  for (const layer of layers) {
    if (!layer) continue;
    const want = layer.map((i) => (parents[i].length ? parents[i].reduce((s, p) => s + x[p], 0) / parents[i].length : 0));
    const order = layer.map((i, k) => k).sort((a, b) => want[a] - want[b] || layer[a] - layer[b]);
    const placed = [];
    let prevRight = -Infinity;
    for (const k of order) {
      const i = layer[k];
      const half = size[i].w / 2;
      const at = Math.max(want[k], prevRight + NODE_GAP + half);
      placed.push([i, at, want[k]]);
      prevRight = at + half;
    }
    const shift = placed.reduce((s, [, at, w]) => s + (w - at), 0) / placed.length;
    const height = Math.max(...layer.map((i) => size[i].h));
    for (const [i, at] of placed) {
      x[i] = at + shift;
      y[i] = top + (height - size[i].h) / 2;
    }
    top += height + LAYER_GAP;
  }
  const positions = new Map();
  let minX = Infinity;
  let maxX = -Infinity;
  units.forEach((u, i) => {
    const box = { x: x[i] - size[i].w / 2, y: y[i], w: size[i].w, h: size[i].h, depth: depth[i] };
    positions.set(u.key, box);
    minX = Math.min(minX, box.x);
    maxX = Math.max(maxX, box.x + box.w);
  });
  if (!units.length) minX = maxX = 0;
  return { positions, bounds: { x: minX, y: 0, w: maxX - minX, h: Math.max(0, top - LAYER_GAP) } };
}

/** An op name as people read it: "aten::_convolution" -> "convolution". */
export function shortOp(op) {
  const name = String(op || "").split("::").pop();
  return name.replace(/^_+/, "") || op;
}

/** A shape as "1×64×32×32" ("scalar" for [], "" when unknown). */
export function formatShape(shape) {
  if (!Array.isArray(shape)) return "";
  return shape.length ? shape.join("×") : "scalar";
}
