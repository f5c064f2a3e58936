// Number, time and duration formats shared by the views (pure functions).

/** A value as people read it: up to 6 significant digits, no trailing zeros. */
export function formatValue(v) {
  if (v === null || v === undefined) return "";
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(4).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(6)));
}

/** Seconds as "850 ms", "12.5 s", "3m 05s", "2h 14m", "3d 4h". */
export function formatDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Epoch seconds as a short local time: "14:05" today, "Dec 1 14:05" otherwise. */
export function formatStart(epoch) {
  if (epoch === null || epoch === undefined) return "";
  const d = new Date(epoch * 1000);
  const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return hm;
  const day = MONTHS[d.getMonth()] + " " + d.getDate();
  return (d.getFullYear() === now.getFullYear() ? day : day + " " + d.getFullYear()) + " " + hm;
}

/** Epoch seconds as ISO 8601 in UTC, for titles and tables. */
export function formatIso(epoch) {
  if (epoch === null || epoch === undefined) return "";
  return new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
}

/** Create an element with a class and text (text goes in as text, never as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
