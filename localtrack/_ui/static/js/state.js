// The page state lives in the URL (docs/UI.md "URL of the page"): parse it on load, write it
// back with history.replaceState on every change, so a link reopens the same view.

export const DEFAULTS = Object.freeze({
  view: "scalars", run: "", runs: null, tags: "", smooth: 0.6, x: "step",
  logy: false, outliers: true, q: "", status: "", collapsed: [], extra: {},
});

const KNOWN = new Set(Object.keys(DEFAULTS).filter((k) => k !== "extra"));
const VIEW_NAME = /^[a-z][a-z0-9_]{0,31}$/;

const X_AXES = ["step", "relative", "wall"];
const STATUSES = ["", "running", "finished", "failed", "crashed"];

function list(value) {
  return value ? value.split(",").filter((s) => s !== "") : [];
}

/** URL search string -> state (unknown or bad values fall back to the defaults). */
export function parse(search) {
  const p = new URLSearchParams(search);
  const s = { ...DEFAULTS, collapsed: [], extra: {} };
  if (VIEW_NAME.test(p.get("view") || "")) s.view = p.get("view");
  s.run = p.get("run") || "";
  if (p.has("runs")) s.runs = list(p.get("runs"));
  s.tags = p.get("tags") || "";
  if (p.has("smooth")) {
    const w = Number(p.get("smooth"));
    if (Number.isFinite(w)) s.smooth = Math.max(0, Math.min(0.999, w));
  }
  if (X_AXES.includes(p.get("x"))) s.x = p.get("x");
  if (p.has("logy")) s.logy = p.get("logy") === "1";
  if (p.has("outliers")) s.outliers = p.get("outliers") !== "0";
  s.q = p.get("q") || "";
  if (STATUSES.includes(p.get("status"))) s.status = p.get("status") || "";
  s.collapsed = list(p.get("collapsed"));
  // A view's own parameters (a step, a sort column): kept as text, written back as they are.
  for (const [k, v] of p) if (!KNOWN.has(k)) s.extra[k] = v;
  return s;
}

/** State -> URL search string; defaults are left out to keep links short. */
export function serialize(s) {
  const p = new URLSearchParams();
  if (s.view !== "scalars") p.set("view", s.view);
  if (s.view === "run" && s.run) p.set("run", s.run);
  if (s.runs !== null) p.set("runs", s.runs.join(","));
  if (s.tags) p.set("tags", s.tags);
  if (s.smooth !== DEFAULTS.smooth) p.set("smooth", String(s.smooth));
  if (s.x !== DEFAULTS.x) p.set("x", s.x);
  if (s.logy) p.set("logy", "1");
  if (!s.outliers) p.set("outliers", "0");
  if (s.q) p.set("q", s.q);
  if (s.status) p.set("status", s.status);
  if (s.collapsed.length) p.set("collapsed", s.collapsed.join(","));
  for (const [k, v] of Object.entries(s.extra || {})) {
    if (!KNOWN.has(k) && v !== "" && v !== null && v !== undefined) p.set(k, String(v));
  }
  const text = p.toString().replace(/%2C/g, ",");
  return text ? "?" + text : "";
}

function same(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
  }
  return a === b;
}

const VIEW_PARAMS_KEY = "localtrack-view-params";

/** Each view's own parameters last seen in this browser tab (sessionStorage), checked. */
function loadViewParams() {
  const out = {};
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(VIEW_PARAMS_KEY) || "null");
  } catch (_) {
    return out;
  }
  if (!saved || typeof saved !== "object") return out;
  for (const [view, params] of Object.entries(saved)) {
    if (!VIEW_NAME.test(view) || !params || typeof params !== "object") continue;
    const kept = {};
    for (const [k, v] of Object.entries(params)) if (!KNOWN.has(k) && typeof v === "string") kept[k] = v;
    out[view] = kept;
  }
  return out;
}

/**
 * The state of this page: get(), set(patch) (writes the URL), subscribe(fn(state, keys)),
 * and viewParams(view): the view's own parameters, so that a tab link reopens a view as it
 * was left (the open view's come from the URL, the others' from this browser tab's session).
 */
export class Store {
  constructor(search) {
    this.state = parse(search);
    this.listeners = [];
    this.params = loadViewParams();
    this.rememberParams();
  }

  viewParams(view) {
    if (view === this.state.view) return { ...this.state.extra };
    return { ...(this.params[view] || {}) };
  }

  rememberParams() {
    const view = this.state.view;
    if (view === "run") return; // the run page has no parameters of its own
    this.params[view] = { ...this.state.extra };
    try {
      sessionStorage.setItem(VIEW_PARAMS_KEY, JSON.stringify(this.params));
    } catch (_) {
      // storage full or refused: the links then keep only the open view's parameters
    }
  }

  get() {
    return this.state;
  }

  set(patch) {
    const changed = Object.keys(patch).filter((k) => !same(this.state[k], patch[k]));
    if (changed.length === 0) return;
    this.state = { ...this.state, ...patch };
    const url = location.pathname + serialize(this.state) + location.hash;
    history.replaceState(null, "", url);
    if (changed.includes("extra") || changed.includes("view")) this.rememberParams();
    for (const fn of this.listeners) fn(this.state, new Set(changed));
  }

  subscribe(fn) {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }
}

/** A regex from user text, case-insensitive; null when empty or invalid. */
export function userRegex(text) {
  if (!text) return null;
  try {
    return new RegExp(text, "i");
  } catch (_) {
    return null;
  }
}
