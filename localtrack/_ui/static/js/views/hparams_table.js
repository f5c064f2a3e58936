// The hparams table: a sticky header of sortable columns (click: ascending, again:
// descending), a checkbox per row bound to the runs panel's selection, and only the rows on
// screen in the DOM (fixed row height), so 1,000 trials scroll and sort without lag.

import { runColor } from "../colors.js";
import { el, formatValue } from "../format.js";

const ROW = 30;
const OVERSCAN = 10;
const RUN_WIDTH = 240;
const COL_WIDTH = 118;

function text(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "number" ? formatValue(v) : String(v);
}

/** Rows ordered by `key` (nulls last in both directions), ties by their first order. */
export function sortRows(rows, key, desc, get) {
  if (!key) return rows;
  const sign = desc ? -1 : 1;
  const indexed = rows.map((r, i) => [r, i, get(r, key)]);
  indexed.sort((a, b) => {
    const [x, y] = [a[2], b[2]];
    const nx = x === null || x === undefined || Number.isNaN(x);
    const ny = y === null || y === undefined || Number.isNaN(y);
    if (nx || ny) return nx === ny ? a[1] - b[1] : nx ? 1 : -1;
    if (typeof x === "number" && typeof y === "number") return x === y ? a[1] - b[1] : (x < y ? -1 : 1) * sign;
    const c = String(x).localeCompare(String(y), undefined, { numeric: true });
    return c === 0 ? a[1] - b[1] : c * sign;
  });
  return indexed.map((t) => t[0]);
}

/** A table: {el, update(columns, rows, selected), onSort(key)}. */
export function createTable({ get, label, onSort, onToggle }) {
  const t = { columns: [], rows: [], selected: new Set(), sort: { key: "", desc: false } };
  t.el = el("div", "hp-table");
  t.el.dataset.testid = "hparams-table";
  t.head = el("div", "hp-head");
  t.body = el("div", "hp-body");
  t.spacer = el("div", "hp-spacer");
  t.body.append(t.spacer);
  t.el.append(t.head, t.body);

  function grid() {
    return `32px ${RUN_WIDTH}px ` + t.columns.map(() => COL_WIDTH + "px").join(" ");
  }

  function headCell(c) {
    const h = el("button", "hp-th" + (c.metric ? " hp-metric" : "") + (c.kind === "number" ? " num" : ""));
    h.type = "button";
    h.dataset.testid = "hp-sort";
    h.dataset.key = c.key;
    h.title = c.key + (c.metric ? " (metric)" : " (hparam)") + " — click to sort";
    const arrow = t.sort.key === c.key ? (t.sort.desc ? " ▼" : " ▲") : "";
    h.append(el("span", "hp-th-name", c.key), el("span", "hp-arrow", arrow));
    h.addEventListener("click", () => onSort(c.key));
    return h;
  }

  function buildHead() {
    t.head.style.gridTemplateColumns = grid();
    const run = el("button", "hp-th");
    run.type = "button";
    run.dataset.testid = "hp-sort";
    run.dataset.key = "";
    run.append(el("span", "hp-th-name", "Run"), el("span", "hp-arrow", t.sort.key === "" ? "" : ""));
    run.title = "logged order (newest run first)";
    run.addEventListener("click", () => onSort(""));
    t.head.replaceChildren(el("span", "hp-th"), run, ...t.columns.map(headCell));
  }

  function buildRow(row, i) {
    const r = el("div", "hp-row");
    r.dataset.testid = "hp-row";
    r.dataset.runId = row.run_id;
    r.dataset.rowId = row.id;
    r.style.top = i * ROW + "px";
    r.style.gridTemplateColumns = grid();
    if (t.selected.has(row.run_id)) r.classList.add("selected");
    const box = el("input");
    box.type = "checkbox";
    box.checked = t.selected.has(row.run_id);
    box.title = "select this run (the runs panel and the scalars view follow)";
    box.addEventListener("change", () => onToggle(row.run_id, box.checked));
    const check = el("span", "hp-td hp-check");
    check.append(box);
    const name = el("span", "hp-td hp-run");
    const swatch = el("span", "swatch");
    swatch.style.background = runColor(row.run_id);
    const link = el("a", "run-name", label(row));
    link.href = "?view=run&run=" + encodeURIComponent(row.run_id);
    link.title = label(row) + " (" + row.run_id + ") — open the run page";
    link.dataset.testid = "hp-run-name";
    name.append(swatch, link);
    r.append(check, name);
    for (const c of t.columns) {
      const v = get(row, c.key);
      const td = el("span", "hp-td" + (typeof v === "number" ? " num" : "") + (c.metric ? " hp-metric" : ""), text(v));
      td.dataset.testid = "hp-cell";
      td.dataset.key = c.key;
      if (v !== null && v !== undefined) {
        td.dataset.value = typeof v === "number" ? String(v) : JSON.stringify(v);
        td.title = typeof v === "number" ? String(v) : String(v);
      }
      r.append(td);
    }
    return r;
  }

  function render() {
    const top = t.body.scrollTop;
    const height = t.body.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(t.rows.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    const nodes = [];
    for (let i = first; i < last; i++) nodes.push(buildRow(t.rows[i], i));
    t.spacer.replaceChildren(...nodes);
  }

  let frame = 0;
  t.body.addEventListener("scroll", () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; render(); });
  });
  // the header scrolls sideways with the body
  t.body.addEventListener("scroll", () => { t.head.scrollLeft = t.body.scrollLeft; });

  t.update = (columns, rows, selected, sort) => {
    t.columns = columns;
    t.rows = rows;
    t.selected = selected;
    t.sort = sort;
    const width = 32 + RUN_WIDTH + columns.length * COL_WIDTH;
    t.spacer.style.height = rows.length * ROW + "px";
    t.spacer.style.width = width + "px";
    buildHead();
    render();
  };
  t.refresh = (selected) => { t.selected = selected; render(); };
  return t;
}
