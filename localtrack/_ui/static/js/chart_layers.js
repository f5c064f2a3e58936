// What the chart draws besides its lines, as uPlot hooks: the min/max band of each pixel
// column (under the lines) and the markers of NaN and ±inf values (over them).

import { runColor, withAlpha } from "./colors.js";

function eachRun(chart, fn) {
  for (const entry of chart.layout) {
    const s = chart.series.get(entry.runId);
    if (s) fn(entry.runId, s);
  }
}

/** uPlot "drawAxes" hook: each run's band from band_min to band_max, one step per column. */
export function drawBands(chart, u) {
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  eachRun(chart, (runId, s) => {
    const n = s.bandX.length;
    if (!s.meta.reduced || n === 0) return;
    ctx.fillStyle = withAlpha(runColor(runId), 0.22);
    ctx.beginPath();
    let open = false;
    const xs = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) xs[i] = u.valToPos(s.bandX[i], "x", true);
    xs[n] = xs[n - 1] + (n > 1 ? xs[n - 1] - xs[n - 2] : 1);
    for (let i = 0; i < n; i++) {
      const y1 = u.valToPos(s.bandMax[i], "y", true);
      const y2 = u.valToPos(s.bandMin[i], "y", true);
      if (!Number.isFinite(y1) || !Number.isFinite(y2)) continue;
      const w = Math.max(1, xs[i + 1] - xs[i]);
      ctx.rect(xs[i], y1, w, Math.max(1, y2 - y1));
      open = true;
    }
    if (open) ctx.fill();
  });
  ctx.restore();
}

function triangle(ctx, x, y, size, up) {
  ctx.beginPath();
  ctx.moveTo(x, up ? y : y + size);
  ctx.lineTo(x - size * 0.7, up ? y + size : y);
  ctx.lineTo(x + size * 0.7, up ? y + size : y);
  ctx.closePath();
  ctx.fill();
}

function cross(ctx, x, y, size) {
  ctx.beginPath();
  ctx.moveTo(x - size / 2, y - size / 2);
  ctx.lineTo(x + size / 2, y + size / 2);
  ctx.moveTo(x + size / 2, y - size / 2);
  ctx.lineTo(x - size / 2, y + size / 2);
  ctx.stroke();
}

/** uPlot "draw" hook: ▲ +inf at the top edge, ▼ -inf at the bottom edge, × NaN near the top. */
export function drawNonfinite(chart, u) {
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  const size = 7 * devicePixelRatio;
  ctx.save();
  ctx.lineWidth = 1.6 * devicePixelRatio;
  eachRun(chart, (runId, s) => {
    ctx.fillStyle = runColor(runId);
    ctx.strokeStyle = runColor(runId);
    for (let i = 0; i < s.nonfiniteX.length; i++) {
      const x = u.valToPos(s.nonfiniteX[i], "x", true);
      if (!(x >= left - 1 && x <= left + width + 1)) continue;
      const v = s.nonfiniteY[i];
      if (v === Infinity) triangle(ctx, x, top + 1, size, true);
      else if (v === -Infinity) triangle(ctx, x, top + height - size - 1, size, false);
      else cross(ctx, x, top + size * 1.8, size);
    }
  });
  ctx.restore();
}

/**
 * uPlot "draw" hook: a short tick at the top (bottom) edge over each point far above (below)
 * the y range (by more than the range's own span), so a spike that the outlier scaling cut
 * off still shows where it is, while ordinary noise past the 5–95 % range adds no clutter.
 */
export function drawClipped(chart, u) {
  const { ctx } = u;
  const { top, height } = u.bbox;
  const { min, max } = u.scales.y;
  const logy = u.scales.y.distr === 3;
  const hi = logy ? max * (max / min) : max + (max - min);
  const lo = logy ? min / (max / min) : min - (max - min);
  const tick = 7 * devicePixelRatio;
  ctx.save();
  ctx.lineWidth = 2 * devicePixelRatio;
  eachRun(chart, (runId, s) => {
    ctx.strokeStyle = runColor(runId);
    ctx.beginPath();
    for (let i = 0; i < s.y.length; i++) {
      const v = s.y[i];
      if (v <= hi && v >= lo) continue;
      const x = u.valToPos(s.x[i], "x", true);
      // Above the plot, in its top padding; below it, on the bottom edge.
      const y = v > hi ? top - tick - 2 * devicePixelRatio : top + height - tick;
      ctx.moveTo(x, y);
      ctx.lineTo(x, y + tick);
    }
    ctx.stroke();
  });
  ctx.restore();
}

/** How many non-finite points the chart marks. */
export function nonfiniteCount(chart) {
  let n = 0;
  eachRun(chart, (_, s) => { n += s.nonfiniteX.length; });
  return n;
}
