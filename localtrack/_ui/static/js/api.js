// The HTTP API of docs/UI.md: JSON endpoints, and the series-v1 binary answer decoded into
// Float64Array views (no copy): uint32 LE header length, JSON header, zero padding to a
// multiple of 8, then the Float64 columns of each series in header order.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

async function request(path, params, init) {
  const res = await fetch(path + query(params), { credentials: "same-origin", ...init });
  if (!res.ok && res.status !== 304) {
    let message = res.status + " " + res.statusText;
    try {
      const body = await res.json();
      if (body && body.error) message = body.error;
    } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return res;
}

/** GET a JSON endpoint. */
export async function getJSON(path, params) {
  const res = await request(path, params);
  return res.json();
}

/** JSON numbers from the API: "NaN", "Infinity", "-Infinity" strings back to numbers. */
export function num(v) {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return v;
}

const COLUMNS = ["x", "y", "band_x", "band_min", "band_max", "nonfinite_x", "nonfinite_y"];
const FIELDS = {
  x: "x", y: "y", band_x: "bandX", band_min: "bandMin", band_max: "bandMax",
  nonfinite_x: "nonfiniteX", nonfinite_y: "nonfiniteY",
};
const LENGTH = {
  x: "count", y: "count", band_x: "band_count", band_min: "band_count", band_max: "band_count",
  nonfinite_x: "nonfinite_count", nonfinite_y: "nonfinite_count",
};

/**
 * The framing every binary answer shares (series-v1, columns-v1, arrays-v1): uint32 LE header
 * length, JSON header, zero padding to a multiple of 8. Gives {header, offset of the data}.
 */
export function binaryHeader(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const end = 4 + length;
  return { header, offset: end + ((8 - (end % 8)) % 8) };
}

/** Decode a series-v1 body: {header, series: Map run id -> {meta, x, y, bandX, ...}}. */
export function decodeSeries(buffer) {
  const framed = binaryHeader(buffer);
  const header = framed.header;
  let offset = framed.offset;
  const columns = header.columns || COLUMNS;
  const series = new Map();
  for (const meta of header.series) {
    const decoded = { meta };
    for (const column of columns) {
      const n = meta[LENGTH[column]] || 0;
      if (offset + n * 8 > buffer.byteLength) throw new Error("series-v1: body too short");
      decoded[FIELDS[column] || column] = new Float64Array(buffer, offset, n);
      offset += n * 8;
    }
    series.set(meta.run_id, decoded);
  }
  return { header, series };
}

/** GET /api/series and decode it. */
export async function getSeries(params, signal) {
  const res = await request("/api/series", params, { signal });
  return decodeSeries(await res.arrayBuffer());
}

/** The download URL of a chart's full-resolution rows. */
export function downloadUrl(format, tag, runs) {
  return "/api/series." + format + query({ tag, runs: runs.join(",") });
}
