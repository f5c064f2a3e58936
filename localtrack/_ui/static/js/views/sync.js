// The Sync view: `localtrack sync --status` in the page. One row per run and remote from
// /api/sync/status (the daemon's own report: synced, pending, never synced, needs a person,
// retry later), with the points and files the remote still lacks, the last error and who is
// uploading the run now. Status chips count the rows and filter them (`syncstatus=` in the
// URL), a remote <select> when there are several (`remote=`). Polled every few seconds while
// the page is visible and this view is open.

import { getJSON } from "../api.js";
import { runColor } from "../colors.js";
import { el, formatIso, formatStart } from "../format.js";
import { getParam, setParams, useStyle } from "../view_kit.js";

const POLL_MS = 3000;

/** A status as a CSS class suffix: "needs a person" -> "needs-a-person". */
function slug(status) {
  return status.replace(/[^a-z]+/g, "-");
}

function chip(status, text) {
  const node = el("span", "sync-chip sync-" + slug(status), text === undefined ? status : text);
  node.dataset.status = status;
  return node;
}

function count(n, one, many) {
  return n.toLocaleString("en-US") + " " + (n === 1 ? one : many);
}

function runCell(app, row) {
  const td = el("td");
  const cell = el("span", "sync-run");
  const swatch = el("span", "swatch");
  swatch.style.background = runColor(row.run_id);
  const link = el("a", "sync-run-name", row.name || row.run_id);
  link.href = "/?view=run&run=" + encodeURIComponent(row.run_id);
  link.dataset.testid = "sync-run-name";
  link.title = row.run_id;
  cell.append(swatch, link, el("span", "sync-project", row.project || ""));
  td.append(cell);
  return td;
}

function errorCell(row) {
  const td = el("td", "sync-error");
  td.dataset.testid = "sync-error";
  if (row.error) {
    td.append(el("span", "sync-error-text", row.error));
    if (row.error_at) {
      const when = el("span", "sync-when", formatStart(row.error_at));
      when.title = formatIso(row.error_at);
      td.append(when);
    }
  }
  return td;
}

function rowNode(app, row, showRemote) {
  const tr = el("tr", "sync-row sync-row-" + slug(row.status));
  tr.dataset.testid = "sync-row";
  tr.dataset.runId = row.run_id;
  tr.dataset.remote = row.remote || "";
  tr.dataset.status = row.status;
  tr.append(runCell(app, row));
  if (showRemote) tr.append(el("td", "sync-remote", row.remote || "—"));
  const status = el("td");
  const c = chip(row.status);
  c.dataset.testid = "sync-status";
  status.append(c);
  const pending = el("td", "num", row.pending_points.toLocaleString("en-US"));
  pending.dataset.testid = "sync-pending";
  pending.dataset.value = String(row.pending_points);
  const files = el("td", "num", row.pending_files ? row.pending_files.toLocaleString("en-US") : "");
  files.dataset.testid = "sync-files";
  const updated = el("td", "sync-when", formatStart(row.updated_at));
  if (row.updated_at) {
    updated.title = "last recorded progress: " + formatIso(row.updated_at) + ", " +
      count(row.points_sent, "point", "points") + " sent in all";
  }
  const holder = el("td", "sync-holder", row.holder || "");
  holder.dataset.testid = "sync-holder";
  tr.append(status, pending, files, updated, errorCell(row), holder);
  tr.title = row.line;
  return tr;
}

function header(showRemote) {
  const names = ["run", ...(showRemote ? ["remote"] : []), "status", "points pending",
    "files pending", "last progress", "last error", "upload lock"];
  const tr = el("tr");
  for (const name of names) {
    const th = el("th", name.startsWith("points") || name.startsWith("files") ? "num" : "", name);
    tr.append(th);
  }
  const thead = el("thead");
  thead.append(tr);
  return thead;
}

class SyncView {
  constructor(element, app) {
    this.app = app;
    this.element = element;
    this.data = null;
    this.timer = 0;
    this.asked = 0;
    this.root = el("div", "sync-view");
    this.root.dataset.testid = "sync-view";
    this.root.dataset.state = "loading";
    this.bar = el("div", "toolbar sync-toolbar");
    this.chips = el("div", "sync-chips");
    this.chips.dataset.testid = "sync-chips";
    this.remote = el("select", "select");
    this.remote.dataset.testid = "sync-remote";
    this.remote.hidden = true;
    this.remote.addEventListener("change", () => setParams(app, { remote: this.remote.value }));
    this.summary = el("span", "toolbar-summary");
    this.summary.dataset.testid = "sync-summary";
    this.bar.append(this.chips, this.remote, el("span", "spacer"), this.summary);
    this.note = el("p", "sync-note");
    this.note.dataset.testid = "sync-note";
    this.table = el("table", "table sync-table");
    this.table.dataset.testid = "sync-table";
    this.errorBox = el("div", "error-box");
    this.errorBox.dataset.testid = "sync-failure";
    this.errorBox.hidden = true;
    const card = el("div", "card sync-card");
    card.append(this.note, this.table);
    this.root.append(this.bar, this.errorBox, card);
    element.replaceChildren(this.root);
    app.store.subscribe((_state, keys) => {
      if (keys.has("extra") && this.data) this.render();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.poll();
    });
    this.poll();
  }

  async poll() {
    clearTimeout(this.timer);
    if (!this.root.isConnected) return;
    const mine = ++this.asked;
    try {
      const data = await getJSON("/api/sync/status");
      if (mine !== this.asked) return;
      this.data = data;
      this.errorBox.hidden = true;
      this.render();
    } catch (error) {
      if (mine !== this.asked) return;
      this.errorBox.hidden = false;
      this.errorBox.textContent = "Could not read the sync status: " + (error && error.message ? error.message : error);
      this.root.dataset.state = "error";
    }
    if (document.visibilityState === "visible") this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  rowsShown() {
    const status = getParam(this.app, "syncstatus");
    const remote = getParam(this.app, "remote");
    return this.data.rows.filter((r) => (!status || r.status === status) && (!remote || r.remote === remote));
  }

  renderChips() {
    const chosen = getParam(this.app, "syncstatus");
    const remote = getParam(this.app, "remote");
    const mine = this.data.rows.filter((r) => !remote || r.remote === remote);
    const all = el("button", "sync-filter" + (chosen ? "" : " active"));
    all.type = "button";
    all.dataset.testid = "sync-filter";
    all.dataset.status = "";
    all.textContent = "all " + mine.length;
    all.addEventListener("click", () => setParams(this.app, { syncstatus: "" }));
    const buttons = [all];
    for (const status of this.data.statuses) {
      const n = mine.filter((r) => r.status === status).length;
      if (!n && status !== chosen) continue;
      const b = el("button", "sync-filter" + (status === chosen ? " active" : ""));
      b.type = "button";
      b.dataset.testid = "sync-filter";
      b.dataset.status = status;
      b.title = status === chosen ? "show every status" : "show only " + status;
      b.append(chip(status, status + " " + n));
      b.addEventListener("click", () => setParams(this.app, { syncstatus: status === chosen ? "" : status }));
      buttons.push(b);
    }
    this.chips.replaceChildren(...buttons);
  }

  renderRemotes() {
    const remotes = this.data.remotes;
    this.remote.hidden = remotes.length < 2;
    const chosen = getParam(this.app, "remote");
    const options = [el("option", "", "every remote")];
    options[0].value = "";
    for (const r of remotes) {
      const o = el("option", "", r);
      o.value = r;
      options.push(o);
    }
    this.remote.replaceChildren(...options);
    this.remote.value = remotes.includes(chosen) ? chosen : "";
  }

  render() {
    const data = this.data;
    this.renderChips();
    this.renderRemotes();
    if (!data.remotes.length) {
      this.note.textContent = "No remote yet: no run has a sync state, and MLFLOW_TRACKING_URI is not set " +
        "for `localtrack ui`. `localtrack sync --once --uri http://HOST:PORT` uploads the runs; until then " +
        "every run is never synced, with all its points pending.";
    } else {
      const env = data.env_remote ? " (MLFLOW_TRACKING_URI: " + data.env_remote + ")" : "";
      this.note.textContent = "Remotes: " + data.remotes.join(", ") + env +
        ". As `localtrack sync --status --uri URL` prints it, refreshed every " + POLL_MS / 1000 + " s.";
    }
    const rows = this.rowsShown();
    const showRemote = data.remotes.length > 1;
    const body = el("tbody");
    for (const row of rows) body.append(rowNode(this.app, row, showRemote));
    if (!rows.length) {
      const tr = el("tr");
      const td = el("td", "sync-none", data.rows.length ? "no run has this status" : "no runs under " + data.root);
      td.colSpan = showRemote ? 8 : 7;
      tr.append(td);
      body.append(tr);
    }
    this.table.replaceChildren(header(showRemote), body);
    const pending = rows.reduce((s, r) => s + r.pending_points, 0);
    this.summary.textContent = count(rows.length, "row", "rows") + " · " + count(pending, "point", "points") + " pending";
    this.root.dataset.state = "done";
    this.root.dataset.polls = String(Number(this.root.dataset.polls || 0) + 1);
  }
}

export function mount(element, app) {
  useStyle("sync");
  const view = new SyncView(element, app);
  window.localtrack.sync = view;
  return view;
}
