// One grouped chart per tag for the scalars view's "Group by": /api/aggregate's line (mean or
// median) per group and its band (min/max or ± std) drawn as a filled area, a legend of the
// groups with the values under the hover. Same interface as chart.js's charts, so the scalars
// view lays both out alike. The answers are kept in window.localtrack.aggregates (tag → answer).

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { getJSON } from "./api.js";
import { PALETTE, withAlpha } from "./colors.js";
import { el, formatValue } from "./format.js";
import { getParam } from "./view_kit.js";

const HEIGHT = 220;

/** The scalars view's grouping from the URL: {by, stat, band} (by "" = no grouping). */
export function grouping(app) {
  return { by: getParam(app, "groupby"), stat: getParam(app, "agg", "mean"), band: getParam(app, "band", "minmax") };
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function groupLabel(by, value) {
  return value === null ? by + " unset" : by + "=" + (typeof value === "number" ? formatValue(value) : String(value));
}

function colorOf(i) {
  return PALETTE[i % PALETTE.length];
}

/** uPlot data joined on x: [xs, y0, lo0, hi0, y1, lo1, hi1, ...] (null where a group has no x). */
function table(groups) {
  const xs = [...new Set(groups.flatMap((g) => g.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [Float64Array.from(xs)];
  for (const g of groups) {
    const cols = [g.y, g.lo, g.hi].map(() => new Array(xs.length).fill(null));
    g.x.forEach((x, i) => {
      const j = at.get(x);
      cols[0][j] = g.y[i];
      if (g.lo.length) { cols[1][j] = g.lo[i]; cols[2][j] = g.hi[i]; }
    });
    data.push(...cols);
  }
  return data;
}

function drawBands(chart, u) {
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  chart.groups.forEach((g, i) => {
    if (!g.lo.length) return;
    const xs = g.x.map((x) => u.valToPos(x, "x", true));
    ctx.fillStyle = withAlpha(colorOf(i), 0.18);
    ctx.beginPath();
    g.x.forEach((_, k) => { const y = u.valToPos(g.hi[k], "y", true); k ? ctx.lineTo(xs[k], y) : ctx.moveTo(xs[k], y); });
    for (let k = g.x.length - 1; k >= 0; k--) ctx.lineTo(xs[k], u.valToPos(g.lo[k], "y", true));
    ctx.closePath();
    ctx.fill();
  });
  ctx.restore();
}

function legend(chart, idx) {
  const { by } = grouping(chart.app);
  const items = chart.groups.map((g, i) => {
    const item = el("span", "legend-item");
    const sw = el("span", "swatch swatch-small");
    sw.style.background = colorOf(i);
    const name = el("span", "legend-name", groupLabel(by, g.value) + " (" + g.runs.length + ")");
    name.title = g.runs.map((id) => (chart.app.runsById.get(id) || {}).name || id).join(", ");
    const v = el("span", "legend-value");
    v.dataset.testid = "agg-legend-value";
    v.dataset.group = JSON.stringify(g.value);
    if (idx !== null && chart.u) {
      const y = chart.u.data[1 + 3 * i][idx];
      const lo = chart.u.data[2 + 3 * i][idx];
      const hi = chart.u.data[3 + 3 * i][idx];
      if (y !== null) v.textContent = formatValue(y) + (lo !== null ? " [" + formatValue(lo) + ", " + formatValue(hi) + "]" : "");
    }
    item.append(sw, name, v);
    return item;
  });
  const x = idx !== null && chart.u ? el("span", "legend-x", "x " + formatValue(chart.u.data[0][idx])) : null;
  chart.legend.replaceChildren(...(x ? [x] : []), ...items);
}

function draw(chart) {
  if (chart.u) chart.u.destroy();
  chart.u = null;
  chart.plot.replaceChildren();
  const groups = chart.groups.filter((g) => g.x.length);
  if (!groups.length) {
    chart.plot.append(el("div", "chart-empty", "no finite points"));
    chart.el.dataset.state = "empty";
    legend(chart, null);
    return;
  }
  const all = chart.groups.flatMap((g) => [...g.y, ...g.lo, ...g.hi]).filter((v) => Number.isFinite(v));
  let [lo, hi] = [Math.min(...all), Math.max(...all)];
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.05;
  const series = [{}];
  chart.groups.forEach((g, i) => {
    series.push({ label: String(i), stroke: colorOf(i), width: 2, spanGaps: true, points: { show: g.x.length < 2, size: 6, fill: colorOf(i) } });
    series.push({ show: false }, { show: false });
  });
  const axis = (extra) => ({ stroke: css("--axis-text"), font: "11px system-ui, sans-serif", size: 34, gap: 4,
    grid: { stroke: css("--grid"), width: 1 }, ticks: { stroke: css("--grid"), width: 1, size: 4 }, ...extra });
  const opts = {
    width: Math.max(200, Math.floor(chart.plot.clientWidth || 400)), height: HEIGHT, series, legend: { show: false },
    padding: [14, 12, 0, 0],
    scales: { x: { time: false }, y: { range: () => [lo - pad, hi + pad] } },
    axes: [axis({}), axis({ size: 56 })],
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    hooks: { drawAxes: [(u) => drawBands(chart, u)], setCursor: [(u) => legend(chart, u.cursor.idx ?? null)] },
  };
  chart.u = new uPlot(opts, table(chart.groups), chart.plot);
  chart.el.dataset.state = "drawn";
  legend(chart, null);
}

async function fetchGroups(chart) {
  const app = chart.app;
  const { by, stat, band } = grouping(app);
  const runs = app.selected();
  chart.runIds = runs;
  chart.stale = false;
  const x = app.store.get().x === "relative" ? "relative" : "step";
  const width = Math.max(200, Math.floor(chart.plot.clientWidth || 400));
  const ask = ++chart.asked;
  chart.el.dataset.state = chart.u ? "drawn" : "loading";
  try {
    const answer = await getJSON("/api/aggregate", { tag: chart.tag, runs: runs.join(","), by, stat, band, x, width });
    if (ask !== chart.asked) return;
    chart.groups = answer.groups;
    aggregates().set(chart.tag, answer);
    const members = answer.groups.reduce((n, g) => n + g.runs.length, 0);
    chart.meta.textContent = answer.groups.length + " groups · " + stat + (band === "none" ? "" : " · " + (band === "std" ? "± std" : "min/max")) +
      (x === "step" ? "" : " · relative") + " · " + members + (members === 1 ? " run" : " runs");
    draw(chart);
  } catch (error) {
    chart.el.dataset.state = "error";
    chart.plot.replaceChildren(el("div", "chart-empty error", String(error.message || error)));
  }
}

function aggregates() {
  const hooks = window.localtrack || (window.localtrack = {});
  if (!hooks.aggregates) hooks.aggregates = new Map();
  return hooks.aggregates;
}

/** A grouped chart card for `tag`, with chart.js's interface. */
export function createAggregateChart(tag, app) {
  const chart = { tag, app, groups: [], runIds: [], u: null, stale: true, onScreen: false, asked: 0 };
  chart.el = el("div", "chart-card aggregate-card");
  chart.el.dataset.testid = "aggregate-chart";
  chart.el.dataset.tag = tag;
  chart.el.dataset.state = "idle";
  const head = el("div", "chart-head");
  const title = el("span", "chart-title", tag);
  title.title = tag;
  chart.meta = el("span", "chart-meta");
  head.append(title, chart.meta);
  chart.plot = el("div", "chart-plot");
  chart.legend = el("div", "chart-legend");
  chart.el.append(head, chart.plot, chart.legend);
  chart.fetch = () => fetchGroups(chart);
  chart.redraw = () => { if (chart.groups.length) draw(chart); };
  chart.invalidate = () => { chart.stale = true; if (chart.onScreen) chart.fetch(); };
  chart.live = (changed) => {
    if (!chart.runIds.some((id) => changed.has(id))) return;
    chart.stale = true;
    if (chart.onScreen) chart.fetch();
  };
  chart.resize = () => { if (chart.u) chart.u.setSize({ width: Math.max(200, Math.floor(chart.plot.clientWidth || 400)), height: HEIGHT }); };
  chart.destroy = () => {
    chart.asked++;
    if (chart.u) chart.u.destroy();
    aggregates().delete(tag);
    chart.el.remove();
  };
  return chart;
}
