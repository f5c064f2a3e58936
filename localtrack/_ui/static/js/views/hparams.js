// The Hparams view: runs × hparams × metrics from /api/hparams/table, as a parallel-coordinates
// chart (brush an axis: the matching runs become the selection, which the runs panel and the
// scalars view show) over a sortable, filterable table. Filter: a regex over the run name
// and the cells, or `key<op>number` (op one of < <= > >= =). Sort and filter live in the URL.

import { getJSON, num } from "../api.js";
import { runColor } from "../colors.js";
import { el } from "../format.js";
import { userRegex } from "../state.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { createParallelCoords } from "./parallel_coords.js";
import { createTable, sortRows } from "./hparams_table.js";

const MAX_AXES = 16;
const COMPARE = /^\s*([^<>=]+?)\s*(<=|>=|<|>|=)\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*$/i;

function value(row, key) {
  if (key in row.hparams) return row.hparams[key];
  if (key in row.metrics) return num(row.metrics[key]);
  return null;
}

function label(view, row) {
  const run = view.app.runsById.get(row.run_id);
  const name = run ? run.name || row.run_id : row.run_id;
  if (row.trial && row.trial !== name) return name + " · " + row.trial;
  if (row.trials > 1) return name + " · #" + (row.index + 1);
  return name;
}

/** The filter text as a test of a row (null: no filter or a regex that does not compile). */
export function rowFilter(text, labelOf) {
  if (!text) return () => true;
  const m = COMPARE.exec(text);
  if (m) {
    const [, key, op, raw] = m;
    const bound = Number(raw);
    const tests = { "<": (v) => v < bound, "<=": (v) => v <= bound, ">": (v) => v > bound, ">=": (v) => v >= bound, "=": (v) => v === bound };
    return (row) => { const v = value(row, key); return typeof v === "number" && tests[op](v); };
  }
  const re = userRegex(text);
  if (!re) return null;
  return (row) => re.test(labelOf(row)) || Object.values(row.hparams).some((v) => v !== null && re.test(String(v)));
}

function columnsOf(data) {
  const hp = data.hparams.map((key) => ({ key, label: key, kind: data.kinds[key], metric: false, domain: data.domains[key] }));
  const metrics = data.metrics.map((key) => ({ key, label: key, kind: "number", metric: true }));
  return [...hp, ...metrics];
}

/** Axes: the columns whose value differs between rows (a constant tells nothing), hparams first. */
function axesOf(columns, rows) {
  const varying = columns.filter((c) => new Set(rows.map((r) => String(value(r, c.key)))).size > 1);
  return varying.slice(0, MAX_AXES);
}

function buildToolbar(view) {
  const app = view.app;
  const bar = el("div", "toolbar");
  const filter = el("input", "input hp-filter");
  filter.type = "search";
  filter.placeholder = "Filter (regex, or lr<0.01)";
  filter.spellcheck = false;
  filter.dataset.testid = "hparams-filter";
  filter.value = getParam(app, "hpq");
  filter.addEventListener("input", () => setParams(app, { hpq: filter.value }));
  const selectShown = el("button", "button", "Select shown");
  selectShown.type = "button";
  selectShown.title = "select the runs of the rows shown (after filter and brushes)";
  selectShown.addEventListener("click", () => app.setSelected(unique(view.shownRows().map((r) => r.run_id))));
  const clear = el("button", "button", "Clear brushes");
  clear.type = "button";
  clear.dataset.testid = "pc-clear";
  clear.addEventListener("click", () => { view.pc.clear(); draw(view); });
  view.summary = el("span", "toolbar-summary");
  view.summary.dataset.testid = "hparams-summary";
  bar.append(filter, selectShown, clear, el("span", "spacer"), view.summary);
  view.filterInput = filter;
  return bar;
}

function unique(ids) {
  return [...new Set(ids)];
}

function filtered(view) {
  const test = rowFilter(getParam(view.app, "hpq"), (r) => label(view, r));
  view.filterInput.classList.toggle("invalid", test === null);
  return view.data.rows.filter(test || (() => true));
}

function draw(view) {
  const rows = filtered(view);
  view.rows = rows;
  const selected = new Set(view.app.selected());
  view.pc.update(view.axes(rows), rows, (r) => runColor(r.run_id), rows.filter((r) => selected.has(r.run_id)));
  drawTable(view);
}

function drawTable(view) {
  const selected = new Set(view.app.selected());
  const key = getParam(view.app, "hpsort");
  const desc = getParam(view.app, "hpdesc") === "1";
  const shown = view.shownRows();
  view.table.update(view.columns, sortRows(shown, key, desc, value), selected, { key, desc });
  const runs = unique(view.data.rows.map((r) => r.run_id)).length;
  view.summary.textContent = shown.length + " of " + view.data.rows.length + " rows · " + runs +
    (runs === 1 ? " run" : " runs") + " · " + selected.size + " selected";
}

function empty(view, text) {
  const box = el("div", "empty-state", text);
  view.root.replaceChildren(box);
}

async function load(view) {
  const data = await getJSON("/api/hparams/table");
  // The runs list refreshes while runs log; the chart is drawn again only when the hparams
  // themselves changed (a redraw replaces its axes, under a pointer that may be brushing one).
  const text = JSON.stringify(data);
  if (view.built && text === view.text) return;
  view.text = text;
  view.data = data;
  for (const row of data.rows) row.id = row.run_id + ":" + row.index;
  if (data.rows.length === 0) {
    empty(view, "No run has hparams yet. Log them with writer.add_hparams(hparams, metrics) or " +
      "localtrack.init(config=…): each run then shows here, with its metrics.");
    return;
  }
  view.columns = columnsOf(data);
  view.axes = (rows) => axesOf(view.columns, rows);
  if (!view.built) build(view);
  draw(view);
}

function build(view) {
  const app = view.app;
  view.built = true;
  view.pc = createParallelCoords({
    get: value,
    onBrushEnd: (rows, brushed) => {
      if (brushed) app.setSelected(unique(rows.map((r) => r.run_id)));
      else drawTable(view);
    },
    onBrush: () => drawTable(view),
  });
  view.shownRows = () => (view.pc.brushes.size ? view.pc.matching() : view.rows);
  view.table = createTable({
    get: value,
    label: (r) => label(view, r),
    onSort: (key) => {
      const same = getParam(app, "hpsort") === key;
      const desc = same && getParam(app, "hpdesc") !== "1";
      setParams(app, { hpsort: key, hpdesc: desc ? "1" : "" });
    },
    onToggle: (runId, on) => {
      const ids = new Set(app.selected());
      if (on) ids.add(runId); else ids.delete(runId);
      app.setSelected([...ids]);
    },
  });
  const chartCard = el("section", "card hp-card");
  chartCard.append(el("h2", "card-title", "Parallel coordinates"), el("div", "hp-hint",
    "Drag along an axis to brush it (several axes combine); the runs that pass become the selection. Click an axis to clear its brush."), view.pc.el);
  const tableCard = el("section", "card hp-card");
  tableCard.append(el("h2", "card-title", "Runs × hparams × metrics"), view.table.el);
  view.root.replaceChildren(buildToolbar(view), chartCard, tableCard);
  let timer = 0;
  let width = -1;
  new ResizeObserver(() => {
    if (chartCard.clientWidth === width) return; // only a new width moves the axes
    width = chartCard.clientWidth;
    clearTimeout(timer);
    timer = setTimeout(() => view.rows && draw(view), 80);
  }).observe(chartCard);
}

/** Mount the Hparams view into `root`. */
export function mount(root, app) {
  useStyle("hparams");
  const view = { root, app, built: false };
  root.replaceChildren(el("div", "empty-state", "Loading hparams…"));
  app.store.subscribe((state, keys) => {
    if (!view.built) return;
    if (keys.has("runs")) {
      const selected = new Set(app.selected());
      view.pc.repaint(view.rows.filter((r) => selected.has(r.run_id)));
      drawTable(view);
    }
    if (keys.has("extra")) draw(view);
  });
  app.events.on("runs", () => load(view).catch((e) => empty(view, "Could not load the hparams: " + e.message)));
  load(view).catch((error) => empty(view, "Could not load the hparams: " + (error.message || error)));
}
