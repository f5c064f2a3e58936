// The histograms view: per tag and run, TensorBoard's Distributions (the min/7/16/31/50/69/
// 84/93/max % bands of every step, computed on the server) or Offset (one ridge per step,
// newest in front; with more steps than fit, ridges spread over the run plus the slider's).

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { getJSON } from "../api.js";
import { runColor, withAlpha } from "../colors.js";
import { el, formatValue } from "../format.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { getColumns } from "./columns.js";
import { drawOffset, ridgeAt } from "./histogram_offset.js";
import { createStepSlider, indexOf } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

const BANDS = ["p0", "p7", "p16", "p31", "p50", "p69", "p84", "p93", "p100"];
const LABELS = ["min", "7%", "16%", "31%", "median", "69%", "84%", "93%", "max"];

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axis(extra) {
  const grid = css("--grid");
  return { stroke: css("--axis-text"), font: "11px system-ui, sans-serif", size: 34, gap: 4,
    grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, ...extra };
}

function showLegend(legend, columns, i) {
  if (i == null) { legend.textContent = ""; return; }
  const parts = [el("span", "legend-x", "step " + columns.step[i])];
  for (const j of [0, 2, 4, 6, 8]) {
    const item = el("span", "legend-item");
    item.append(el("span", "legend-name", LABELS[j]), el("span", "legend-value", formatValue(columns[BANDS[j]][i])));
    parts.push(item);
  }
  legend.replaceChildren(...parts);
}

function distributionCard(app, tag, run) {
  const card = el("div", "histogram-card");
  const { head, info } = cardHead(app, run.run_id, run.steps + " steps");
  const plot = el("div", "media-plot");
  const legend = el("div", "chart-legend");
  card.append(head, plot, legend);
  card.dataset.state = "loading";
  let u = null;
  async function load() {
    try {
      const { header, columns } = await getColumns("/api/histograms/distribution", { run: run.run_id, tag });
      const color = runColor(run.run_id);
      const data = [columns.step, ...BANDS.map((b) => columns[b])];
      const series = [{}, ...BANDS.map((b, j) => ({ label: LABELS[j], stroke: j === 4 ? color : "transparent",
        width: j === 4 ? 1.5 : 0, points: { show: false } }))];
      const bands = [[9, 1, 0.12], [8, 2, 0.18], [7, 3, 0.24], [6, 4, 0.32]].map(([a, b, alpha]) => (
        { series: [a, b], fill: withAlpha(color, alpha) }));
      const width = Math.max(240, Math.floor(plot.clientWidth || 400));
      u = new uPlot({ width, height: 240, series, bands, legend: { show: false }, padding: [12, 10, 0, 0],
        scales: { x: { time: false } }, axes: [axis({}), axis({ size: 56 })],
        cursor: { points: { show: false }, drag: { x: false, y: false } },
        hooks: { setCursor: [(p) => showLegend(legend, columns, p.cursor.idx)] } }, data, plot);
      card.dataset.state = "drawn";
      card.dataset.points = String(header.count);
      info.textContent = header.count + " steps · " + columns.step[0] + "–" + columns.step[header.count - 1];
    } catch (error) {
      card.dataset.state = "error";
      plot.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  return { el: card, load, destroy: () => u && u.destroy() };
}

function offsetCard(app, tag, run) {
  const card = el("div", "histogram-card");
  const { head, info } = cardHead(app, run.run_id, run.steps + " steps");
  const plot = el("div", "media-plot offset-plot");
  const canvas = el("canvas", "offset-canvas");
  canvas.dataset.testid = "histogram-offset";
  const tip = el("div", "media-tip");
  tip.hidden = true;
  plot.append(canvas, tip);
  const controls = el("div", "media-controls");
  card.append(head, plot, controls);
  card.dataset.state = "loading";
  const state = { answer: null, geo: null, highlight: null, hovered: null, slider: null, asked: 0 };
  const color = runColor(run.run_id);
  const redraw = () => {
    state.geo = drawOffset(canvas, state.answer, color, state.highlight, state.hovered);
  };
  async function fetchRidges(step) {
    const mine = ++state.asked;
    const params = { run: run.run_id, tag };
    if (step !== null && step !== undefined) params.step = step;
    const answer = await getJSON("/api/histograms/offset", params);
    if (mine !== state.asked) return;
    state.answer = answer;
    canvas.dataset.ridges = String(answer.ridges.length);
    canvas.dataset.steps = String(answer.total_steps);
    const all = answer.ridges.length === answer.total_steps;
    info.textContent = answer.total_steps + " steps" + (all ? "" : " · " + answer.ridges.length + " ridges drawn");
    redraw();
    card.dataset.state = "drawn";
  }
  async function load() {
    try {
      await fetchRidges(null);
      const steps = state.answer.steps;
      state.highlight = steps[steps.length - 1];
      state.slider = createStepSlider(steps, { onChange: (step) => {
        state.highlight = step;
        const drawn = state.answer.ridges.some((r) => r.step === step);
        if (drawn) redraw();
        else fetchRidges(step).catch(() => {});
      } });
      controls.append(state.slider.el);
      redraw();
    } catch (error) {
      card.dataset.state = "error";
      plot.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  canvas.addEventListener("mousemove", (event) => {
    if (!state.answer) return;
    const box = canvas.getBoundingClientRect();
    const i = ridgeAt(state.geo, event.clientY - box.top);
    const ridge = state.answer.ridges[i];
    if (!ridge) return;
    if (state.hovered !== ridge.step) { state.hovered = ridge.step; redraw(); }
    tip.hidden = false;
    tip.textContent = `step ${ridge.step} · ${formatValue(ridge.num)} values · min ${formatValue(ridge.min)} · ` +
      `mean ${formatValue(ridge.mean)} · max ${formatValue(ridge.max)}`;
  });
  canvas.addEventListener("mouseleave", () => { state.hovered = null; tip.hidden = true; if (state.answer) redraw(); });
  canvas.addEventListener("click", () => {
    if (state.slider && state.hovered !== null) state.slider.set(indexOf(state.answer.steps, state.hovered));
  });
  return { el: card, load };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("histograms");
  let mode = getParam(app, "mode", "offset") === "distribution" ? "distribution" : "offset";
  let cards = null;
  cards = mountTagCards(element, app, {
    view: "histograms", tagsPath: "/api/histograms/tags", noun: "histograms",
    emptyText: "The selected runs logged no histograms (add_histogram).",
    toolbar(bar) {
      const group = el("div", "segmented");
      group.dataset.testid = "histogram-mode";
      for (const [value, label] of [["offset", "Offset"], ["distribution", "Distributions"]]) {
        const b = el("button", "segment" + (mode === value ? " active" : ""), label);
        b.type = "button";
        b.dataset.mode = value;
        b.addEventListener("click", () => {
          if (mode === value) return;
          mode = value;
          for (const other of group.children) other.classList.toggle("active", other.dataset.mode === mode);
          setParams(app, { mode: mode === "offset" ? "" : mode });
          cards.rerender();
        });
        group.append(b);
      }
      bar.append(group);
    },
    card: (tag, run) => (mode === "offset" ? offsetCard(app, tag, run) : distributionCard(app, tag, run)),
  });
  app.events.on("theme", () => cards.rerender());
}
