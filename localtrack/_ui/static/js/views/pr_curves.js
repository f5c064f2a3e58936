// The PR curves view: per tag and run, precision against recall at one step (uPlot), a
// slider over every logged step, and on hover the nearest threshold with its precision,
// recall and tp/fp/tn/fn counts.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { getJSON } from "../api.js";
import { runColor, withAlpha } from "../colors.js";
import { el, formatValue } from "../format.js";
import { useStyle } from "../view_kit.js";
import { createStepSlider } from "./step_slider.js";
import { cardHead, mountTagCards } from "./tag_cards.js";

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axis(label) {
  const grid = css("--grid");
  return { stroke: css("--axis-text"), font: "11px system-ui, sans-serif", size: 40, gap: 4, label,
    labelSize: 16, labelFont: "11px system-ui, sans-serif", grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1, size: 4 } };
}

/** The curve by ascending recall (thresholds descending), as uPlot wants its x. */
function ordered(curve) {
  const n = curve.thresholds.length;
  const order = [...Array(n).keys()].reverse();
  const pick = (name) => Float64Array.from(order, (i) => curve[name][i]);
  return { order, recall: pick("recall"), precision: pick("precision") };
}

function readout(legend, curve, i) {
  if (i == null || i < 0) {
    legend.dataset.threshold = "";
    legend.replaceChildren(el("span", "legend-x", "hover the curve for a threshold's counts"));
    return;
  }
  const item = (name, value, key) => {
    const node = el("span", "legend-item");
    const v = el("span", "legend-value", formatValue(value));
    v.dataset.field = key;
    node.append(el("span", "legend-name", name), v);
    return node;
  };
  legend.dataset.threshold = String(curve.thresholds[i]);
  legend.replaceChildren(item("threshold", curve.thresholds[i], "threshold"),
    item("precision", curve.precision[i], "precision"), item("recall", curve.recall[i], "recall"),
    item("tp", curve.tp[i], "tp"), item("fp", curve.fp[i], "fp"), item("tn", curve.tn[i], "tn"),
    item("fn", curve.fn[i], "fn"));
}

function curveCard(app, tag, run) {
  const card = el("div", "pr-card");
  const { head } = cardHead(app, run.run_id, run.steps + (run.steps === 1 ? " step" : " steps"));
  const plot = el("div", "media-plot pr-plot");
  const legend = el("div", "chart-legend pr-legend");
  legend.dataset.testid = "pr-legend";
  const controls = el("div", "media-controls");
  card.append(head, plot, legend, controls);
  card.dataset.state = "loading";
  let u = null;
  let asked = 0;
  const color = runColor(run.run_id);
  const draw = (curve) => {
    const { order, recall, precision } = ordered(curve);
    if (u) u.destroy();
    const width = Math.max(240, Math.floor(plot.clientWidth || 400));
    u = new uPlot({
      width, height: 260, legend: { show: false }, padding: [12, 12, 0, 0],
      series: [{}, { label: "precision", stroke: color, width: 2, fill: withAlpha(color, 0.08),
        points: { show: false } }],
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1.02] } },
      axes: [axis("recall"), axis("precision")],
      cursor: { drag: { x: false, y: false }, points: { size: 7, fill: color } },
      hooks: { setCursor: [(p) => readout(legend, curve, p.cursor.idx == null ? null : order[p.cursor.idx])] },
    }, [recall, precision], plot);
    readout(legend, curve, null);
  };
  const show = async (step) => {
    const mine = ++asked;
    try {
      const curve = await getJSON("/api/pr_curves/curve", { run: run.run_id, tag, step });
      if (mine !== asked) return;
      draw(curve);
      card.dataset.step = String(step);
      card.dataset.state = "drawn";
    } catch (error) {
      if (mine !== asked) return;
      card.dataset.state = "error";
      plot.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  };
  async function load() {
    try {
      const info = await getJSON("/api/pr_curves/steps", { run: run.run_id, tag });
      const slider = createStepSlider(info.step, { onChange: (step) => show(step) });
      controls.append(slider.el);
      show(slider.step());
    } catch (error) {
      card.dataset.state = "error";
      plot.replaceChildren(el("div", "chart-empty error", error.message || String(error)));
    }
  }
  return { el: card, load, destroy: () => u && u.destroy() };
}

export function mount(element, app) {
  useStyle("tag_cards");
  useStyle("pr_curves");
  const cards = mountTagCards(element, app, {
    view: "pr_curves", tagsPath: "/api/pr_curves/tags", noun: "PR curves",
    emptyText: "The selected runs logged no PR curves (add_pr_curve).",
    card: (tag, run) => curveCard(app, tag, run),
  });
  app.events.on("theme", () => cards.rerender());
}
