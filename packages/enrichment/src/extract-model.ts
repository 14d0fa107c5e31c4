import type * as zlib from 'node:zlib';

/**
 * Decode (within `maxOutputLength`), then read the model: JSON first whatever the type, then a
 * form. It runs on the event loop for small plain bodies and in a worker thread from its source
 * text otherwise, so it must stay self-contained: no reference to anything outside it, no named
 * inner functions (the TypeScript loader would wrap them in a helper the worker does not have).
 */
export function extractModel(
  z: typeof zlib,
  bytes: Uint8Array,
  encoding: string,
  type: string,
  maxOutputLength: number,
): string | null {
  let decoded: Uint8Array;
  try {
    if (encoding === '' || encoding === 'identity') decoded = bytes;
    else if (encoding === 'gzip' || encoding === 'x-gzip') decoded = z.gunzipSync(bytes, { maxOutputLength });
    else if (encoding === 'deflate') decoded = z.inflateSync(bytes, { maxOutputLength });
    else if (encoding === 'br') decoded = z.brotliDecompressSync(bytes, { maxOutputLength });
    else return null;
  } catch {
    // Corrupt, or larger than allowed once decoded.
    return null;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(decoded);
  } catch {
    return null;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const model = (value as { model?: unknown }).model;
    return typeof model === 'string' ? model : null;
  } catch {
    // Not JSON: a form body may still name the model.
  }
  return type.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(text).get('model') : null;
}
