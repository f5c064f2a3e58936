// The Embeddings view, a projector-lite: the tags and runs that logged add_embedding on the
// left; the open one's points on their first two or three principal components (computed on
// the server) drawn on a canvas, coloured by a metadata column, with the hovered point's
// metadata and label_img thumbnail. 2-D: drag to pan, wheel to zoom. 3-D: drag to rotate,
// shift-drag to pan, wheel to zoom. Double-click resets. A search (regex over the metadata)
// rings the matching points. URL parameters: emb_tag, emb_run, emb_step, emb_dims (2|3),
// emb_color (a column), emb_q.

import { getJSON } from "../api.js";
import { PALETTE, runColor } from "../colors.js";
import { el, formatValue } from "../format.js";
import { userRegex } from "../state.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { getArrays } from "./arrays_wire.js";
import { pickCurrent, renderList, stepSlider, visibleEntries } from "./series_list.js";

const CATEGORIES = 16;
const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]; // viridis stops
const OTHER = "#9aa1b1";

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function ramp(t) {
  const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const a = hexToRgb(RAMP[i]);
  const b = hexToRgb(RAMP[i + 1]);
  const f = x - i;
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
}

/** How points are coloured by one metadata column: {colorOf: Int32 per point -> style index,
 * styles: [css], legend: [{label, color, count}], kind}. */
function colouring(values, n) {
  if (!values) return { index: new Int32Array(n), styles: [PALETTE[0]], legend: [], kind: "none" };
  const numeric = values.every((v) => typeof v === "number" && Number.isFinite(v));
  const distinct = new Map();
  for (const v of values) distinct.set(String(v), (distinct.get(String(v)) || 0) + 1);
  if (numeric && distinct.size > CATEGORIES) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const steps = 32;
    const styles = Array.from({ length: steps }, (_, i) => ramp(i / (steps - 1)));
    const index = new Int32Array(n);
    values.forEach((v, i) => { index[i] = hi > lo ? Math.round(((v - lo) / (hi - lo)) * (steps - 1)) : 0; });
    return { index, styles, legend: [{ label: formatValue(lo), color: styles[0] }, { label: formatValue(hi), color: styles[steps - 1] }], kind: "numeric" };
  }
  const ranked = [...distinct.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = ranked.slice(0, CATEGORIES);
  const slot = new Map(top.map(([label], i) => [label, i]));
  const styles = [...top.map((_, i) => PALETTE[i % PALETTE.length]), OTHER];
  const index = new Int32Array(n);
  values.forEach((v, i) => { const s = slot.get(String(v)); index[i] = s === undefined ? top.length : s; });
  const legend = top.map(([label, count], i) => ({ label, color: styles[i], count }));
  const rest = ranked.slice(CATEGORIES).reduce((s, [, c]) => s + c, 0);
  if (rest) legend.push({ label: `${ranked.length - CATEGORIES} more`, color: OTHER, count: rest });
  return { index, styles, legend, kind: "category" };
}

/** A filled disc of `color` on a small canvas, drawn with drawImage (far faster than arc). */
function discSprite(color, radius, dpr) {
  const size = Math.ceil((radius + 1.5) * 2 * dpr);
  const c = document.createElement("canvas");
  c.width = c.height = size;
  const g = c.getContext("2d");
  g.fillStyle = color;
  g.beginPath();
  g.arc(size / 2, size / 2, radius * dpr, 0, Math.PI * 2);
  g.fill();
  g.lineWidth = 0.8 * dpr;
  g.strokeStyle = "rgba(0,0,0,0.25)";
  g.stroke();
  return c;
}

class EmbeddingsView {
  constructor(element, app) {
    this.app = app;
    this.tags = [];
    this.current = null;
    this.data = null;
    this.cache = new Map();
    this.sprite = null;
    this.hovered = -1;
    this.cam = this.resetCamera();
    this.build(element);
    this.hook = {
      state: "idle", points: 0,
      coords: () => (this.data ? Array.from(this.data.coords) : null),
      screen: (i) => this.screenOf(i),
      hovered: () => this.hovered,
    };
    window.localtrack.embeddings = this.hook;
  }

  resetCamera() {
    return { zoom: 1, panX: 0, panY: 0, yaw: -0.6, pitch: 0.35 };
  }

  build(element) {
    const root = el("div", "v3-view embeddings-view");
    root.dataset.testid = "embeddings-view";
    const bar = el("div", "toolbar");
    this.slider = stepSlider("emb-step", (step) => this.openStep(step));
    const dims = el("div", "segmented");
    dims.dataset.testid = "emb-dims";
    this.dimButtons = ["2", "3"].map((d) => {
      const b = el("button", "segment", d + "-D");
      b.type = "button";
      b.dataset.dims = d;
      b.addEventListener("click", () => {
        setParams(this.app, { emb_dims: d === "2" ? "" : d });
        this.cam = this.resetCamera();
        this.openStep(this.current && this.current.step);
      });
      dims.append(b);
      return b;
    });
    const colorBox = el("label", "control");
    this.colorSelect = document.createElement("select");
    this.colorSelect.className = "select";
    this.colorSelect.dataset.testid = "emb-color";
    this.colorSelect.addEventListener("change", () => {
      setParams(this.app, { emb_color: this.colorSelect.value });
      this.recolour();
    });
    colorBox.append(el("span", "control-label", "Colour by"), this.colorSelect);
    this.search = el("input", "input emb-search");
    Object.assign(this.search, { type: "search", placeholder: "Find points (regex over metadata)", spellcheck: false });
    this.search.dataset.testid = "emb-search";
    this.search.value = getParam(this.app, "emb_q");
    this.search.addEventListener("input", () => {
      setParams(this.app, { emb_q: this.search.value });
      this.findMatches();
      this.draw();
    });
    this.matches = el("span", "toolbar-summary");
    this.matches.dataset.testid = "emb-matches";
    bar.append(this.slider.element, dims, colorBox, this.search, el("span", "spacer"), this.matches);

    const body = el("div", "v3-body");
    this.list = el("aside", "series-list");
    this.list.dataset.testid = "emb-list";
    const stage = el("section", "v3-stage");
    const head = el("div", "v3-stage-head");
    this.swatch = el("span", "swatch");
    this.title = el("span", "v3-title");
    this.counts = el("span", "v3-counts");
    this.counts.dataset.testid = "emb-counts";
    head.append(this.swatch, this.title, this.counts);
    this.box = el("div", "emb-box");
    this.canvas = el("canvas", "emb-canvas");
    this.canvas.dataset.testid = "emb-canvas";
    this.overlay = el("canvas", "emb-overlay");
    this.legend = el("div", "emb-legend");
    this.legend.dataset.testid = "emb-legend";
    this.tip = el("div", "emb-tip");
    this.tip.dataset.testid = "emb-tooltip";
    this.tip.hidden = true;
    this.message = el("div", "v3-message");
    this.box.append(this.canvas, this.overlay, this.legend, this.tip, this.message);
    const foot = el("div", "v3-foot");
    this.hint = el("span", "", "");
    this.meta = el("span", "v3-meta");
    foot.append(this.hint, this.meta);
    stage.append(head, this.box, foot);
    body.append(this.list, stage);
    root.append(bar, body);
    element.replaceChildren(root);
    this.bindInput();
    new ResizeObserver(() => this.draw()).observe(this.box);
  }

  dims() {
    return getParam(this.app, "emb_dims") === "3" ? 3 : 2;
  }

  // ---- the list, and loading a row ----------------------------------------------------

  async loadTags() {
    try {
      this.tags = (await getJSON("/api/embeddings/tags")).tags;
    } catch (error) {
      this.fail("Could not list the embeddings: " + error.message);
      return;
    }
    this.renderList();
  }

  renderList() {
    const entries = visibleEntries(this.tags, this.app.selected());
    const picked = pickCurrent(entries, getParam(this.app, "emb_tag"), getParam(this.app, "emb_run"));
    renderList(this.list, this.app, {
      entries, allTags: this.tags, what: "embeddings", current: picked,
      onPick: (tag, r) => this.open(tag, r.run_id, null),
      detail: (r) => `${Number(r.points).toLocaleString()} × ${r.dims}`,
    });
    if (!picked) {
      this.current = null;
      this.data = null;
      this.draw();
      this.showMessage(this.tags.length ? "Select a run that logged embeddings." : "No embeddings logged yet: SummaryWriter.add_embedding(mat, metadata, label_img).", "empty");
      return;
    }
    if (!this.current || this.current.tag !== picked.tag || this.current.run !== picked.run) {
      this.open(picked.tag, picked.run, Number(getParam(this.app, "emb_step", "NaN")));
    }
  }

  open(tag, run, step) {
    const t = this.tags.find((x) => x.tag === tag);
    const r = t && t.runs.find((x) => x.run_id === run);
    if (!r) return;
    this.current = { tag, run, steps: r.steps, step: null };
    setParams(this.app, { emb_tag: tag, emb_run: run });
    for (const row of this.list.querySelectorAll(".series-row")) {
      row.classList.toggle("active", row.dataset.tag === tag && row.dataset.runId === run);
    }
    const info = this.app.runsById.get(run);
    this.swatch.style.background = runColor(run);
    this.title.textContent = `${tag} · ${info ? info.name || run : run}`;
    this.cam = this.resetCamera();
    this.openStep(this.slider.set(r.steps, step));
  }

  async openStep(step) {
    if (!this.current) return;
    const { tag, run, steps } = this.current;
    this.current.step = step;
    setParams(this.app, { emb_step: step === steps[steps.length - 1] ? "" : step });
    const dims = this.dims();
    for (const b of this.dimButtons) b.classList.toggle("active", b.dataset.dims === String(dims));
    const key = `${run}\u0000${tag}\u0000${step}\u0000${dims}`;
    let answer = this.cache.get(key);
    if (!answer) {
      this.setState("loading");
      if (this.loading) this.loading.abort();
      const controller = new AbortController();
      this.loading = controller;
      try {
        answer = await getArrays("/api/embeddings/projection", { run, tag, step, dims }, controller.signal);
      } catch (error) {
        if (error.name === "AbortError") return;
        this.fail("Could not load the embedding: " + error.message);
        return;
      }
      this.cache.set(key, answer);
      if (this.cache.size > 8) this.cache.delete(this.cache.keys().next().value);
    }
    if (!this.current || this.current.run !== run || this.current.tag !== tag || this.current.step !== step) return;
    this.show(answer, dims);
  }

  show(answer, dims) {
    const h = answer.header;
    const coords = answer.arrays.coords.data;
    const k = answer.arrays.coords.shape[1];
    let scale = 0;
    for (let i = 0; i < coords.length; i++) scale = Math.max(scale, Math.abs(coords[i]));
    this.data = { header: h, coords, k, dims, scale: scale || 1, n: h.points };
    const pct = h.explained.slice(0, dims).map((e) => (e * 100).toFixed(1) + " %").join(" + ");
    this.counts.textContent = `${h.points.toLocaleString()} points · ${h.dims} dims · PCA ${dims}-D: ${pct} of the variance`;
    this.counts.dataset.points = String(h.points);
    this.meta.textContent = `step ${h.step}` + (h.images ? ` · thumbnails ${h.images.cell_w}×${h.images.cell_h}` : "");
    this.hint.textContent = dims === 3
      ? "Drag to rotate · shift-drag to pan · wheel to zoom · double-click to reset"
      : "Drag to pan · wheel to zoom · double-click to reset";
    this.fillColours(h.metadata);
    this.findMatches();
    this.sprite = null;
    delete this.box.dataset.sprite;
    if (h.images) this.loadSprite();
    this.message.hidden = true;
    this.draw();
  }

  loadSprite() {
    const { run, tag, step } = this.current;
    const img = new Image();
    img.decoding = "async";
    this.box.dataset.sprite = "loading";
    img.onload = () => {
      if (!this.current || this.current.run !== run || this.current.tag !== tag || this.current.step !== step) return;
      this.sprite = img;
      this.box.dataset.sprite = "loaded";
    };
    img.src = "/api/embeddings/sprite?" + new URLSearchParams({ run, tag, step: String(step) });
  }

  fillColours(metadata) {
    const columns = metadata ? metadata.columns : [];
    const wanted = getParam(this.app, "emb_color", columns[0] || "");
    this.colorSelect.replaceChildren(...["", ...columns].map((c) => {
      const o = document.createElement("option");
      o.value = c;
      o.textContent = c || "(none)";
      return o;
    }));
    this.colorSelect.value = columns.includes(wanted) ? wanted : "";
    this.colorSelect.disabled = !columns.length;
    this.recolour(false);
  }

  recolour(redraw = true) {
    const d = this.data;
    if (!d) return;
    const meta = d.header.metadata;
    const column = meta ? meta.columns.indexOf(this.colorSelect.value) : -1;
    d.colours = colouring(column >= 0 ? meta.values[column] : null, d.n);
    this.renderLegend(d.colours);
    this.discs = null;
    if (redraw) this.draw();
  }

  renderLegend(colours) {
    this.legend.replaceChildren();
    this.legend.hidden = !colours.legend.length;
    this.legend.classList.toggle("numeric", colours.kind === "numeric");
    if (colours.kind === "numeric") {
      const bar = el("div", "emb-ramp");
      bar.style.background = `linear-gradient(90deg, ${RAMP.join(", ")})`;
      this.legend.append(el("span", "emb-legend-label", colours.legend[0].label), bar, el("span", "emb-legend-label", colours.legend[1].label));
      return;
    }
    for (const item of colours.legend) {
      const row = el("div", "emb-legend-row");
      row.dataset.testid = "emb-legend-row";
      const swatch = el("span", "emb-legend-swatch");
      swatch.style.background = item.color;
      row.append(swatch, el("span", "emb-legend-label", item.label), el("span", "emb-legend-count", item.count.toLocaleString()));
      this.legend.append(row);
    }
  }

  findMatches() {
    const d = this.data;
    this.matched = null;
    const pattern = userRegex(this.search.value);
    this.search.classList.toggle("invalid", Boolean(this.search.value) && pattern === null);
    if (!d || !pattern || !this.search.value) {
      this.matches.textContent = "";
      return;
    }
    const meta = d.header.metadata;
    const hits = [];
    if (meta) {
      for (let i = 0; i < d.n; i++) {
        if (meta.values.some((col) => pattern.test(String(col[i])))) hits.push(i);
      }
    }
    this.matched = hits;
    this.matches.textContent = `${hits.length.toLocaleString()} of ${d.n.toLocaleString()} points match`;
    this.matches.dataset.count = String(hits.length);
  }

  // ---- drawing ------------------------------------------------------------------------

  /** Screen positions (CSS px in the canvas) and depth of every point for the camera. */
  project() {
    const d = this.data;
    const W = this.box.clientWidth;
    const H = this.box.clientHeight;
    const unit = (Math.min(W, H) / 2 - 24) / d.scale * this.cam.zoom;
    const cx = W / 2 + this.cam.panX;
    const cy = H / 2 + this.cam.panY;
    const xs = new Float32Array(d.n);
    const ys = new Float32Array(d.n);
    const zs = d.dims === 3 ? new Float32Array(d.n) : null;
    const c = d.coords;
    const k = d.k;
    if (d.dims === 2) {
      for (let i = 0; i < d.n; i++) {
        xs[i] = cx + c[i * k] * unit;
        ys[i] = cy - c[i * k + 1] * unit;
      }
    } else {
      const cyaw = Math.cos(this.cam.yaw), syaw = Math.sin(this.cam.yaw);
      const cp = Math.cos(this.cam.pitch), sp = Math.sin(this.cam.pitch);
      for (let i = 0; i < d.n; i++) {
        const x = c[i * k], y = c[i * k + 1], z = c[i * k + 2];
        const x1 = cyaw * x + syaw * z;
        const z1 = -syaw * x + cyaw * z;
        const y2 = cp * y - sp * z1;
        const z2 = sp * y + cp * z1;
        const f = 1 / (1 + 0.25 * (z2 / d.scale)); // a little perspective
        xs[i] = cx + x1 * unit * f;
        ys[i] = cy - y2 * unit * f;
        zs[i] = z2;
      }
    }
    return { xs, ys, zs, unit, cx, cy };
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const W = this.box.clientWidth;
    const H = this.box.clientHeight;
    for (const c of [this.canvas, this.overlay]) {
      const w = Math.max(1, Math.round(W * dpr));
      const h = Math.max(1, Math.round(H * dpr));
      if (c.width !== w || c.height !== h) Object.assign(c, { width: w, height: h });
    }
    const g = this.canvas.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.overlay.getContext("2d").clearRect(0, 0, this.overlay.width, this.overlay.height);
    const d = this.data;
    if (!d || !W || !H) return;
    const p = this.project();
    this.screen = p;
    if (d.dims === 3) this.drawAxes(g, dpr);
    const n = d.n;
    const radius = n > 5000 ? 2.2 : n > 1000 ? 3 : 4;
    if (!this.discs || this.discs.radius !== radius || this.discs.dpr !== dpr) {
      this.discs = { radius, dpr, images: d.colours.styles.map((s) => discSprite(s, radius, dpr)) };
    }
    const order = this.drawOrder(p);
    const faded = this.matched ? new Uint8Array(n).fill(1) : null;
    if (faded) for (const i of this.matched) faded[i] = 0;
    const size = this.discs.images[0].width;
    const half = size / 2;
    const index = d.colours.index;
    for (let j = 0; j < n; j++) {
      const i = order ? order[j] : j;
      g.globalAlpha = faded && faded[i] ? 0.12 : d.dims === 3 ? 0.55 + 0.45 * this.nearness(p.zs[i]) : 0.9;
      g.drawImage(this.discs.images[index[i]], p.xs[i] * dpr - half, p.ys[i] * dpr - half);
    }
    g.globalAlpha = 1;
    if (this.matched) {
      g.strokeStyle = getComputedStyle(this.box).getPropertyValue("--text");
      g.lineWidth = 1.2 * dpr;
      for (const i of this.matched.slice(0, 2000)) {
        g.beginPath();
        g.arc(p.xs[i] * dpr, p.ys[i] * dpr, (radius + 2.5) * dpr, 0, Math.PI * 2);
        g.stroke();
      }
    }
    this.buildGrid(p);
    this.canvas.dataset.points = String(n);
    this.canvas.dataset.dims = String(d.dims);
    this.hook.points = n;
    this.hook.camera = { ...this.cam };
    this.setState("drawn");
    if (this.hovered >= 0) this.drawHover();
  }

  nearness(z) {
    return 0.5 - 0.5 * Math.max(-1, Math.min(1, z / this.data.scale));
  }

  /** Far points first in 3-D (so near ones are on top); null in 2-D (logged order). */
  drawOrder(p) {
    if (!p.zs) return null;
    const order = new Uint32Array(p.zs.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    return order.sort((a, b) => p.zs[b] - p.zs[a]);
  }

  drawAxes(g, dpr) {
    const { yaw, pitch } = this.cam;
    const d = this.data;
    const W = this.box.clientWidth;
    const H = this.box.clientHeight;
    const unit = (Math.min(W, H) / 2 - 24) * this.cam.zoom;
    const cx = W / 2 + this.cam.panX;
    const cy = H / 2 + this.cam.panY;
    const cyaw = Math.cos(yaw), syaw = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const style = getComputedStyle(this.box);
    g.lineWidth = 1 * dpr;
    g.font = `${11 * dpr}px ${style.getPropertyValue("--font")}`;
    [[1, 0, 0, "PC1"], [0, 1, 0, "PC2"], [0, 0, 1, "PC3"]].forEach(([x, y, z, name]) => {
      const x1 = cyaw * x + syaw * z;
      const z1 = -syaw * x + cyaw * z;
      const y2 = cp * y - sp * z1;
      g.strokeStyle = style.getPropertyValue("--border-strong");
      g.beginPath();
      g.moveTo(cx * dpr, cy * dpr);
      g.lineTo((cx + x1 * unit) * dpr, (cy - y2 * unit) * dpr);
      g.stroke();
      g.fillStyle = style.getPropertyValue("--faint");
      g.fillText(name, (cx + x1 * unit * 1.04) * dpr, (cy - y2 * unit * 1.04) * dpr);
    });
    void d;
  }

  buildGrid(p) {
    const cell = 12;
    const grid = new Map();
    for (let i = 0; i < p.xs.length; i++) {
      const key = Math.floor(p.xs[i] / cell) * 65536 + Math.floor(p.ys[i] / cell);
      let list = grid.get(key);
      if (!list) grid.set(key, (list = []));
      list.push(i);
    }
    this.grid = { cell, map: grid };
  }

  /** The point nearest (x, y) in canvas CSS px within 10 px, nearest the eye in 3-D. */
  pick(x, y) {
    if (!this.grid || !this.screen) return -1;
    const { cell, map } = this.grid;
    const gx = Math.floor(x / cell);
    const gy = Math.floor(y / cell);
    let best = -1;
    let bestScore = Infinity;
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const i of map.get((gx + dx) * 65536 + gy + dy) || []) {
          const d2 = (this.screen.xs[i] - x) ** 2 + (this.screen.ys[i] - y) ** 2;
          if (d2 > 100) continue;
          const score = d2 + (this.screen.zs ? this.screen.zs[i] / this.data.scale : 0);
          if (score < bestScore) { bestScore = score; best = i; }
        }
      }
    }
    return best;
  }

  screenOf(i) {
    if (!this.screen) return null;
    const box = this.canvas.getBoundingClientRect();
    return [box.left + this.screen.xs[i], box.top + this.screen.ys[i]];
  }

  drawHover() {
    const g = this.overlay.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    g.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const i = this.hovered;
    if (i < 0 || !this.screen) return;
    g.strokeStyle = getComputedStyle(this.box).getPropertyValue("--accent");
    g.lineWidth = 2 * dpr;
    g.beginPath();
    g.arc(this.screen.xs[i] * dpr, this.screen.ys[i] * dpr, 7 * dpr, 0, Math.PI * 2);
    g.stroke();
  }

  showTip(i, x, y) {
    const d = this.data;
    this.tip.replaceChildren();
    const meta = d.header.metadata;
    const head = el("div", "emb-tip-head", `#${i}`);
    this.tip.append(head);
    if (d.header.images && this.sprite) {
      const im = d.header.images;
      const thumb = el("canvas", "emb-thumb");
      thumb.dataset.testid = "emb-thumb";
      thumb.width = im.cell_w;
      thumb.height = im.cell_h;
      const sx = (i % im.cols) * im.cell_w;
      const sy = Math.floor(i / im.cols) * im.cell_h;
      thumb.getContext("2d").drawImage(this.sprite, sx, sy, im.cell_w, im.cell_h, 0, 0, im.cell_w, im.cell_h);
      const scale = Math.max(1, Math.floor(72 / Math.max(im.cell_w, im.cell_h)));
      thumb.style.width = im.cell_w * scale + "px";
      thumb.style.height = im.cell_h * scale + "px";
      this.tip.append(thumb);
    }
    const label = el("div", "emb-tip-rows");
    label.dataset.testid = "emb-tooltip-label";
    if (meta) {
      meta.columns.forEach((c, k) => {
        const row = el("div", "emb-tip-row");
        row.append(el("span", "emb-tip-key", c), el("span", "emb-tip-value", String(meta.values[k][i])));
        label.append(row);
      });
    }
    const pcs = [];
    for (let j = 0; j < d.dims; j++) pcs.push(formatValue(Number(d.coords[i * d.k + j].toPrecision(4))));
    label.append(el("div", "emb-tip-pcs", `PC ${pcs.join(", ")}`));
    this.tip.append(label);
    this.tip.hidden = false;
    this.tip.dataset.index = String(i);
    const W = this.box.clientWidth;
    const left = x + 16 + 220 > W ? x - 16 - this.tip.offsetWidth : x + 16;
    this.tip.style.left = Math.max(4, left) + "px";
    this.tip.style.top = Math.max(4, Math.min(y + 12, this.box.clientHeight - this.tip.offsetHeight - 4)) + "px";
  }

  // ---- input --------------------------------------------------------------------------

  bindInput() {
    let drag = null;
    const local = (event) => {
      const box = this.canvas.getBoundingClientRect();
      return [event.clientX - box.left, event.clientY - box.top];
    };
    this.canvas.addEventListener("pointerdown", (event) => {
      if (!this.data || event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, cam: { ...this.cam }, rotate: this.data.dims === 3 && !event.shiftKey };
      this.canvas.setPointerCapture(event.pointerId);
      this.box.classList.add("dragging");
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (!this.data) return;
      if (drag) {
        const dx = event.clientX - drag.x;
        const dy = event.clientY - drag.y;
        if (drag.rotate) {
          this.cam.yaw = drag.cam.yaw + dx * 0.01;
          this.cam.pitch = Math.max(-1.5, Math.min(1.5, drag.cam.pitch + dy * 0.01));
        } else {
          this.cam.panX = drag.cam.panX + dx;
          this.cam.panY = drag.cam.panY + dy;
        }
        this.tip.hidden = true;
        this.draw();
        return;
      }
      const [x, y] = local(event);
      const i = this.pick(x, y);
      if (i !== this.hovered) {
        this.hovered = i;
        this.drawHover();
      }
      if (i >= 0) this.showTip(i, x, y);
      else this.tip.hidden = true;
    });
    const end = () => {
      drag = null;
      this.box.classList.remove("dragging");
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    this.canvas.addEventListener("pointerleave", () => {
      if (drag) return;
      this.hovered = -1;
      this.tip.hidden = true;
      this.drawHover();
    });
    this.canvas.addEventListener("wheel", (event) => {
      if (!this.data) return;
      event.preventDefault();
      const [x, y] = local(event);
      const old = this.cam.zoom;
      const zoom = Math.max(0.2, Math.min(200, old * Math.exp(-event.deltaY * 0.0015)));
      // keep the point under the cursor in place
      const cx = this.box.clientWidth / 2 + this.cam.panX;
      const cy = this.box.clientHeight / 2 + this.cam.panY;
      this.cam.panX += (x - cx) * (1 - zoom / old);
      this.cam.panY += (y - cy) * (1 - zoom / old);
      this.cam.zoom = zoom;
      this.tip.hidden = true;
      this.draw();
    }, { passive: false });
    this.canvas.addEventListener("dblclick", () => {
      this.cam = this.resetCamera();
      this.draw();
    });
  }

  // ---- states -------------------------------------------------------------------------

  showMessage(text, state) {
    this.message.hidden = false;
    this.message.textContent = text;
    this.message.classList.toggle("error", state === "error");
    this.legend.hidden = true;
    this.setState(state);
  }

  fail(text) {
    this.showMessage(text, "error");
  }

  setState(state) {
    this.box.dataset.state = state;
    this.canvas.dataset.state = state;
    this.hook.state = state;
  }
}

export async function mount(element, app) {
  useStyle("series_list");
  useStyle("embeddings");
  const view = new EmbeddingsView(element, app);
  app.store.subscribe((_state, keys) => {
    if (keys.has("runs")) view.renderList();
  });
  app.events.on("runs", () => view.loadTags());
  await view.loadTags();
}
