// The SQL console (docs/UI.md "SQL console"): a query box over the views of `localtrack sql`,
// the first 10,000 rows in a virtualised table with the total count, a CSV download of
// every row, and "chart this" for a result with an x and a y column. The query text is
// kept in the URL (`sql=`), so a link reruns it.

import { ApiError, getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el, formatDuration } from "../format.js";
import { getParam, setParams, useStyle } from "../view_kit.js";
import { chartable, defaultChoice, renderChart } from "./sql_chart.js";
import { renderTable } from "./sql_table.js";

const EXAMPLES = [
  ["Runs", "SELECT name, status, started_at, ended_at, host, writers\nFROM runs\nORDER BY started_at DESC"],
  ["Last value of each tag", "SELECT r.name AS run_name, s.tag, max(s.step) AS step,\n       arg_max(s.value, s.step) AS last, min(s.value) AS min, max(s.value) AS max\nFROM scalars s JOIN runs r USING (run_id)\nGROUP BY ALL\nORDER BY run_name, tag"],
  ["A curve per run", "SELECT r.name AS run_name, s.step, s.value\nFROM scalars s JOIN runs r USING (run_id)\nWHERE s.tag = (SELECT min(tag) FROM scalars)\nORDER BY run_name, step"],
  ["Config", "SELECT r.name AS run_name, c.key, c.value\nFROM config c JOIN runs r USING (run_id)\nORDER BY run_name, key"],
  ["Points per stream", "SELECT 'scalars' AS stream, count(*) AS rows FROM scalars\nUNION ALL SELECT 'histograms', count(*) FROM histograms\nUNION ALL SELECT 'images', count(*) FROM images\nUNION ALL SELECT 'texts', count(*) FROM texts"],
];

function numberText(n) {
  return Number(n).toLocaleString("en-US");
}

function csvUrl(sql) {
  return "/api/sql/query.csv?" + new URLSearchParams({ sql }).toString();
}

function schemaPanel(view) {
  const box = el("div", "sql-schema");
  box.dataset.testid = "sql-schema";
  box.append(el("div", "sql-schema-title", "Views"));
  const list = el("div", "sql-schema-list");
  box.append(list);
  getJSON("/api/sql/schema").then((body) => {
    for (const v of body.views) {
      const item = el("details", "sql-schema-view");
      const summary = el("summary", "sql-view-name", v.name);
      summary.title = "click the name to insert it; the arrow lists its columns";
      summary.addEventListener("dblclick", (event) => { event.preventDefault(); view.insert(v.name); });
      item.append(summary);
      const columns = el("div", "sql-columns");
      for (const c of v.columns) {
        const row = el("button", "sql-column");
        row.type = "button";
        row.append(el("span", "sql-column-name", c.name), el("span", "sql-column-type", c.type));
        row.addEventListener("click", () => view.insert(c.name));
        columns.append(row);
      }
      item.append(columns);
      list.append(item);
    }
  }).catch((error) => list.append(el("div", "muted", "no schema: " + error.message)));
  return box;
}

function editorArea(view) {
  const area = el("textarea", "sql-editor input");
  area.dataset.testid = "sql-editor";
  area.spellcheck = false;
  area.rows = 7;
  area.setAttribute("aria-label", "SQL query");
  area.addEventListener("keydown", (event) => {
    event.stopPropagation(); // the page's "/" shortcut is for the tag filter, not here
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      view.run();
    } else if (event.key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      view.insert("  ");
    }
  });
  return area;
}

function toolbar(view) {
  const bar = el("div", "toolbar sql-toolbar");
  const run = el("button", "button primary", "Run");
  run.type = "button";
  run.dataset.testid = "sql-run";
  run.title = "run the query (Ctrl+Enter)";
  run.addEventListener("click", () => view.run());
  const examples = el("select", "select");
  examples.dataset.testid = "sql-examples";
  examples.append(new Option("Examples…", ""));
  for (const [name] of EXAMPLES) examples.append(new Option(name, name));
  examples.addEventListener("change", () => {
    const found = EXAMPLES.find(([name]) => name === examples.value);
    examples.value = "";
    if (found) { view.editor.value = found[1]; view.run(); }
  });
  const hint = el("span", "toolbar-summary", "read-only · one SELECT · 10 s limit · Ctrl+Enter runs");
  bar.append(run, examples, hint);
  return bar;
}

function resultBar(view) {
  const bar = el("div", "sql-resultbar");
  view.status = el("span", "sql-status");
  view.status.dataset.testid = "sql-status";
  view.modeTable = el("button", "seg active", "Table");
  view.modeChart = el("button", "seg", "Chart this");
  view.modeChart.dataset.testid = "sql-chart-toggle";
  for (const b of [view.modeTable, view.modeChart]) b.type = "button";
  view.modeTable.addEventListener("click", () => view.show("table"));
  view.modeChart.addEventListener("click", () => view.show("chart"));
  const modes = el("span", "segmented");
  modes.append(view.modeTable, view.modeChart);
  view.axes = el("span", "sql-axes");
  view.download = el("a", "chart-link sql-download", "Download CSV");
  view.download.dataset.testid = "sql-download";
  view.download.setAttribute("download", "query.csv");
  view.download.title = "every row of the result, not only the first 10,000";
  bar.append(view.status, el("span", "spacer"), view.axes, modes, view.download);
  return bar;
}

function axisSelect(result, indices, value, testid, label) {
  const wrap = el("label", "control");
  wrap.append(el("span", "control-label", label));
  const select = el("select", "select");
  select.dataset.testid = testid;
  for (const i of indices) select.append(new Option(result.columns[i].name, String(i)));
  select.value = String(value);
  wrap.append(select);
  return [wrap, select];
}

class Console {
  constructor(host, app) {
    this.app = app;
    this.result = null;
    this.mode = getParam(app, "sqlview", "table") === "chart" ? "chart" : "table";
    this.chart = null;
    this.request = 0;
    this.root = el("div", "sql-view");
    this.root.dataset.testid = "sql-view";
    this.editor = editorArea(this);
    this.editor.value = getParam(app, "sql", EXAMPLES[0][1]);
    const top = el("div", "sql-top");
    top.append(this.editor, schemaPanel(this));
    this.output = el("div", "sql-output");
    this.root.append(toolbar(this), top, resultBar(this), this.output);
    host.replaceChildren(this.root);
    window.localtrack = window.localtrack || {};
    window.localtrack.sql = this;
  }

  insert(text) {
    const a = this.editor;
    const start = a.selectionStart ?? a.value.length;
    const end = a.selectionEnd ?? start;
    a.value = a.value.slice(0, start) + text + a.value.slice(end);
    a.selectionStart = a.selectionEnd = start + text.length;
    a.focus();
  }

  async run() {
    const sql = this.editor.value;
    setParams(this.app, { sql });
    const mine = ++this.request;
    this.root.dataset.state = "running";
    this.status.className = "sql-status";
    this.status.textContent = "running…";
    this.download.hidden = true;
    try {
      const result = await getJSON("/api/sql/query", { sql });
      if (mine !== this.request) return;
      this.result = result;
      this.download.href = csvUrl(sql);
      this.download.hidden = false;
      this.describe(result);
      this.root.dataset.state = "done";
      this.show(this.mode === "chart" && chartable(result).ok ? "chart" : "table");
    } catch (error) {
      if (mine !== this.request) return;
      this.result = null;
      this.root.dataset.state = "error";
      this.status.className = "sql-status error";
      this.status.textContent = "";
      const box = el("div", "sql-error", error instanceof ApiError ? error.message : String(error));
      box.dataset.testid = "sql-error";
      this.output.replaceChildren(box);
      this.axes.replaceChildren();
      this.modeChart.disabled = true;
    }
  }

  describe(result) {
    const count = result.rows < result.total || !result.total_exact
      ? `first ${numberText(result.rows)} of ${result.total_exact ? "" : "≥ "}${numberText(result.total)} rows`
      : `${numberText(result.total)} row${result.total === 1 ? "" : "s"}`;
    this.status.textContent = `${count} · ${result.columns.length} columns · ${formatDuration(result.seconds)}`;
    this.modeChart.disabled = !chartable(result).ok;
    this.modeChart.title = this.modeChart.disabled ? "needs a numeric or time x column and a numeric y column" : "";
  }

  show(mode) {
    if (!this.result) return;
    if (mode === "chart" && !chartable(this.result).ok) mode = "table";
    this.mode = mode;
    setParams(this.app, { sqlview: mode === "chart" ? "chart" : "" });
    this.modeTable.classList.toggle("active", mode === "table");
    this.modeChart.classList.toggle("active", mode === "chart");
    if (this.chart) { this.chart.destroy(); this.chart = null; }
    if (mode === "table") {
      this.axes.replaceChildren();
      renderTable(this.output, this.result);
      return;
    }
    const kept = this.choice && this.choice.result === this.result;
    this.drawChart(kept ? this.choice : defaultChoice(this.result));
  }

  /** Lines by run (id or name) take the run's colour of the runs panel; others the palette. */
  colorOf(split) {
    if (split < 0) return () => null;
    const name = this.result.columns[split].name.toLowerCase();
    if (name === "run_id") return (label) => (this.app.runsById.has(label) ? runColor(label) : null);
    if (name !== "run_name" && name !== "name" && name !== "run") return () => null;
    const ids = new Map();
    for (const r of this.app.runs) ids.set(r.name, ids.has(r.name) ? null : r.run_id);
    return (label) => (ids.get(label) ? runColor(ids.get(label)) : null);
  }

  drawChart(choice) {
    const result = this.result;
    this.choice = { ...choice, result };
    const { xs, ys } = chartable(result);
    const texts = result.columns.map((c, i) => i).filter((i) => result.columns[i].kind === "text" || result.columns[i].kind === "number");
    const [xWrap, xSel] = axisSelect(result, xs, choice.x, "sql-x", "x");
    const [yWrap, ySel] = axisSelect(result, ys, choice.y, "sql-y", "y");
    const [sWrap, sSel] = axisSelect(result, texts, choice.split, "sql-split", "lines by");
    sSel.prepend(new Option("—", "-1"));
    sSel.value = String(choice.split);
    const redraw = () => this.drawChart({ x: Number(xSel.value), y: Number(ySel.value), split: Number(sSel.value) });
    for (const s of [xSel, ySel, sSel]) s.addEventListener("change", redraw);
    this.axes.replaceChildren(xWrap, yWrap, sWrap);
    const box = el("div", "sql-chart");
    box.dataset.testid = "sql-chart";
    this.output.replaceChildren(box);
    if (this.chart) this.chart.destroy();
    this.chart = renderChart(box, result, choice, this.colorOf(choice.split));
    box.dataset.state = this.chart ? "drawn" : "empty";
  }
}

export function mount(element, app) {
  useStyle("sql");
  const view = new Console(element, app);
  app.events.on("theme", () => { if (view.mode === "chart") view.show("chart"); });
  view.run();
}
