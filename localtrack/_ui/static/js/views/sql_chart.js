// "Chart this": a result with a numeric (or time) x column and a numeric y column drawn as
// lines with uPlot, optionally one line per value of a third column (a run, a tag).

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { PALETTE } from "../colors.js";
import { el, formatValue } from "../format.js";

const MAX_LINES = 20;
const PREFERRED_X = ["step", "x", "epoch", "iteration", "wall_time", "time"];

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Columns that can be an x axis (numbers, times) and a y axis (numbers), by index. */
export function chartable(result) {
  const xs = [];
  const ys = [];
  result.columns.forEach((c, i) => {
    if (c.kind === "number" || c.kind === "time") xs.push(i);
    if (c.kind === "number") ys.push(i);
  });
  return { xs, ys, ok: xs.length > 0 && ys.some((y) => xs.some((x) => x !== y)) };
}

/** The default choice: x a step-like column, y the first other number, split by a text
 * column named like a run or a tag when there is one. */
export function defaultChoice(result) {
  const { xs, ys } = chartable(result);
  const names = result.columns.map((c) => c.name.toLowerCase());
  let x = xs.find((i) => PREFERRED_X.includes(names[i]));
  if (x === undefined) x = xs[0];
  const y = ys.find((i) => i !== x && names[i] === "value") ?? ys.find((i) => i !== x);
  const split = result.columns.findIndex((c, i) => c.kind === "text" && ["run_name", "run_id", "run", "tag"].includes(names[i]));
  return { x, y, split: split < 0 ? -1 : split };
}

function toNumber(value, kind) {
  if (value === null || value === undefined) return null;
  if (kind === "time") {
    const t = Date.parse(value);
    return Number.isFinite(t) ? t / 1000 : null;
  }
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Lines of the chosen columns: [{label, xs, ys}] with each line sorted by x. */
export function lines(result, choice) {
  const xKind = result.columns[choice.x].kind;
  const groups = new Map();
  const xCol = result.data[choice.x];
  const yCol = result.data[choice.y];
  const sCol = choice.split >= 0 ? result.data[choice.split] : null;
  for (let i = 0; i < result.rows; i++) {
    const x = toNumber(xCol[i], xKind);
    const y = toNumber(yCol[i], "number");
    if (x === null) continue;
    const key = sCol ? String(sCol[i]) : result.columns[choice.y].name;
    let g = groups.get(key);
    if (!g) {
      if (groups.size >= MAX_LINES) continue;
      g = [];
      groups.set(key, g);
    }
    g.push([x, y]);
  }
  return [...groups].map(([label, points]) => {
    points.sort((a, b) => a[0] - b[0]);
    return { label, xs: points.map((p) => p[0]), ys: points.map((p) => p[1]) };
  });
}

/** Draw the chart into `host` (`colorOf(label)`: a line's colour, or null for the
 * palette's next); returns the uPlot instance (or null when nothing to draw). */
export function renderChart(host, result, choice, colorOf = () => null) {
  host.replaceChildren();
  const drawn = lines(result, choice);
  if (!drawn.length) {
    host.append(el("div", "chart-empty", "no rows with a numeric x"));
    return null;
  }
  const data = uPlot.join(drawn.map((l) => [l.xs, l.ys]));
  const colors = drawn.map((l, i) => colorOf(l.label) || PALETTE[i % PALETTE.length]);
  const time = result.columns[choice.x].kind === "time";
  const stroke = css("--axis-text");
  const grid = css("--grid");
  const axis = (extra) => ({ stroke, font: "11px system-ui, sans-serif", grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1, size: 4 }, ...extra });
  const legend = el("div", "sql-chart-legend");
  drawn.forEach((l, i) => {
    const item = el("span", "legend-item");
    const swatch = el("span", "swatch swatch-small");
    swatch.style.background = colors[i];
    item.append(swatch, el("span", "legend-name", l.label));
    legend.append(item);
  });
  const plot = el("div", "sql-chart-plot");
  host.append(legend, plot);
  const width = Math.max(300, host.clientWidth - 8);
  const height = Math.max(220, host.clientHeight - legend.offsetHeight - 12);
  const u = new uPlot({
    width, height, legend: { show: false }, padding: [12, 16, 0, 0],
    scales: { x: { time } },
    series: [{}, ...drawn.map((l, i) => ({
      label: l.label, stroke: colors[i], width: 1.6, spanGaps: true,
      points: { show: l.xs.length < 2, size: 6 },
      value: (_u, v) => formatValue(v),
    }))],
    axes: [axis({ size: time ? 46 : 34, label: result.columns[choice.x].name, labelSize: 18 }),
      axis({ size: 60, label: result.columns[choice.y].name, labelSize: 18 })],
    cursor: { points: { size: 6 }, focus: { prox: 16 } },
  }, data, plot);
  return u;
}
