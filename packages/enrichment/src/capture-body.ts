import type { Context } from 'koa';
import './koa-request.ts';
import { replayRequest } from './replay-request.ts';
import { type BodyCapture, hasBody, readBody } from './request-body.ts';

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

export interface CapturedBody {
  bytes: Buffer | null;
  /** What a body parser that ran first made of the body, if one did. */
  parsed: unknown;
}

/**
 * Take the request body once, bounded, and leave it for whatever runs next: the exact bytes on
 * `ctx.request.bodyBytes`, and a fresh `ctx.req` stream that yields them again.
 */
export async function captureBody(
  ctx: Context,
  limit: number,
): Promise<{ kind: 'captured'; body: CapturedBody } | Exclude<BodyCapture, { kind: 'captured' }>> {
  const req = ctx.req;
  const parsed: unknown = (ctx.request as { body?: unknown }).body;
  if (!hasBody(req)) {
    ctx.request.bodyBytes = Buffer.alloc(0);
    return { kind: 'captured', body: { bytes: null, parsed } };
  }
  if (req.readableEnded) {
    // A body parser ran first and consumed the stream. Its raw text is the body only when no
    // content-encoding was undone on the way; otherwise downstream keeps what the parser left.
    const text = rawTextFromParser(ctx, parsed);
    const encoding = req.headers['content-encoding'];
    if (text === null || (encoding !== undefined && encoding !== 'identity')) {
      return { kind: 'captured', body: { bytes: null, parsed } };
    }
    const bytes = Buffer.from(text, 'utf8');
    ctx.request.bodyBytes = bytes;
    ctx.req = replayRequest(req, bytes);
    return { kind: 'captured', body: { bytes, parsed } };
  }
  const result = await readBody(req, limit);
  if (result.kind !== 'captured') return result;
  ctx.request.bodyBytes = result.bytes;
  ctx.req = replayRequest(req, result.bytes);
  return { kind: 'captured', body: { bytes: result.bytes, parsed } };
}
