// arrays-v1 (docs/UI.md): uint32 LE header length, JSON header, zero padding to a multiple
// of 8, then the header's `arrays` (name, dtype, shape), each padded to a multiple of 8.
// Decoded into typed arrays over the one buffer (no copy).

import { ApiError, binaryHeader } from "../api.js";

const TYPED = {
  float32: Float32Array, float64: Float64Array, uint8: Uint8Array, uint32: Uint32Array, int32: Int32Array,
};

/** {header, arrays: {name: {data: TypedArray, shape: [..]}}} of an arrays-v1 body. */
export function decodeArrays(buffer) {
  const framed = binaryHeader(buffer);
  const header = framed.header;
  let at = framed.offset;
  const arrays = {};
  for (const item of header.arrays) {
    const Typed = TYPED[item.dtype];
    const count = item.shape.reduce((a, b) => a * b, 1);
    if (at + count * Typed.BYTES_PER_ELEMENT > buffer.byteLength) throw new Error("arrays-v1: body too short");
    arrays[item.name] = { data: new Typed(buffer, at, count), shape: item.shape };
    at += count * Typed.BYTES_PER_ELEMENT;
    at += (8 - (at % 8)) % 8;
  }
  return { header, arrays };
}

/** GET an arrays-v1 endpoint and decode it (ApiError with the server's message if not 200). */
export async function getArrays(path, params, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const res = await fetch(path + "?" + q, { credentials: "same-origin", signal });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try {
      const body = await res.json();
      if (body && body.error) message = body.error;
    } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return decodeArrays(await res.arrayBuffer());
}
