// The columns-v1 answer (docs/UI.md): uint32 LE header length, JSON header, zero padding to
// a multiple of 8, then header.count Float64 values per column of header.columns, in order.
// Decoded into Float64Array views of the body, without a copy.

import { binaryHeader } from "../api.js";

export function decodeColumns(buffer) {
  const framed = binaryHeader(buffer);
  const header = framed.header;
  let offset = framed.offset;
  const columns = {};
  for (const name of header.columns) {
    if (offset + header.count * 8 > buffer.byteLength) throw new Error("columns-v1: body too short");
    columns[name] = new Float64Array(buffer, offset, header.count);
    offset += header.count * 8;
  }
  return { header, columns };
}

/** GET a columns-v1 endpoint (an ApiError-like Error with the server's message on failure). */
export async function getColumns(path, params, signal) {
  const q = new URLSearchParams(params);
  const res = await fetch(path + "?" + q.toString(), { credentials: "same-origin", signal });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return decodeColumns(await res.arrayBuffer());
}
