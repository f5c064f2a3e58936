// The runs panel: every run with its colour, status and facts; a regex and a status filter;
// a checkbox per run. Virtualised: only the rows on screen (plus a few) are in the DOM, so
// 10,000 runs scroll and filter without lag.

import { runColor } from "./colors.js";
import { el, formatDuration, formatIso, formatStart } from "./format.js";
import { userRegex } from "./state.js";

const ROW = 46;
const OVERSCAN = 8;
const STATUSES = ["running", "finished", "failed", "crashed"];

function buildHead(panel, app) {
  const head = el("div", "panel-head");
  const title = el("div", "panel-title");
  title.append(el("span", "", "Runs"));
  panel.count = el("span", "muted");
  panel.count.dataset.testid = "run-count";
  title.append(panel.count);
  const filter = el("input", "input");
  filter.type = "search";
  filter.placeholder = "Filter runs (regex)";
  filter.spellcheck = false;
  filter.dataset.testid = "run-filter";
  filter.value = app.store.get().q;
  filter.addEventListener("input", () => app.store.set({ q: filter.value }));
  const status = el("select", "select");
  status.dataset.testid = "status-filter";
  status.append(new Option("All statuses", ""));
  for (const s of STATUSES) status.append(new Option(s, s));
  status.value = app.store.get().status;
  status.addEventListener("change", () => app.store.set({ status: status.value }));
  const filters = el("div", "panel-filters");
  filters.append(filter, status);
  const actions = el("div", "panel-actions");
  const button = (label, title, fn) => {
    const b = el("button", "link-button", label);
    b.type = "button";
    b.title = title;
    b.addEventListener("click", fn);
    actions.append(b);
  };
  button("Latest 5", "select the five newest runs", () => app.store.set({ runs: null }));
  button("All shown", "select every run the filters show (at most 200)", () =>
    app.setSelected(panel.visible.slice(0, 200).map((r) => r.run_id)));
  button("None", "clear the selection", () => app.setSelected([]));
  panel.selectedCount = el("span", "muted selected-count");
  actions.append(panel.selectedCount);
  head.append(title, filters, actions);
  return head;
}

function filterRuns(app) {
  const { q, status } = app.store.get();
  const re = userRegex(q);
  return app.runs.filter((r) => {
    if (status && r.status !== status) return false;
    if (!re) return true;
    return re.test(r.name || "") || re.test(r.project || "") || re.test(r.run_id);
  });
}

function buildRow(run, app) {
  const row = el("div", "run-row");
  const { view, run: shown } = app.store.get();
  if (view === "run" && shown === run.run_id) row.classList.add("current"); // the run page's run
  row.dataset.testid = "run-row";
  row.dataset.runId = run.run_id;
  const box = el("input");
  box.type = "checkbox";
  box.title = "overlay this run on the charts";
  const swatch = el("span", "swatch");
  swatch.style.background = runColor(run.run_id);
  const main = el("div", "run-main");
  const line1 = el("div", "run-line1");
  const name = el("a", "run-name", run.name || run.run_id);
  name.dataset.testid = "run-name";
  name.href = "?view=run&run=" + encodeURIComponent(run.run_id);
  name.title = (run.path || run.run_id) + " — open the run page";
  const status = el("span", "status status-" + run.status, run.status);
  status.dataset.testid = "run-status";
  line1.append(name, status);
  const facts = [run.project, run.host, formatStart(run.started_at),
    formatDuration(run.duration_s), run.last_step === null ? "" : "step " + run.last_step];
  const line2 = el("div", "run-line2", facts.filter((f) => f).join(" · "));
  line2.title = "run " + run.run_id + ", started " + formatIso(run.started_at);
  main.append(line1, line2);
  row.append(box, swatch, main);
  row.addEventListener("click", (event) => {
    if (event.target === name) return;
    if (event.target !== box) box.checked = !box.checked;
    toggle(app, run.run_id, box.checked);
  });
  return row;
}

function toggle(app, runId, on) {
  const selected = app.selected().filter((id) => id !== runId);
  if (on) selected.unshift(runId);
  app.setSelected(selected);
}

function render(panel, app) {
  const { list, spacer } = panel;
  const total = panel.visible.length;
  spacer.style.height = total * ROW + "px";
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(total, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + OVERSCAN);
  const selected = new Set(app.selected());
  const keep = new Map();
  for (let i = first; i < last; i++) {
    const run = panel.visible[i];
    let row = panel.rows.get(run.run_id);
    if (row && row.run !== run) {
      row.node.remove(); // the run changed (status, last step): draw its row again
      row = null;
    }
    if (!row) row = { node: buildRow(run, app), run };
    row.node.style.transform = "translateY(" + i * ROW + "px)";
    row.node.firstChild.checked = selected.has(run.run_id);
    row.node.classList.toggle("selected", selected.has(run.run_id));
    keep.set(run.run_id, row);
  }
  for (const [id, row] of panel.rows) if (!keep.has(id)) row.node.remove();
  for (const row of keep.values()) if (!row.node.parentNode) spacer.append(row.node);
  panel.rows = keep;
}

function refresh(panel, app) {
  panel.visible = filterRuns(app);
  const n = panel.visible.length;
  panel.count.textContent = n + (n === 1 ? " run" : " runs");
  panel.selectedCount.textContent = app.selected().length + " selected";
  render(panel, app);
}

/** Mount the runs panel into `root`. */
export function mount(root, app) {
  const panel = { rows: new Map(), visible: [] };
  panel.list = el("div", "run-list");
  panel.spacer = el("div", "run-spacer");
  panel.list.append(panel.spacer);
  root.replaceChildren(buildHead(panel, app), panel.list);
  let frame = 0;
  panel.list.addEventListener("scroll", () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(panel, app); });
  });
  new ResizeObserver(() => render(panel, app)).observe(panel.list);
  app.events.on("runs", () => refresh(panel, app));
  app.store.subscribe((_, keys) => {
    // a new filter shows its matches from the top (the old scroll offset may lie past them)
    if (keys.has("q") || keys.has("status")) panel.list.scrollTop = 0;
    if (keys.has("q") || keys.has("status") || keys.has("runs")) refresh(panel, app);
  });
  refresh(panel, app);
}
