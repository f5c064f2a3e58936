// The run page (?view=run&run=ID): status and exit code, metadata, config, summary, every
// scalar tag with its last/min/max, and the row counts of the other streams.

import { getJSON, num } from "./api.js";
import { runColor } from "./colors.js";
import { el, formatDuration, formatIso, formatValue } from "./format.js";

function text(v) {
  v = num(v);
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return formatValue(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? prefix + "." + k : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else if (k === "argv" && Array.isArray(v)) out.push([key, v.join(" ")]);
    else out.push([key, text(v)]);
  }
  return out;
}

function table(testid, head, rows, numeric) {
  const t = el("table", "table");
  t.dataset.testid = testid;
  const thead = el("thead");
  const hr = el("tr");
  head.forEach((h, i) => hr.append(el("th", numeric && numeric[i] ? "num" : "", h)));
  thead.append(hr);
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    row.forEach((cell, i) => {
      const td = el("td", numeric && numeric[i] ? "num" : "");
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      tr.append(td);
    });
    body.append(tr);
  }
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "muted", "none");
    td.colSpan = head.length;
    tr.append(td);
    body.append(tr);
  }
  t.append(thead, body);
  return t;
}

function card(title, content, wide) {
  const section = el("section", "card" + (wide ? " card-wide" : ""));
  section.append(el("h2", "card-title", title), content);
  return section;
}

function header(run) {
  const head = el("div", "run-header");
  const swatch = el("span", "swatch swatch-large");
  swatch.style.background = runColor(run.run_id);
  const title = el("h1", "run-title", run.name || run.run_id);
  const status = el("span", "status status-" + run.status, run.status);
  status.dataset.testid = "run-status";
  head.append(swatch, title, status);
  if (run.exit_code !== null && run.exit_code !== undefined) {
    head.append(el("span", "exit-code", "exit code " + run.exit_code));
  }
  const chart = el("a", "button", "Chart this run");
  chart.href = "?runs=" + encodeURIComponent(run.run_id);
  head.append(el("span", "spacer"), chart);
  const duration = run.ended_at && run.started_at ? formatDuration(run.ended_at - run.started_at) : "";
  const facts = el("div", "run-facts");
  for (const [k, v] of [["project", run.project], ["path", run.path], ["run id", run.run_id],
    ["started", formatIso(run.started_at)], ["ended", formatIso(run.ended_at)], ["duration", duration],
    ["host", run.host], ["writers", run.writers], ["api", run.api], ["group", run.group],
    ["job type", run.job_type], ["tags", (run.tags || []).join(", ")], ["notes", run.notes]]) {
    if (v === null || v === undefined || v === "") continue;
    const fact = el("span", "fact");
    fact.append(el("span", "fact-key", k), el("span", "fact-value", String(v)));
    facts.append(fact);
  }
  return [head, facts];
}

function scalarRows(body) {
  return body.scalars.map((s) => {
    const link = el("a", "", s.tag);
    link.href = "?runs=" + encodeURIComponent(body.run.run_id) + "&tags=" +
      encodeURIComponent("^" + s.tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$");
    return [link, text(s.points), text(s.last_step), text(s.last), text(s.min), text(s.max)];
  });
}

function render(root, body) {
  const page = el("div", "run-page");
  page.dataset.testid = "run-page";
  page.append(...header(body.run));
  const grid = el("div", "card-grid");
  grid.append(
    card("Scalars", table("run-scalars", ["tag", "points", "last step", "last", "min", "max"], scalarRows(body), [0, 1, 1, 1, 1, 1]), true),
    card("Config", table("run-config", ["key", "value"], body.config.map((c) => [c.key, text(c.value)]))),
    card("Summary", table("run-summary", ["key", "value"], body.summary.map((c) => [c.key, text(c.value)]))),
    card("Metadata", table("run-metadata", ["key", "value"], flatten(body.run.metadata, "", []))),
    card("Streams", table("run-streams", ["stream", "rows", "tags"],
      body.streams.map((s) => [s.stream, text(s.rows), text(s.tags)]), [0, 1, 1])),
  );
  page.append(grid);
  root.replaceChildren(page);
  document.title = (body.run.name || body.run.run_id) + " · localtrack";
}

/** Mount the run page of the URL's `run` into `root`. */
export async function mount(root, app) {
  const id = app.store.get().run;
  const tab = document.getElementById("tab-run");
  tab.hidden = false;
  tab.classList.add("active");
  tab.textContent = "Run";
  root.replaceChildren(el("div", "empty-state", "Loading run " + id + "…"));
  const load = async () => {
    try {
      const body = await getJSON("/api/run", { id });
      tab.textContent = body.run.name || id;
      render(root, body);
    } catch (error) {
      root.replaceChildren(el("div", "error-box", "Could not load run " + id + ": " + error.message));
    }
  };
  await load();
  // While the run logs, show its new last values, at most every 2 s.
  let last = Date.now();
  app.events.on("live", (changed) => {
    if (!changed.has(id) || Date.now() - last < 2000) return;
    last = Date.now();
    load();
  });
}
