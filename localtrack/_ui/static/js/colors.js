// One stable colour per run. A palette of clearly distinct colours that read on both themes:
// Tableau 10 first, then a second ring of ten other hues. A run's colour is its id's FNV-1a
// hash into the palette, moved on to the next colour not taken by the runs started just
// before it (assignColors, over the runs in order of start time, oldest first): any
// PALETTE.length runs started one after another (the latest five, selected by default,
// among them) have different colours; a run's colour depends only on its id and the runs
// started before it, so it is the same on every page load, and a new run never changes the
// colour of an earlier one (docs/UI.md "Views").

export const PALETTE = [
  // Tableau 10
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  // second ring
  "#17becf", "#bcbd22", "#7f3c8d", "#11a579", "#e73f74",
  "#3969ac", "#f97b72", "#80ba5a", "#cf1c90", "#a5aa99",
];

const assigned = new Map();

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function byStart(a, b) {
  const sa = a.started_at ?? -Infinity;
  const sb = b.started_at ?? -Infinity;
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : 0;
}

/** Colour indices of `runs` ({run_id, started_at}): run id → index into PALETTE. */
export function colorIndices(runs) {
  const ordered = [...runs].sort(byStart);
  const out = new Map();
  const recent = [];
  for (const run of ordered) {
    const taken = new Set(recent);
    let slot = fnv1a(String(run.run_id)) % PALETTE.length;
    while (taken.has(slot)) slot = (slot + 1) % PALETTE.length;
    out.set(run.run_id, slot);
    recent.push(slot);
    if (recent.length > PALETTE.length - 1) recent.shift();
  }
  return out;
}

/** Assign the colours of every listed run (call whenever the runs list changes). */
export function assignColors(runs) {
  assigned.clear();
  for (const [id, slot] of colorIndices(runs)) assigned.set(id, slot);
}

/** The colour of a run, as a CSS hex colour (a run not listed: its hash alone). */
export function runColor(runId) {
  const slot = assigned.get(runId);
  return PALETTE[slot ?? fnv1a(String(runId)) % PALETTE.length];
}

/** The same colour with an alpha channel, for faint lines and bands. */
export function withAlpha(hex, alpha) {
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255);
  return hex + a.toString(16).padStart(2, "0");
}
