// The legend under a chart: each run's swatch, name and value at the hovered x (the last
// value when nothing is hovered), and the smoothed value beside it.

import { runColor } from "./colors.js";
import { el, formatIso, formatValue } from "./format.js";
import { nearest } from "./chart_data.js";

function formatX(mode, x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "";
  if (mode === "wall") return formatIso(x);
  if (mode === "relative") return formatValue(Number(x.toFixed(3))) + " s";
  return "step " + formatValue(x);
}

/** The value of a run at x: its nearest point, finite or not. */
function valueAt(s, x, entry) {
  if (x === null) {
    const i = s.x.length - 1;
    const j = s.nonfiniteX.length - 1;
    if (j >= 0 && (i < 0 || s.nonfiniteX[j] > s.x[i])) return { x: s.nonfiniteX[j], y: s.nonfiniteY[j], sm: null };
    if (i < 0) return null;
    return { x: s.x[i], y: s.y[i], sm: entry.smoothedValues ? entry.smoothedValues[i] : null };
  }
  const i = nearest(s.x, x);
  const j = nearest(s.nonfiniteX, x);
  if (j >= 0 && (i < 0 || Math.abs(s.nonfiniteX[j] - x) < Math.abs(s.x[i] - x))) {
    return { x: s.nonfiniteX[j], y: s.nonfiniteY[j], sm: null };
  }
  if (i < 0) return null;
  return { x: s.x[i], y: s.y[i], sm: entry.smoothedValues ? entry.smoothedValues[i] : null };
}

/** Build the legend's entries for the chart's current runs. */
export function renderLegend(chart, app) {
  const items = [];
  chart.legendX = el("span", "legend-x");
  items.push(chart.legendX);
  chart.legendValues = new Map();
  for (const entry of chart.layout) {
    const run = app.runsById.get(entry.runId);
    const item = el("span", "legend-item");
    const swatch = el("span", "swatch swatch-small");
    swatch.style.background = runColor(entry.runId);
    const name = el("span", "legend-name", run ? run.name || run.run_id : entry.runId);
    name.title = run ? (run.project || "") + "/" + (run.name || "") + " (" + run.run_id + ")" : entry.runId;
    const value = el("span", "legend-value");
    value.dataset.testid = "legend-value";
    value.dataset.runId = entry.runId;
    const smoothed = el("span", "legend-smoothed");
    smoothed.title = "smoothed";
    item.append(swatch, name, value, smoothed);
    items.push(item);
    chart.legendValues.set(entry.runId, { value, smoothed, entry });
  }
  chart.legend.replaceChildren(...items);
  showLegend(chart, null);
}

/** Show each run's value at x (null: the last values). */
export function showLegend(chart, x) {
  if (!chart.legendValues) return;
  for (const [runId, { value, smoothed, entry }] of chart.legendValues) {
    const s = chart.series.get(runId);
    const v = s ? valueAt(s, x, entry) : null;
    value.textContent = v ? formatValue(v.y) : "";
    value.dataset.x = v ? String(v.x) : "";
    smoothed.textContent = v && v.sm !== null ? formatValue(v.sm) : "";
  }
  chart.legendX.textContent = x === null ? "last" : formatX(chart.xMode, x);
}
