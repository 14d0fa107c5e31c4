import type { Context } from 'koa';
import { requestApiKey } from './api-key.ts';
import { CapturingRequest } from './capturing-request.ts';
import { parserBytes } from './parser-bytes.ts';
import { replayRequest, UnforwardableBodyError } from './replay-request.ts';
import { hasBody } from './request-body.ts';

/** Declared bodies up to this size are taken whole before the route runs (see errorEnrichment). */
export const SMALL_BODY_BYTES = 64 * 1024;

/** The request body as the middleware sees it: what it keeps for a diagnosis, and how it was sent. */
export interface BodyCapture {
  /** What a body parser that ran first made of the body, if one did. */
  parsed: unknown;
  /** The body streaming through `ctx.req`, when the middleware is the first to read it. */
  stream: CapturingRequest | null;
  /** A body already read in full (by a parser that ran first), when there is one. */
  whole: Buffer | null;
  /** A parser ran first and the client's bytes cannot be recovered from what it kept: why. */
  unforwardable?: string;
  /**
   * A small body of declared length that nobody has read yet: the middleware reads it whole
   * before the route runs (see `readSmallBody`).
   */
  small?: boolean;
}

/**
 * Start watching the request body, bounded by `limit`. When nobody has read it yet, `ctx.req`
 * becomes a stream that forwards the body as it arrives and keeps references to its chunks; when
 * a body parser ran first, `ctx.req` replays the bytes recovered from what the parser kept (see
 * parserBytes), or fails when read if they cannot be recovered. Null when the declared
 * length is over the limit: nothing was read, and the request must be refused.
 */
export function captureBody(ctx: Context, limit: number): BodyCapture | null {
  const req = ctx.req;
  const parsed: unknown = (ctx.request as { body?: unknown }).body;
  if (!hasBody(req)) return { parsed, stream: null, whole: null };
  if (req.readableEnded) {
    // A body parser ran first and consumed the stream. Downstream gets the client's bytes again
    // when they can be recovered; otherwise reading the body fails with a 400 that says why,
    // rather than sending the upstream other bytes under the client's content-length.
    const recovered = parserBytes(ctx, parsed);
    if ('reason' in recovered) {
      ctx.req = replayRequest(req, new UnforwardableBodyError(recovered.reason));
      return { parsed, stream: null, whole: null, unforwardable: recovered.reason };
    }
    ctx.req = replayRequest(req, recovered.bytes);
    return { parsed, stream: null, whole: recovered.bytes };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return null;
  // Usually in the same packet as the headers: read whole without a stream in between, for a
  // proxy to send as one buffer (cheaper than a stream, and no later than the stream would be).
  if (declared <= SMALL_BODY_BYTES) return { parsed, stream: null, whole: null, small: true };
  // Without a key no diagnosis will ever read the body, so nothing of it is kept.
  const stream = new CapturingRequest(req, limit, requestApiKey(req.headers) !== null);
  ctx.req = stream as unknown as typeof ctx.req;
  return { parsed, stream, whole: null };
}

/**
 * Read the whole of a small body (of declared length, so no larger than that) from the request
 * itself, and put a stand-in on `ctx.req` that yields the same bytes to whoever reads it next, or
 * hands them over whole (see takeWholeBody). Resolves to the bytes, or to null when the client
 * went away mid-upload.
 */
export function readSmallBody(ctx: Context): Promise<Buffer | null> {
  const req = ctx.req;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    };
    const settle = (bytes: Buffer | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onFailure);
      req.off('aborted', onFailure);
      if (bytes) ctx.req = replayRequest(req, bytes);
      resolve(bytes);
    };
    const onEnd = () => settle(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    const onFailure = () => settle(null);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onFailure);
    req.once('aborted', onFailure);
  });
}
