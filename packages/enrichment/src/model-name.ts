import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

export interface ModelSource {
  /** The raw request body, as sent (possibly content-encoded). */
  bytes: Buffer | null;
  /** A body already parsed by a body parser that ran first, if any. */
  parsed: unknown;
  contentType: string;
  contentEncoding: string;
  /** Decoded bodies larger than this are not inspected (a compression bomb costs nothing). */
  maxDecodedBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function stringModel(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const model = (value as { model?: unknown }).model;
  return typeof model === 'string' ? model : null;
}

function decode(bytes: Buffer, encoding: string, maxOutputLength: number): Buffer | null {
  try {
    switch (encoding.trim().toLowerCase()) {
      case '':
      case 'identity':
        return bytes;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(bytes, { maxOutputLength });
      case 'deflate':
        return inflateSync(bytes, { maxOutputLength });
      case 'br':
        return brotliDecompressSync(bytes, { maxOutputLength });
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/**
 * The `model` string of a request, or null when there is none to trust: no body, not JSON (nor
 * a form), not an object, `model` absent or not a string, invalid UTF-8, an unknown encoding.
 * Like the router, JSON is tried whatever the content type says (curl -d sends JSON labelled as
 * a form); multipart bodies are not inspected.
 */
export function modelOf(source: ModelSource): string | null {
  const fromParser = stringModel(source.parsed);
  if (fromParser !== null) return fromParser;
  if (!source.bytes || source.bytes.length === 0) return null;
  const type = source.contentType.toLowerCase();
  if (type.startsWith('multipart/')) return null;
  const decoded = decode(source.bytes, source.contentEncoding, source.maxDecodedBytes);
  if (!decoded) return null;
  let text: string;
  try {
    text = utf8.decode(decoded);
  } catch {
    return null;
  }
  try {
    return stringModel(JSON.parse(text));
  } catch {
    // Not JSON: a form body may still name the model.
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams(text).get('model');
  }
  return null;
}
