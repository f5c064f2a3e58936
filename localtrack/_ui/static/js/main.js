// The page: loads the runs, mounts the runs panel and the view named in the URL, starts the
// live poll, and exposes window.localtrack (docs/UI.md "Test hooks").

import { getJSON } from "./api.js";
import { assignColors } from "./colors.js";
import { startLive } from "./live.js";
import * as runPage from "./run_page.js";
import * as runsPanel from "./runs_panel.js";
import * as scalarsView from "./scalars_view.js";
import { smooth } from "./smoothing.js";
import { serialize, Store } from "./state.js";

const DEFAULT_SELECTED = 5;

/** A tiny event bus: on(name, fn), emit(name, ...args). */
class Events {
  constructor() {
    this.handlers = new Map();
  }
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
  }
  emit(name, ...args) {
    for (const fn of this.handlers.get(name) || []) fn(...args);
  }
}

function createApp() {
  const app = {
    store: new Store(location.search),
    events: new Events(),
    runs: [],
    runsById: new Map(),
    root: "",
    generation: 0,
    charts: new Map(),
    series: new Map(),
  };
  /** The selected run ids: the URL's `runs`, else the latest five. */
  app.selected = () => {
    const chosen = app.store.get().runs;
    if (chosen === null) return app.runs.slice(0, DEFAULT_SELECTED).map((r) => r.run_id);
    return chosen.filter((id) => app.runsById.has(id));
  };
  app.setSelected = (ids) => app.store.set({ runs: ids });
  app.loadRuns = async () => {
    const body = await getJSON("/api/runs");
    app.runs = body.runs;
    app.runsById = new Map(body.runs.map((r) => [r.run_id, r]));
    assignColors(body.runs);
    app.root = body.root;
    if (!app.generation) app.generation = body.generation;
    app.events.emit("runs");
    return body;
  };
  return app;
}

function setupTheme(app) {
  const root = document.documentElement;
  const saved = localStorage.getItem("localtrack-theme");
  if (saved === "dark" || saved === "light") root.dataset.theme = saved;
  document.getElementById("theme").addEventListener("click", () => {
    const dark = root.dataset.theme
      ? root.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("localtrack-theme", root.dataset.theme);
    app.events.emit("theme");
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (!root.dataset.theme) app.events.emit("theme");
  });
}

/** Keys: "/" focuses the tag filter (or the runs filter on a run page), Escape leaves a field. */
function setupKeys() {
  document.addEventListener("keydown", (event) => {
    const field = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
    if (event.key === "Escape" && field) {
      event.target.blur();
      return;
    }
    if (event.key !== "/" || field || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = document.querySelector("[data-testid=tag-filter]") || document.querySelector("[data-testid=run-filter]");
    if (!target) return;
    event.preventDefault();
    target.focus();
    target.select();
  });
}

/** The link to a view: this page's selection and options, and that view's own parameters. */
function tabHref(app, state, view) {
  return "/" + serialize({ ...state, view, run: "", extra: app.store.viewParams(view) });
}

/**
 * The tabs of /api/views (docs/UI.md "Views"), after Scalars: links that keep the selection
 * and options, and each view's own parameters as it was left. Resolves to the views, so that
 * a view named in the URL can be mounted.
 */
async function setupTabs(app, viewsAnswer) {
  const nav = document.querySelector(".tabs");
  const runTab = document.getElementById("tab-run");
  const current = app.store.get();
  document.getElementById("tab-scalars").href = tabHref(app, current, "scalars");
  const body = await viewsAnswer;
  const links = [];
  for (const v of body.views) {
    const a = document.createElement("a");
    a.className = "tab";
    a.id = "tab-" + v.name;
    a.dataset.testid = "tab-" + v.name;
    a.textContent = v.title;
    a.href = tabHref(app, current, v.name);
    if (current.view === v.name) a.classList.add("active");
    nav.insertBefore(a, runTab);
    links.push([a, v.name]);
  }
  app.store.subscribe((state) => {
    document.getElementById("tab-scalars").href = tabHref(app, state, "scalars");
    for (const [a, name] of links) a.href = tabHref(app, state, name);
  });
  return body.views;
}

async function mountView(el, app, views) {
  const name = app.store.get().view;
  const found = views.find((v) => v.name === name);
  if (!found) {
    document.getElementById("tab-scalars").classList.add("active");
    scalarsView.mount(el, app);
    return;
  }
  try {
    const module = await import(found.script);
    module.mount(el, app);
  } catch (error) {
    const box = document.createElement("div");
    box.className = "error-box";
    box.textContent = `Could not open the ${found.title} view: ` + (error && error.message ? error.message : error);
    el.replaceChildren(box);
  }
}

function showError(el, error) {
  const box = document.createElement("div");
  box.className = "error-box";
  box.textContent = "Could not load the runs: " + (error && error.message ? error.message : error);
  el.replaceChildren(box);
}

async function start() {
  const app = createApp();
  window.localtrack = { charts: app.charts, series: app.series, smooth, app };
  setupTheme(app);
  setupKeys();
  const view = document.getElementById("view");
  const viewsAnswer = getJSON("/api/views");
  viewsAnswer.catch(() => {}); // reported by setupTabs below
  try {
    await app.loadRuns();
  } catch (error) {
    showError(view, error);
    return;
  }
  document.getElementById("root").textContent = app.root;
  document.getElementById("root").title = "runs root: " + app.root;
  runsPanel.mount(document.getElementById("runs-panel"), app);
  const name = app.store.get().view;
  if (name === "run") {
    runPage.mount(view, app);
  } else if (name === "scalars") {
    document.getElementById("tab-scalars").classList.add("active");
    scalarsView.mount(view, app);
  }
  startLive(app, document.getElementById("live"));
  let views = [];
  try {
    views = await setupTabs(app, viewsAnswer);
  } catch (error) {
    console.warn("localtrack: no view list", error);
  }
  if (name !== "run" && name !== "scalars") await mountView(view, app, views);
}

start();
