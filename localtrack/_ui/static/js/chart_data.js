// From decoded series to what uPlot draws (pure functions): the columnar table of every run
// (raw line, smoothed line), joined on x; the y range, ignoring outliers (5–95 %) as
// TensorBoard does; and the merge of a live answer into the series the page holds.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { smooth } from "./smoothing.js";

function positiveOrNull(values) {
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] > 0 ? values[i] : null;
  return out;
}

// Past this many cells (joined x values × lines), runs are drawn on their own x (uPlot's
// faceted mode 2) instead of joined on one x: M4 picks different x values in every run, so
// 100 runs joined would be 100 × 3,200 x values × 200 lines of mostly nulls.
const MAX_JOINED_CELLS = 2_000_000;

function sameX(tables) {
  return tables.every((t) => t[0] === tables[0][0] ||
    (t[0].length === tables[0][0].length && t[0].every((v, i) => v === tables[0][0][i])));
}

/**
 * The uPlot data of runs `runIds` from `series` (Map run id -> decoded series): every raw
 * line, then every smoothed line. Returns {data, layout, faceted}: layout[i] = {runId, raw,
 * smoothed, smoothedValues}, the series index of each line and the smoothed values (null
 * when smoothing is off). Joined on one x ([x, y1, y2, ...]) when that stays small, else
 * faceted ([null, [x1, y1], [x2, y2], ...], uPlot mode 2).
 */
export function buildTable(series, runIds, weight, logy) {
  const tables = [];
  const layout = [];
  for (const runId of runIds) {
    const s = series.get(runId);
    if (!s || s.x.length === 0) continue;
    const table = [s.x, logy ? positiveOrNull(s.y) : s.y];
    const entry = { runId, raw: 0, smoothed: null, smoothedValues: null };
    if (weight > 0) {
      entry.smoothedValues = smooth(s.y, weight);
      table.push(logy ? positiveOrNull(entry.smoothedValues) : entry.smoothedValues);
    }
    tables.push(table);
    layout.push(entry);
  }
  if (tables.length === 0) return { data: [[]], layout, faceted: false };
  const per = weight > 0 ? 2 : 1;
  const cells = tables.reduce((n, t) => n + t[0].length, 0) * tables.length * per;
  if (tables.length > 1 && cells > MAX_JOINED_CELLS && !sameX(tables)) {
    const data = [null];
    layout.forEach((entry, i) => { entry.raw = data.length; data.push([tables[i][0], tables[i][1]]); });
    if (per === 2) layout.forEach((entry, i) => { entry.smoothed = data.length; data.push([tables[i][0], tables[i][2]]); });
    return { data, layout, faceted: true };
  }
  const joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
  // Every raw line first, then every smoothed line, so no faint line covers a smoothed one.
  const data = [joined[0]];
  layout.forEach((entry, i) => { entry.raw = data.length; data.push(joined[1 + i * per]); });
  if (per === 2) layout.forEach((entry, i) => { entry.smoothed = data.length; data.push(joined[2 + i * per]); });
  return { data, layout, faceted: false };
}

/** The x range of the series held: [first x, last x] over every run (null when empty). */
export function xDomain(series, runIds) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const id of runIds) {
    const s = series.get(id);
    if (!s) continue;
    for (const xs of [s.x, s.nonfiniteX]) {
      if (xs.length) { lo = Math.min(lo, xs[0]); hi = Math.max(hi, xs[xs.length - 1]); }
    }
  }
  if (lo === Infinity) return null;
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The y range of the chart: [min, max] of every run's values (and min/max band), or with
 * `ignoreOutliers` the 5 % and 95 % quantiles of the values, padded by 5 % (TensorBoard's
 * "Ignore outliers in chart scaling"). With `logy` only positive values count and padding is
 * multiplicative. Null when there is nothing to scale on.
 */
export function yDomain(series, runIds, { ignoreOutliers, logy }) {
  let total = 0;
  for (const id of runIds) if (series.has(id)) total += series.get(id).y.length;
  const values = new Float64Array(total);
  let n = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const id of runIds) {
    const s = series.get(id);
    if (!s) continue;
    for (const v of s.y) if (!logy || v > 0) values[n++] = v;
    for (const v of s.bandMin) if (!logy || v > 0) lo = Math.min(lo, v);
    for (const v of s.bandMax) if (!logy || v > 0) hi = Math.max(hi, v);
  }
  if (n === 0) return null;
  const sorted = values.subarray(0, n).sort();
  let a;
  let b;
  if (ignoreOutliers) {
    a = quantile(sorted, 0.05);
    b = quantile(sorted, 0.95);
  } else {
    a = Math.min(sorted[0], lo);
    b = Math.max(sorted[n - 1], hi);
  }
  if (logy) {
    const la = Math.log10(a);
    const lb = Math.log10(b);
    const pad = lb > la ? (lb - la) * 0.05 : 0.5;
    return [10 ** (la - pad), 10 ** (lb + pad)];
  }
  const span = b - a;
  const pad = span > 0 ? span * 0.05 : Math.abs(a) * 0.1 || 1;
  return [a - pad, b + pad];
}

function concat(a, b) {
  const out = new Float64Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const FIELDS = ["x", "y", "bandX", "bandMin", "bandMax", "nonfiniteX", "nonfiniteY"];

/** The series held plus the rows of a live answer (`after=` the last x held). */
export function mergeLive(held, fresh) {
  if (!held) return fresh;
  const merged = { meta: { ...held.meta, ...fresh.meta } };
  for (const f of FIELDS) merged[f] = concat(held[f], fresh[f]);
  merged.meta.count = merged.x.length;
  merged.meta.band_count = merged.bandX.length;
  merged.meta.nonfinite_count = merged.nonfiniteX.length;
  merged.meta.reduced = Boolean(held.meta.reduced || fresh.meta.reduced); // the held band stays drawn
  merged.meta.points = (held.meta.points || 0) + (fresh.meta.points || 0);
  return merged;
}

/** The index of the point of sorted `xs` nearest to `x` (-1 when empty). */
export function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
  return lo;
}
