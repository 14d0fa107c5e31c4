import type { Context } from 'koa';
import { requestApiKey } from './api-key.ts';
import { CapturingRequest } from './capturing-request.ts';
import { replayRequest } from './replay-request.ts';
import { hasBody } from './request-body.ts';

// Where body parsers that ran first keep the raw text: koa-body (`includeUnparsed`), koa-bodyparser.
const KOA_BODY_UNPARSED = Symbol.for('unparsedBody');

function rawTextFromParser(ctx: Context, parsed: unknown): string | null {
  if (parsed !== null && typeof parsed === 'object') {
    const unparsed = (parsed as Record<symbol, unknown>)[KOA_BODY_UNPARSED];
    if (typeof unparsed === 'string') return unparsed;
  }
  const rawBody = (ctx.request as { rawBody?: unknown }).rawBody;
  return typeof rawBody === 'string' ? rawBody : null;
}

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
}

/**
 * Start watching the request body, bounded by `limit`. When nobody has read it yet, `ctx.req`
 * becomes a stream that forwards the body as it arrives and keeps references to its chunks; when
 * a body parser ran first, `ctx.req` replays the raw text the parser kept. Null when the declared
 * length is over the limit: nothing was read, and the request must be refused.
 */
export function captureBody(ctx: Context, limit: number): BodyCapture | null {
  const req = ctx.req;
  const parsed: unknown = (ctx.request as { body?: unknown }).body;
  if (!hasBody(req)) return { parsed, stream: null, whole: null };
  if (req.readableEnded) {
    // A body parser ran first and consumed the stream. Its raw text is the body only when no
    // content-encoding was undone on the way; otherwise downstream keeps what the parser left.
    const text = rawTextFromParser(ctx, parsed);
    const encoding = req.headers['content-encoding'];
    if (text === null || (encoding !== undefined && encoding !== 'identity')) {
      return { parsed, stream: null, whole: null };
    }
    const whole = Buffer.from(text, 'utf8');
    ctx.req = replayRequest(req, whole);
    return { parsed, stream: null, whole };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return null;
  // Without a key no diagnosis will ever read the body, so nothing of it is kept, but for a small
  // one that a proxy may take whole (see takeWholeBody).
  const keep = requestApiKey(req.headers) !== null || declared <= SMALL_BODY_BYTES;
  const stream = new CapturingRequest(req, limit, keep);
  ctx.req = stream as unknown as typeof ctx.req;
  return { parsed, stream, whole: null };
}
