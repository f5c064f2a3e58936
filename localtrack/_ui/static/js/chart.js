// One chart per tag: fetches the M4-reduced series of the selected runs (only while on
// screen), draws them with uPlot (raw line faint, smoothed line, min/max band, non-finite
// markers), zooms by asking the server again for the dragged x-range, and appends live rows.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { downloadUrl, getSeries } from "./api.js";
import { buildTable, mergeLive, nearest, xDomain, yDomain } from "./chart_data.js";
import { drawBands, drawClipped, drawNonfinite, nonfiniteCount } from "./chart_layers.js";
import { renderLegend, showLegend } from "./chart_legend.js";
import { runColor, withAlpha } from "./colors.js";
import { el } from "./format.js";

const HEIGHT = 220;

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axis(stroke, grid, extra) {
  return {
    stroke, font: "11px system-ui, sans-serif", size: 34, gap: 4,
    grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, ...extra,
  };
}

function options(chart, width) {
  const { logy } = chart.app.store.get();
  const series = [{}];
  // A run of one point draws no line: show its point, so it is not invisible.
  const facets = [{ scale: "x", auto: true }, { scale: "y", auto: true }];
  const line = (label, stroke, width, lone) => ({ label, stroke, width, spanGaps: true,
    points: { show: lone, size: 6, fill: stroke }, ...(chart.faceted ? { facets } : {}) });
  const lone = (entry) => chart.series.get(entry.runId).x.length < 2;
  for (const entry of chart.layout) {
    const color = runColor(entry.runId);
    series.push(entry.smoothed === null
      ? line(entry.runId, color, 1.5, lone(entry))
      : line(entry.runId, withAlpha(color, 0.25), 1, false));
  }
  for (const entry of chart.layout) {
    if (entry.smoothed !== null) series.push(line(entry.runId + " smoothed", runColor(entry.runId), 2, lone(entry)));
  }
  const stroke = css("--axis-text");
  const grid = css("--grid");
  return {
    mode: chart.faceted ? 2 : 1, width, height: HEIGHT, series, legend: { show: false },
    padding: [14, 12, 0, 0],
    scales: {
      x: chart.faceted
        ? { time: chart.xMode === "wall", range: () => chart.xRange }
        : { time: chart.xMode === "wall" },
      y: { distr: logy ? 3 : 1, range: () => chart.yRange || [0, 1] },
    },
    // Wall time labels take two lines (time, then date).
    axes: [axis(stroke, grid, { size: chart.xMode === "wall" ? 46 : 34 }), axis(stroke, grid, { size: 56 })],
    // Hovering one chart shows the same x on every chart (one sync group per x axis kind).
    cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 }, focus: { prox: 16 },
      sync: { key: "localtrack-" + chart.xMode } },
    hooks: {
      drawAxes: [(u) => drawBands(chart, u)],
      draw: [(u) => drawClipped(chart, u), (u) => drawNonfinite(chart, u)],
      setCursor: [(u) => showLegend(chart, hoveredX(chart, u))],
      setSelect: [(u) => onSelect(chart, u)],
    },
  };
}

/** The x under the mouse, snapped to the nearest point of any run (null: no hover). */
function hoveredX(chart, u) {
  if (!chart.faceted) return u.cursor.idx == null ? null : u.data[0][u.cursor.idx];
  if (u.cursor.left == null || u.cursor.left < 0) return null;
  const x = u.posToVal(u.cursor.left, "x");
  let best = x;
  let distance = Infinity;
  for (const { runId } of chart.layout) {
    const xs = chart.series.get(runId).x;
    const i = nearest(xs, x);
    if (i >= 0 && Math.abs(xs[i] - x) < distance) { distance = Math.abs(xs[i] - x); best = xs[i]; }
  }
  return best;
}

function onSelect(chart, u) {
  const { left, width } = u.select;
  if (width < 4) return;
  const xmin = u.posToVal(left, "x");
  const xmax = u.posToVal(left + width, "x");
  u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  chart.zoom = [xmin, xmax];
  chart.fetch();
}

function plotWidth(chart) {
  return Math.max(200, Math.floor(chart.plot.clientWidth || 400));
}

/** Draw (or redraw from scratch) what the chart holds. */
function draw(chart) {
  const app = chart.app;
  const { smooth: weight, logy, outliers } = app.store.get();
  const runIds = chart.runIds.filter((id) => chart.series.has(id));
  const { data, layout, faceted } = buildTable(chart.series, runIds, weight, logy);
  chart.layout = layout;
  chart.faceted = faceted;
  chart.xRange = xDomain(chart.series, runIds);
  chart.yRange = yDomain(chart.series, runIds, { ignoreOutliers: outliers, logy });
  // A redraw (live rows, a new option) keeps the hover where the mouse is.
  const cursor = chart.u && chart.u.cursor.left >= 0 ? { left: chart.u.cursor.left, top: chart.u.cursor.top } : null;
  if (chart.u) chart.u.destroy();
  chart.u = null;
  chart.plot.replaceChildren();
  renderLegend(chart, app);
  const count = nonfiniteCount(chart);
  chart.el.dataset.nonfinite = String(count);
  if (layout.length === 0) {
    const text = count ? count + " non-finite values, no finite point in range" : "no points in range";
    chart.plot.append(el("div", "chart-empty", text));
    chart.el.dataset.state = "empty";
    app.charts.delete(chart.tag);
    return;
  }
  if (!chart.yRange) chart.yRange = logy ? [0.1, 10] : [-1, 1];
  chart.u = new uPlot(options(chart, plotWidth(chart)), data, chart.plot);
  chart.u.over.addEventListener("dblclick", () => {
    if (!chart.zoom) return;
    chart.zoom = null;
    chart.fetch();
  });
  app.charts.set(chart.tag, chart.u);
  if (cursor) chart.u.setCursor(cursor);
  chart.el.dataset.state = "drawn";
}

function describe(chart) {
  let points = 0;
  let reduced = false;
  for (const s of chart.series.values()) {
    points += s.meta.points || 0;
    reduced = reduced || s.meta.reduced;
  }
  const compact = new Intl.NumberFormat("en", { notation: "compact" }).format(points);
  chart.meta.textContent = compact + " pts" + (reduced ? " · M4" : "") + (chart.zoom ? " · zoomed" : "");
  chart.meta.title = points + " points in range" + (reduced ? ", reduced to first/last/min/max per pixel column" : ", all drawn") +
    (chart.zoom ? "; double-click the chart to reset the zoom" : "; drag to zoom");
}

async function fetchSeries(chart) {
  const runs = chart.app.selected();
  chart.runIds = runs;
  chart.stale = false;
  if (chart.abort) chart.abort.abort();
  const abort = (chart.abort = new AbortController());
  const params = { tag: chart.tag, runs: runs.join(","), x: chart.xMode, width: plotWidth(chart) };
  if (chart.zoom) [params.xmin, params.xmax] = chart.zoom;
  chart.el.dataset.state = chart.u ? "drawn" : "loading";
  try {
    const { series } = await getSeries(params, abort.signal);
    if (abort !== chart.abort) return;
    chart.series = series;
    chart.app.series.set(chart.tag, series);
    draw(chart);
    describe(chart);
  } catch (error) {
    if (error.name === "AbortError") return;
    chart.el.dataset.state = "error";
    chart.plot.replaceChildren(el("div", "chart-empty error", String(error.message || error)));
  }
}

async function appendLive(chart, changed) {
  const runIds = chart.runIds.filter((id) => changed.has(id));
  if (runIds.length === 0 || chart.abort === null) return;
  if (chart.zoom || chart.xMode === "relative") return chart.fetch();
  const after = runIds.filter((id) => chart.series.has(id) && chart.series.get(id).meta.last_x !== null)
    .map((id) => id + ":" + chart.series.get(id).meta.last_x);
  const abort = (chart.abort = new AbortController());
  const width = plotWidth(chart);
  try {
    const { series } = await getSeries({ tag: chart.tag, runs: runIds.join(","), x: chart.xMode, width, after: after.join(",") }, abort.signal);
    if (abort !== chart.abort) return;
    let rereduce = false;
    for (const [id, fresh] of series) {
      if (fresh.meta.count === 0 && fresh.meta.nonfinite_count === 0) continue;
      const held = chart.series.get(id);
      const merged = mergeLive(held, fresh);
      if (fresh.meta.last_x === null && held) merged.meta.last_x = held.meta.last_x;
      chart.series.set(id, merged);
      if (merged.x.length > 8 * width) rereduce = true;
    }
    if (rereduce) return chart.fetch();
    draw(chart);
    describe(chart);
  } catch (error) {
    if (error.name !== "AbortError") chart.stale = true;
  }
}

/** A chart card for `tag`: {el, tag, fetch(), redraw(), invalidate(), live(ids), destroy()}. */
export function createChart(tag, app) {
  const chart = { tag, app, series: new Map(), runIds: [], zoom: null, u: null, abort: null,
    stale: true, onScreen: false, xMode: app.store.get().x };
  chart.el = el("div", "chart-card");
  chart.el.dataset.testid = "chart";
  chart.el.dataset.tag = tag;
  chart.el.dataset.state = "idle";
  const head = el("div", "chart-head");
  const title = el("span", "chart-title", tag);
  title.title = tag;
  chart.meta = el("span", "chart-meta");
  const csv = el("a", "chart-link", "CSV");
  csv.dataset.testid = "download-csv";
  const parquet = el("a", "chart-link", "Parquet");
  parquet.dataset.testid = "download-parquet";
  for (const a of [csv, parquet]) a.title = "download the full-resolution rows of this chart";
  head.append(title, chart.meta, csv, parquet);
  chart.plot = el("div", "chart-plot");
  chart.legend = el("div", "chart-legend");
  chart.el.append(head, chart.plot, chart.legend);
  const links = () => {
    const runs = app.selected();
    csv.href = downloadUrl("csv", tag, runs);
    parquet.href = downloadUrl("parquet", tag, runs);
    csv.download = tag.replace(/[^A-Za-z0-9_.-]+/g, "_") + ".csv";
    parquet.download = tag.replace(/[^A-Za-z0-9_.-]+/g, "_") + ".parquet";
  };
  links();
  chart.fetch = () => { links(); return fetchSeries(chart); };
  chart.redraw = () => { if (chart.series.size) { draw(chart); describe(chart); } };
  chart.invalidate = () => {
    chart.xMode = app.store.get().x;
    chart.zoom = null;
    chart.stale = true;
    if (chart.onScreen) chart.fetch();
  };
  chart.live = (changed) => {
    if (!chart.runIds.some((id) => changed.has(id))) return;
    if (chart.onScreen && !chart.stale && chart.u) appendLive(chart, changed);
    else chart.stale = true; // off screen: fetch again once scrolled to
  };
  chart.resize = () => { if (chart.u) chart.u.setSize({ width: plotWidth(chart), height: HEIGHT }); };
  chart.destroy = () => {
    if (chart.abort) chart.abort.abort();
    if (chart.u) chart.u.destroy();
    if (app.charts.get(tag) === chart.u) app.charts.delete(tag);
    app.series.delete(tag);
    chart.el.remove();
  };
  return chart;
}
