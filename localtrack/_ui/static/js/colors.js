// One stable colour per run id: an FNV-1a hash of the id picks from a palette that reads on
// both the dark and the light theme, so a run has the same colour in every chart and on
// every page load.

const PALETTE = [
  "#4e9af1", "#f28e2b", "#3fb950", "#e5534b", "#a371f7", "#d4a72c", "#22b8cf", "#f778ba",
  "#a5734f", "#8ddb6c", "#6e7bff", "#ff9f89", "#c297e0", "#e0c65a", "#59d4b0", "#ff6b3d",
  "#7fa8ff", "#c4568f", "#5fa35a", "#b8860b", "#3d8fa8", "#e86f9b", "#8a8fd9", "#cf9d6e",
];

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The colour of a run, as a CSS hex colour. */
export function runColor(runId) {
  return PALETTE[fnv1a(String(runId)) % PALETTE.length];
}

/** The same colour with an alpha channel, for faint lines and bands. */
export function withAlpha(hex, alpha) {
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255);
  return hex + a.toString(16).padStart(2, "0");
}
