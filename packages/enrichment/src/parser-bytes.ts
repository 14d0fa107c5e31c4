import type { Context } from 'koa';

// Where body parsers that ran first keep the raw body: koa-body up to 6 (`includeUnparsed`, under
// the parsed body), koa-body 8, koa-bodyparser and @koa/bodyparser (`ctx.request.rawBody`).
// All of them keep text decoded by the parser (koa-body 8: co-body through raw-body, which drops a
// UTF-8 byte order mark and turns invalid bytes into U+FFFD), never the bytes themselves.
const KOA_BODY_UNPARSED = Symbol.for('unparsedBody');
const REPLACEMENT_CHARACTER = '\uFFFD';

/** The client's bytes recovered from what a body parser kept, or why they cannot be. */
export type ParserBytes = { bytes: Buffer } | { reason: string };

function rawFromParser(ctx: Context, parsed: unknown): unknown {
  if (parsed !== null && typeof parsed === 'object') {
    const unparsed = (parsed as Record<symbol, unknown>)[KOA_BODY_UNPARSED];
    if (unparsed !== undefined) return unparsed;
  }
  return (ctx.request as { rawBody?: unknown }).rawBody;
}

/**
 * The body a parser that ran first consumed, as the bytes the client sent. A Buffer kept by the
 * parser is those bytes. Text is taken only when it provably round-trips: no content-encoding was
 * undone, the length was declared, the text holds no U+FFFD (the mark of bytes a decoder could
 * not read) and its UTF-8 encoding is exactly the declared length (a dropped byte order mark, or
 * a latin1 body decoded as anything, changes the length). Otherwise the reason, for the log.
 */
export function parserBytes(ctx: Context, parsed: unknown): ParserBytes {
  const raw = rawFromParser(ctx, parsed);
  if (Buffer.isBuffer(raw)) return { bytes: raw };
  if (typeof raw !== 'string') {
    return { reason: 'it kept no raw copy of the body (koa-body: `includeUnparsed: true` keeps one)' };
  }
  const encoding = ctx.req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    return { reason: `it undid the body's content-encoding (${encoding}), so its text is not what was sent` };
  }
  const declared = ctx.req.headers['content-length'];
  if (declared === undefined || !/^\d+$/.test(declared)) {
    return { reason: 'it kept the text of a chunked body, whose bytes no length can confirm' };
  }
  if (raw.includes(REPLACEMENT_CHARACTER) || Buffer.byteLength(raw, 'utf8') !== Number(declared)) {
    return {
      reason:
        'it kept decoded text that does not encode back to the bytes sent (a byte order mark, a charset ' +
        'other than UTF-8, or invalid UTF-8)',
    };
  }
  return { bytes: Buffer.from(raw, 'utf8') };
}
