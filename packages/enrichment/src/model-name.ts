import * as zlib from 'node:zlib';
import { extractModel } from './extract-model.ts';
import { extractInWorker } from './model-worker.ts';

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

/** The `model` of a parsed body, when it is an object with a string `model`. */
export function stringModel(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const model = (value as { model?: unknown }).model;
  return typeof model === 'string' ? model : null;
}

function encodingOf(contentEncoding: string): string {
  return contentEncoding.trim().toLowerCase();
}

/** Whether reading the model of a body sent with this `content-encoding` means decoding it first. */
export function needsDecoding(contentEncoding: string): boolean {
  const encoding = encodingOf(contentEncoding);
  return encoding !== '' && encoding !== 'identity';
}

/**
 * Plain bodies up to this size are read on the event loop (well under a millisecond); larger or
 * compressed ones in the worker, where a 10 MiB parse or a bomb stalls nobody.
 */
const ON_LOOP_MAX_BYTES = 256 * 1024;

/**
 * The `model` string of a request, or null when there is none to trust: no body, not JSON (nor
 * a form), not an object, `model` absent or not a string, invalid UTF-8, an unknown encoding, too
 * large once decoded. Like the router, JSON is tried whatever the content type says (curl -d sends
 * JSON labelled as a form); multipart bodies are not inspected.
 */
export async function modelOf(source: ModelSource): Promise<string | null> {
  const fromParser = stringModel(source.parsed);
  if (fromParser !== null) return fromParser;
  if (!source.bytes || source.bytes.length === 0) return null;
  const type = source.contentType.toLowerCase();
  if (type.startsWith('multipart/')) return null;
  const encoding = encodingOf(source.contentEncoding);
  if (!needsDecoding(encoding) && source.bytes.length <= ON_LOOP_MAX_BYTES) {
    return extractModel(zlib, source.bytes, encoding, type, source.maxDecodedBytes);
  }
  return extractInWorker({ bytes: source.bytes, encoding, type, maxOutputLength: source.maxDecodedBytes });
}
