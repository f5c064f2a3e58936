// The scalars view: a toolbar (tag filter, smoothing, x axis, log y, outliers, group by) and
// one chart per tag, grouped in collapsible sections by the part of the tag before the first
// "/". Only charts on screen fetch (IntersectionObserver); the others wait until scrolled to.
// With "Group by" set (URL: groupby, agg, band), each chart is aggregate_chart.js's instead:
// a line per group of runs with its band, loaded only then.

import { getJSON } from "./api.js";
import { createChart } from "./chart.js";
import { el } from "./format.js";
import { userRegex } from "./state.js";

const GROUPING = ["groupby", "agg", "band"];

/** The view's own URL parameters (as js/view_kit.js keeps them; not imported: it is not
 * among the modules index.html preloads). */
function extra(app, key, fallback = "") {
  const v = app.store.get().extra[key];
  return v === undefined ? fallback : v;
}

function setExtra(app, patch) {
  const next = { ...app.store.get().extra };
  for (const [k, v] of Object.entries(patch)) {
    if (v === "" || v === null) delete next[k];
    else next[k] = String(v);
  }
  app.store.set({ extra: next });
}

function buildGrouping(view, app) {
  const wrap = el("label", "control grouping");
  const by = el("select", "select");
  by.dataset.testid = "group-by";
  by.title = "group the runs by an hparam or config key: a line per group (its mean or median) with a band";
  const stat = el("select", "select");
  stat.dataset.testid = "agg-stat";
  for (const [v, label] of [["mean", "Mean"], ["median", "Median"]]) stat.append(new Option(label, v));
  const band = el("select", "select");
  band.dataset.testid = "agg-band";
  for (const [v, label] of [["minmax", "Min/max band"], ["std", "± std band"], ["none", "No band"]]) band.append(new Option(label, v));
  by.addEventListener("change", () => setExtra(app, { groupby: by.value }));
  stat.addEventListener("change", () => setExtra(app, { agg: stat.value === "mean" ? "" : stat.value }));
  band.addEventListener("change", () => setExtra(app, { band: band.value === "minmax" ? "" : band.value }));
  wrap.append(el("span", "control-label", "Group by"), by, stat, band);
  view.grouping = { by, stat, band };
  syncGrouping(view, app);
  return wrap;
}

/** The group-by controls as the URL says; the keys offered are those of the selected runs. */
function syncGrouping(view, app) {
  const { by, stat, band } = view.grouping;
  const key = extra(app, "groupby");
  const keys = view.groupKeys || [];
  const options = [["", "None"], ...keys.map((k) => [k.key, k.key + " · " + k.values + (k.values === 1 ? " value" : " values")])];
  if (key && !keys.some((k) => k.key === key)) options.push([key, key]);
  if (by.options.length !== options.length || options.some(([v], i) => by.options[i].value !== v)) {
    by.replaceChildren(...options.map(([v, label]) => new Option(label, v)));
  }
  by.value = key;
  stat.value = extra(app, "agg", "mean");
  band.value = extra(app, "band", "minmax");
  stat.hidden = band.hidden = !key;
}

async function loadGroupKeys(view, app) {
  const runs = app.selected();
  if (runs.length === 0) { view.groupKeys = []; syncGrouping(view, app); return; }
  try {
    const body = await getJSON("/api/aggregate/keys", { runs: runs.join(",") });
    view.groupKeys = body.keys;
  } catch (_) {
    view.groupKeys = [];
  }
  syncGrouping(view, app);
}

/** Make charts of the kind the grouping asks for (grouped ones are loaded on first use). */
async function chooseCharts(view, app) {
  const grouped = Boolean(extra(app, "groupby"));
  let make = createChart;
  if (grouped) make = (await import("./aggregate_chart.js")).createAggregateChart;
  if (grouped !== Boolean(extra(app, "groupby"))) return; // changed meanwhile
  if (view.grouped === grouped && view.makeChart) return;
  view.grouped = grouped;
  view.makeChart = make;
  for (const chart of view.charts.values()) { view.observer.unobserve(chart.el); chart.destroy(); }
  view.charts.clear();
  if (view.laidOut) layout(view, app);
}

function control(label, input) {
  const wrap = el("label", "control");
  wrap.append(el("span", "control-label", label), input);
  return wrap;
}

function buildToolbar(view, app) {
  const s = app.store.get();
  const bar = el("div", "toolbar");
  const tags = el("input", "input tag-filter");
  tags.type = "search";
  tags.placeholder = "Filter tags (regex)";
  tags.spellcheck = false;
  tags.dataset.testid = "tag-filter";
  tags.value = s.tags;
  tags.addEventListener("input", () => app.store.set({ tags: tags.value }));
  const slider = el("input", "slider");
  Object.assign(slider, { type: "range", min: "0", max: "0.999", step: "0.001", value: String(s.smooth) });
  slider.dataset.testid = "smoothing";
  const readout = el("span", "readout", s.smooth.toFixed(3));
  slider.addEventListener("input", () => {
    readout.textContent = Number(slider.value).toFixed(3);
    app.store.set({ smooth: Number(slider.value) });
  });
  const smoothing = control("Smoothing", slider);
  smoothing.append(readout);
  const x = el("select", "select");
  x.dataset.testid = "x-axis";
  for (const [value, label] of [["step", "Step"], ["relative", "Relative"], ["wall", "Wall time"]]) x.append(new Option(label, value));
  x.value = s.x;
  x.addEventListener("change", () => app.store.set({ x: x.value }));
  const check = (testid, label, key, title) => {
    const box = el("input");
    box.type = "checkbox";
    box.dataset.testid = testid;
    box.checked = s[key];
    box.addEventListener("change", () => app.store.set({ [key]: box.checked }));
    const wrap = el("label", "control check");
    wrap.title = title;
    wrap.append(box, el("span", "", label));
    return wrap;
  };
  view.summary = el("span", "toolbar-summary");
  bar.append(tags, smoothing, control("X axis", x),
    check("log-y", "Log y", "logy", "logarithmic y axis (positive values only)"),
    check("ignore-outliers", "Ignore outliers", "outliers", "scale y to the 5–95 % quantiles of the values"),
    buildGrouping(view, app), el("span", "spacer"), view.summary);
  view.inputs = { tags, slider, readout, x };
  return bar;
}

function groupOf(tag) {
  const i = tag.indexOf("/");
  return i < 0 ? tag : tag.slice(0, i);
}

function buildGroup(view, app, name) {
  const section = el("section", "tag-group");
  section.dataset.testid = "tag-group";
  section.dataset.group = name;
  const toggle = el("button", "group-head");
  toggle.type = "button";
  toggle.dataset.testid = "tag-group-toggle";
  const caret = el("span", "caret");
  const count = el("span", "group-count");
  toggle.append(caret, el("span", "group-name", name), count);
  toggle.addEventListener("click", () => {
    const collapsed = new Set(app.store.get().collapsed);
    if (collapsed.has(name)) collapsed.delete(name);
    else collapsed.add(name);
    app.store.set({ collapsed: [...collapsed].sort() });
  });
  const grid = el("div", "chart-grid");
  section.append(toggle, grid);
  return { section, grid, count, name };
}

/** Create, keep or destroy charts and sections so they match the tags and the filters. */
function layout(view, app) {
  const { tags: filter, collapsed } = app.store.get();
  const re = userRegex(filter);
  view.inputs.tags.classList.toggle("invalid", Boolean(filter) && !re);
  const wanted = new Set(view.tags.map((t) => t.tag));
  for (const [tag, chart] of view.charts) {
    if (!wanted.has(tag)) { view.observer.unobserve(chart.el); chart.destroy(); view.charts.delete(tag); }
  }
  const groups = new Map();
  for (const { tag } of view.tags) {
    const name = groupOf(tag);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(tag);
  }
  const sections = [];
  let shown = 0;
  for (const name of [...groups.keys()].sort()) {
    let group = view.groups.get(name);
    if (!group) view.groups.set(name, (group = buildGroup(view, app, name)));
    const cards = [];
    let visible = 0;
    for (const tag of groups.get(name)) {
      let chart = view.charts.get(tag);
      if (!chart) {
        view.charts.set(tag, (chart = view.makeChart(tag, app)));
        view.observer.observe(chart.el);
      }
      chart.el.hidden = Boolean(re) && !re.test(tag);
      if (!chart.el.hidden) visible++;
      cards.push(chart.el);
    }
    group.grid.replaceChildren(...cards);
    const isCollapsed = collapsed.includes(name);
    group.section.classList.toggle("collapsed", isCollapsed);
    group.grid.hidden = isCollapsed;
    group.section.hidden = visible === 0;
    group.count.textContent = visible === cards.length ? String(cards.length) : visible + " of " + cards.length;
    shown += visible;
    sections.push(group.section);
  }
  for (const [name, group] of view.groups) if (!groups.has(name)) { group.section.remove(); view.groups.delete(name); }
  view.groupsEl.replaceChildren(...sections);
  view.shown = shown;
  summarize(view, app);
}

function summarize(view, app) {
  const runs = app.selected().length;
  const shown = view.shown || 0;
  view.summary.textContent = shown + " of " + view.tags.length + " tags · " + runs + (runs === 1 ? " run" : " runs");
  view.empty.hidden = true;
  if (app.runs.length === 0) {
    showEmpty(view, "No runs under " + app.root + " yet. Start a training with localtrack.SummaryWriter " +
      "or localtrack.init: it shows up here by itself.");
  } else if (runs === 0) showEmpty(view, "No run selected. Tick runs in the panel on the left to chart them.");
  else if (view.loaded && view.tags.length === 0) showEmpty(view, "The selected runs have logged no scalars yet.");
  else if (view.tags.length > 0 && shown === 0) showEmpty(view, "No tag matches the filter.");
}

function showEmpty(view, text) {
  view.empty.textContent = text;
  view.empty.hidden = false;
}

async function loadTags(view, app) {
  const runs = app.selected();
  const key = runs.join(",");
  if (runs.length === 0) { view.tags = []; view.loaded = true; layout(view, app); return; }
  const body = await getJSON("/api/tags", { runs: key });
  if (key !== app.selected().join(",")) return;
  const before = view.tags.map((t) => t.tag).join("\n");
  view.tags = body.tags;
  view.loaded = true;
  if (before !== view.tags.map((t) => t.tag).join("\n") || !view.laidOut) { view.laidOut = true; layout(view, app); }
}

async function selectionChanged(view, app) {
  const key = app.selected().join(",");
  if (key === view.selection) return;
  view.selection = key;
  summarize(view, app);
  loadGroupKeys(view, app);
  await loadTags(view, app);
  for (const chart of view.charts.values()) chart.invalidate();
}

/** Mount the scalars view into `root`. */
export function mount(root, app) {
  const view = { charts: new Map(), groups: new Map(), tags: [], loaded: false, selection: null,
    makeChart: createChart, grouped: false, groupKeys: [], groupingKey: "" };
  view.groupsEl = el("div", "groups");
  view.empty = el("div", "empty-state");
  view.empty.hidden = true;
  root.replaceChildren(buildToolbar(view, app), view.empty, view.groupsEl);
  view.observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const chart = view.charts.get(entry.target.dataset.tag);
      if (!chart) continue;
      chart.onScreen = entry.isIntersecting;
      if (chart.onScreen && chart.stale) chart.fetch();
    }
  }, { root: null, rootMargin: "200px 0px" });
  let frame = 0;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; for (const c of view.charts.values()) c.redraw(); });
  };
  app.store.subscribe((state, keys) => {
    if (keys.has("runs")) selectionChanged(view, app);
    if (keys.has("x")) for (const c of view.charts.values()) c.invalidate();
    if (keys.has("smooth") || keys.has("logy") || keys.has("outliers")) redraw();
    if (keys.has("tags") || keys.has("collapsed")) layout(view, app);
    if (keys.has("extra")) groupingChanged(view, app);
  });
  app.events.on("runs", () => selectionChanged(view, app));
  app.events.on("theme", redraw);
  app.events.on("live", (changed) => {
    const selected = app.selected();
    if (!selected.some((id) => changed.has(id))) return;
    for (const c of view.charts.values()) c.live(changed);
    loadTags(view, app);
  });
  let resizeTimer = 0;
  new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const c of view.charts.values()) c.resize(); }, 60);
  }).observe(view.groupsEl);
  view.groupingKey = GROUPING.map((k) => extra(app, k)).join("\n");
  if (extra(app, "groupby")) chooseCharts(view, app).then(() => selectionChanged(view, app));
  else selectionChanged(view, app);
}

function groupingChanged(view, app) {
  const now = GROUPING.map((k) => extra(app, k)).join("\n");
  if (now === view.groupingKey) return;
  view.groupingKey = now;
  syncGrouping(view, app);
  if (Boolean(extra(app, "groupby")) !== view.grouped) chooseCharts(view, app);
  else for (const c of view.charts.values()) c.invalidate();
}
