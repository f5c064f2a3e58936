// The SQL console's results table: virtualised (only the rows on screen are in the DOM),
// a row-number column, a header that stays in view, cells as text (never HTML).

import { el, formatValue } from "../format.js";

const ROW_HEIGHT = 26;
const OVERSCAN = 12;
const CHAR_PX = 7.4;
const SAMPLE = 400;

/** The text of one cell as the table shows it. */
export function cellText(value, kind) {
  if (value === null || value === undefined) return "NULL";
  if (kind === "number" && typeof value === "number") return formatValue(value);
  if (kind === "number" && (value === "NaN" || value === "Infinity" || value === "-Infinity")) {
    return value === "NaN" ? "NaN" : value === "Infinity" ? "inf" : "-inf";
  }
  if (kind === "time" && typeof value === "string") return value.replace("T", " ").replace(/Z$/, "");
  return String(value);
}

/** Column widths in px from the header and a sample of the cells. */
function widths(result) {
  return result.columns.map((column, c) => {
    let chars = Math.max(column.name.length, column.type.length * 0.8);
    const cells = result.data[c];
    for (let i = 0; i < Math.min(cells.length, SAMPLE); i++) {
      chars = Math.max(chars, cellText(cells[i], column.kind).length);
    }
    return Math.round(Math.min(420, Math.max(64, chars * CHAR_PX + 22)));
  });
}

function headerCell(column) {
  const th = el("div", "sql-th" + (column.kind === "number" ? " num" : ""));
  th.append(el("span", "sql-th-name", column.name), el("span", "sql-th-type", column.type));
  th.title = column.name + " · " + column.type;
  return th;
}

/** Mount the table of `result` (the /api/sql/query answer) into `host`. */
export function renderTable(host, result) {
  const cols = widths(result);
  const numberWidth = Math.max(44, String(result.rows).length * 8 + 20);
  const template = [numberWidth, ...cols].map((w) => w + "px").join(" ");
  const total = [numberWidth, ...cols].reduce((a, b) => a + b, 0);

  const scroller = el("div", "sql-table");
  scroller.dataset.testid = "sql-table";
  scroller.dataset.rows = String(result.rows);
  scroller.dataset.total = String(result.total);
  scroller.style.setProperty("--sql-columns", template);
  const inner = el("div", "sql-inner");
  inner.style.width = total + "px";
  const head = el("div", "sql-row sql-head");
  head.append(el("div", "sql-th sql-rownum", "#"), ...result.columns.map(headerCell));
  const body = el("div", "sql-body");
  body.style.height = result.rows * ROW_HEIGHT + "px";
  inner.append(head, body);
  scroller.append(inner);
  host.replaceChildren(scroller);
  if (result.rows === 0) {
    body.style.height = "auto";
    body.append(el("div", "sql-empty", "The query returned no rows."));
    return scroller;
  }

  let shown = [-1, -1];
  const paint = () => {
    const top = Math.max(0, scroller.scrollTop - head.offsetHeight);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(result.rows, Math.ceil((top + scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    if (first === shown[0] && last === shown[1]) return;
    shown = [first, last];
    const rows = [];
    for (let i = first; i < last; i++) rows.push(renderRow(result, i));
    body.replaceChildren(...rows);
  };
  let queued = false;
  scroller.addEventListener("scroll", () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; paint(); });
  });
  new ResizeObserver(() => paint()).observe(scroller);
  paint();
  return scroller;
}

function renderRow(result, i) {
  const row = el("div", "sql-row" + (i % 2 ? " odd" : ""));
  row.dataset.testid = "sql-row";
  row.dataset.row = String(i);
  row.style.top = i * ROW_HEIGHT + "px";
  row.append(el("div", "sql-td sql-rownum", i + 1));
  result.columns.forEach((column, c) => {
    const value = result.data[c][i];
    const text = cellText(value, column.kind);
    const td = el("div", "sql-td kind-" + column.kind + (value === null ? " null" : ""), text);
    td.dataset.testid = "sql-cell";
    if (text.length > 24) td.title = text;
    row.append(td);
  });
  return row;
}
