// Parallel coordinates in SVG: one vertical axis per column (linear, log or categorical), one
// polyline per table row, and a brush per axis (drag along it; a click clears it). The chart
// calls onBrush(matching rows) while a brush moves and onBrushEnd(matching rows) when it is let
// go; the view turns the latter into the runs panel's selection.

import { el, formatValue } from "../format.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 320;
const TOP = 44;
const BOTTOM = 26;
const SIDE = 70;
const HIT = 26;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** A scale for the values of one column: {kind, toFrac(v) in [0, 1] or null, ticks, fromFrac}. */
export function makeScale(kind, values, domain) {
  if (kind === "category") {
    const seen = [...new Set(values.filter((v) => v !== null && v !== undefined).map(String))];
    const cats = domain ? [...new Set([...domain.map(String), ...seen])] : seen.sort();
    const index = new Map(cats.map((c, i) => [c, i]));
    const at = (i) => (cats.length < 2 ? 0.5 : i / (cats.length - 1));
    return {
      kind: "category", cats, lo: 0, hi: cats.length - 1,
      toFrac: (v) => (v === null || v === undefined || !index.has(String(v)) ? null : at(index.get(String(v)))),
      ticks: cats.map((c, i) => [at(i), c]),
    };
  }
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!finite.length) [lo, hi] = [0, 1];
  const log = lo > 0 && hi / lo >= 100;
  if (lo === hi) { lo -= log ? lo / 2 : 1; hi += log ? hi : 1; }
  const f = log ? Math.log10 : (v) => v;
  const [a, b] = [f(lo), f(hi)];
  const toFrac = (v) => (typeof v !== "number" || !Number.isFinite(v) || (log && v <= 0) ? null : (f(v) - a) / (b - a));
  const fromFrac = (t) => (log ? 10 ** (a + t * (b - a)) : a + t * (b - a));
  const ticks = [];
  for (let i = 0; i <= 4; i++) ticks.push([i / 4, formatValue(Number(fromFrac(i / 4).toPrecision(3)))]);
  return { kind: log ? "log" : "linear", lo, hi, toFrac, fromFrac, ticks };
}

/**
 * Whether a row's value passes a brush {from, to} (fractions of the axis, 0 = bottom). On a
 * categorical axis a brush reaching within a quarter of the spacing of a category takes it.
 */
function inBrush(frac, brush, scale) {
  const slack = scale.cats ? 0.25 / Math.max(1, scale.cats.length - 1) : 1e-9;
  return frac !== null && frac >= brush.from - slack && frac <= brush.to + slack;
}

/**
 * A chart over `columns` ([{key, label, kind, metric}]) and `rows` (with get(row, key));
 * returns {el, update(rows, colorOf, highlighted), brushes, clear()}.
 */
export function createParallelCoords({ get, onBrush, onBrushEnd }) {
  const pc = { brushes: new Map(), columns: [], rows: [], scales: new Map(), paths: [] };
  pc.el = el("div", "pc");
  pc.el.dataset.testid = "parallel-coords";
  const root = svg("svg", { class: "pc-svg", height: HEIGHT });
  pc.el.append(root);
  const lines = svg("g", { class: "pc-lines" });
  const axes = svg("g", { class: "pc-axes" });
  root.append(lines, axes);

  const fracOf = (row, key) => pc.scales.get(key).toFrac(get(row, key));
  pc.matching = () => pc.rows.filter((row) => {
    for (const [key, b] of pc.brushes) if (!pc.scales.has(key) || !inBrush(fracOf(row, key), b, pc.scales.get(key))) return false;
    return true;
  });

  function layout() {
    const width = Math.max(480, pc.el.clientWidth || 900);
    root.setAttribute("width", width);
    root.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const n = pc.columns.length;
    const step = n > 1 ? (width - 2 * SIDE) / (n - 1) : 0;
    pc.x = pc.columns.map((_, i) => (n > 1 ? SIDE + i * step : width / 2));
    pc.y = (frac) => TOP + (1 - frac) * (HEIGHT - TOP - BOTTOM);
  }

  function drawLines() {
    const parts = [];
    for (const row of pc.rows) {
      let d = "";
      let pen = false;
      pc.columns.forEach((c, i) => {
        const frac = fracOf(row, c.key);
        if (frac === null) { pen = false; return; }
        d += (pen ? "L" : "M") + pc.x[i].toFixed(1) + " " + pc.y(frac).toFixed(1);
        pen = true;
      });
      const path = svg("path", { d, class: "pc-line" });
      path.dataset.rowId = row.id;
      parts.push(path);
    }
    pc.paths = parts;
    lines.replaceChildren(...parts);
  }

  function drawAxis(c, i) {
    const scale = pc.scales.get(c.key);
    const g = svg("g", { class: "pc-axis" + (c.metric ? " pc-metric" : ""), transform: `translate(${pc.x[i]},0)` });
    g.dataset.testid = "pc-axis";
    g.dataset.key = c.key;
    g.dataset.scale = scale.kind;
    g.dataset.lo = String(scale.lo);
    g.dataset.hi = String(scale.hi);
    if (scale.cats) g.dataset.categories = JSON.stringify(scale.cats);
    const title = svg("text", { class: "pc-title", y: TOP - 22, "text-anchor": "middle" }, c.label.length > 18 ? "…" + c.label.slice(-17) : c.label);
    title.append(svg("title", {}, c.label + (c.metric ? " (metric)" : "") + " — drag along the axis to brush, click to clear"));
    g.append(title, svg("line", { class: "pc-axis-line", x1: 0, x2: 0, y1: pc.y(1), y2: pc.y(0) }));
    for (const [frac, label] of scale.ticks) {
      const y = pc.y(frac);
      g.append(svg("line", { class: "pc-tick", x1: -4, x2: 0, y1: y, y2: y }));
      g.append(svg("text", { class: "pc-tick-label", x: -7, y: y + 3.5, "text-anchor": "end" }, String(label).slice(0, 14)));
    }
    const brushRect = svg("rect", { class: "pc-brush", x: -8, width: 16, rx: 3 });
    brushRect.style.display = "none";
    const hit = svg("rect", { class: "pc-hit", x: -HIT / 2, width: HIT, y: pc.y(1), height: pc.y(0) - pc.y(1) });
    hit.dataset.testid = "pc-axis-hit";
    g.append(brushRect, hit);
    const show = (b) => {
      if (!b) { brushRect.style.display = "none"; delete g.dataset.brushFrom; delete g.dataset.brushTo; return; }
      brushRect.style.display = "";
      brushRect.setAttribute("y", pc.y(b.to));
      brushRect.setAttribute("height", Math.max(1, pc.y(b.from) - pc.y(b.to)));
      g.dataset.brushFrom = String(b.from);
      g.dataset.brushTo = String(b.to);
    };
    show(pc.brushes.get(c.key));
    hit.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      hit.setPointerCapture(event.pointerId);
      pc.dragging = true;
      const box = root.getBoundingClientRect();
      const fracAt = (e) => Math.max(0, Math.min(1, 1 - (e.clientY - box.top - TOP) / (HEIGHT - TOP - BOTTOM)));
      const start = fracAt(event);
      let moved = false;
      const move = (e) => {
        const now = fracAt(e);
        if (Math.abs(pc.y(now) - pc.y(start)) < 3 && !moved) return;
        moved = true;
        const b = { from: Math.min(start, now), to: Math.max(start, now) };
        pc.brushes.set(c.key, b);
        show(b);
        paint(pc.matching());
        if (onBrush) onBrush(pc.matching());
      };
      const up = (e) => {
        hit.removeEventListener("pointermove", move);
        hit.removeEventListener("pointerup", up);
        hit.removeEventListener("pointercancel", up);
        pc.dragging = false;
        if (!moved) { pc.brushes.delete(c.key); show(null); } else move(e);
        paint(pc.matching());
        onBrushEnd(pc.matching(), pc.brushes.size > 0);
        if (pc.pending) { const args = pc.pending; pc.pending = null; pc.update(...args); }
      };
      hit.addEventListener("pointermove", move);
      hit.addEventListener("pointerup", up);
      hit.addEventListener("pointercancel", up);
    });
    return g;
  }

  /** Colour the lines of `lit` rows with their run's colour, the others faint. */
  function paint(lit) {
    const on = new Set(lit.map((r) => r.id));
    for (const path of pc.paths) {
      const id = path.dataset.rowId;
      const isOn = on.has(id);
      path.classList.toggle("pc-on", isOn);
      path.style.stroke = isOn ? pc.colorOf(pc.byId.get(id)) : "";
    }
    for (const path of pc.paths) if (path.classList.contains("pc-on")) lines.append(path); // lit lines on top
  }

  pc.update = (columns, rows, colorOf, lit) => {
    // A redraw replaces the axes; during a drag it would drop the dragged axis and its brush's
    // end, so it waits for the pointer to be let go.
    if (pc.dragging) { pc.pending = [columns, rows, colorOf, lit]; return; }
    pc.columns = columns;
    pc.rows = rows;
    pc.colorOf = colorOf;
    pc.byId = new Map(rows.map((r) => [r.id, r]));
    pc.scales = new Map(columns.map((c) => [c.key, makeScale(c.kind, rows.map((r) => get(r, c.key)), c.domain)]));
    for (const key of [...pc.brushes.keys()]) if (!pc.scales.has(key)) pc.brushes.delete(key);
    layout();
    drawLines();
    axes.replaceChildren(...columns.map(drawAxis));
    paint(pc.brushes.size ? pc.matching() : lit);
  };
  pc.repaint = (lit) => { if (!pc.dragging) paint(pc.brushes.size ? pc.matching() : lit); };
  pc.clear = () => { pc.brushes.clear(); };
  return pc;
}
