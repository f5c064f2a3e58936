// The offset (ridge) plot of one (run, tag): one ridge per step drawn, the oldest at the back
// (top), the newest in front (bottom), each filled so it hides the ridges behind it. The
// highlighted step (the slider's) is drawn in the accent colour. Hover names the step.

import { formatValue } from "../format.js";

const HEIGHT = 260;
const PAD = { left: 8, right: 56, top: 10, bottom: 24 };

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function mix(hex, alpha) {
  return hex + Math.round(alpha * 255).toString(16).padStart(2, "0");
}

/** Geometry of the plot: the x of each grid edge, the baseline of each ridge. */
function layout(answer, width) {
  const n = answer.ridges.length;
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const amplitude = n > 1 ? Math.min(plotH * 0.55, Math.max(18, plotH * 0.35)) : plotH;
  const lo = answer.edges[0];
  const hi = answer.edges[answer.edges.length - 1];
  const x = (v) => PAD.left + ((v - lo) / (hi - lo)) * plotW;
  const base = (i) => PAD.top + amplitude + (n > 1 ? (i / (n - 1)) * (plotH - amplitude) : 0);
  let peak = 0;
  for (const r of answer.ridges) for (const c of r.counts) peak = Math.max(peak, c);
  return { n, plotW, plotH, amplitude, x, base, peak: peak || 1, lo, hi };
}

function ticks(lo, hi, count) {
  const span = hi - lo;
  const step = Math.pow(10, Math.floor(Math.log10(span / count)));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) || step * 10;
  const out = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + nice * 1e-9; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Draw `answer` (the /api/histograms/offset answer) into `canvas`; `highlight` is a step. */
export function drawOffset(canvas, answer, color, highlight, hovered) {
  const width = Math.max(240, canvas.parentElement.clientWidth || 400);
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(HEIGHT * ratio);
  canvas.style.width = width + "px";
  canvas.style.height = HEIGHT + "px";
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, HEIGHT);
  const geo = layout(answer, width);
  const card = css("--card");
  const accent = css("--accent");
  const text = css("--axis-text");
  const grid = css("--grid");
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = grid;
  g.fillStyle = text;
  g.textAlign = "center";
  for (const v of ticks(geo.lo, geo.hi, Math.max(3, Math.floor(geo.plotW / 80)))) {
    const px = geo.x(v);
    g.beginPath(); g.moveTo(px, PAD.top); g.lineTo(px, HEIGHT - PAD.bottom); g.stroke();
    g.fillText(formatValue(v), px, HEIGHT - 8);
  }
  const edges = answer.edges;
  const labelEvery = Math.max(1, Math.ceil(geo.n / 8));
  answer.ridges.forEach((ridge, i) => {
    const y0 = geo.base(i);
    const special = ridge.step === highlight || ridge.step === hovered;
    g.beginPath();
    g.moveTo(geo.x(edges[0]), y0);
    for (let b = 0; b < ridge.counts.length; b++) {
      const mid = (edges[b] + edges[b + 1]) / 2;
      g.lineTo(geo.x(mid), y0 - (ridge.counts[b] / geo.peak) * geo.amplitude);
    }
    g.lineTo(geo.x(edges[edges.length - 1]), y0);
    g.closePath();
    const age = geo.n > 1 ? i / (geo.n - 1) : 1;
    g.fillStyle = card;
    g.fill();
    g.fillStyle = mix(special ? accent : color, special ? 0.35 : 0.08 + 0.3 * age);
    g.fill();
    g.lineWidth = special ? 2 : 1;
    g.strokeStyle = special ? accent : mix(color, 0.45 + 0.55 * age);
    g.stroke();
    if (special || i % labelEvery === 0 || i === geo.n - 1) {
      g.fillStyle = special ? accent : text;
      g.textAlign = "left";
      g.fillText(String(ridge.step), width - PAD.right + 6, y0 + 3);
    }
  });
  return geo;
}

/** The ridge under a mouse y (the one whose baseline is nearest below it). */
export function ridgeAt(geo, y) {
  if (!geo || geo.n === 0) return -1;
  let best = 0;
  let distance = Infinity;
  for (let i = 0; i < geo.n; i++) {
    const d = Math.abs(geo.base(i) - geo.amplitude * 0.25 - y);
    if (d < distance) { distance = d; best = i; }
  }
  return best;
}
