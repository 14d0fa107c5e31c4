import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { type DenialFacts, describeError } from '@control-layer/db';
import type { Context, Middleware, Next } from 'koa';
import { requestApiKey } from './api-key.ts';
import { createBoundaryResync } from './boundary-resync.ts';
import { type BodyCapture, captureBody, readSmallBody } from './capture-body.ts';
import { DeadlineExceededError, withDeadline } from './deadline.ts';
import { denialLookup } from './denial-lookup.ts';
import { diagnoseDenial } from './diagnose.ts';
import { requestIdOf, restoreOwnHeaders, sendError } from './envelope.ts';
import { ERROR_SPECS } from './error-codes.ts';
import { lingerAfterAnswer } from './lingering-close.ts';
import { modelOf, needsDecoding, stringModel } from './model-name.ts';
import { type ErrorEnrichmentOptions, type PassThroughReason, resolveOptions } from './options.ts';
import { recordOutcome } from './outcome.ts';

function isForbidden(error: unknown): boolean {
  return error !== null && typeof error === 'object' && ((error as { status?: unknown }).status ?? 0) === 403;
}

/**
 * Explains a router's bare 403: when the request carried a bearer key that the database knows,
 * the response becomes a 403 for a key that cannot do inference, a 403 naming the model the
 * owner cannot reach, a 403 naming the key's blocked purpose, a 402 with the balance, a 402 with
 * the key's spent cap, or a retriable 429 when the cap's window has just reset (the router is
 * then told to reload); anything else passes through untouched. Mount it in front of whatever
 * answers the inference routes.
 *
 * The body is read once (bounded by `maxBodyBytes`) and handed on unchanged; it is parsed only
 * when a 403 needs the model. A diagnosis costs one SQL statement; when the database fails or
 * is slower than `timeoutMs` the original response stands.
 *
 * @example
 * const { db } = await openDatabase(process.env.DATABASE_URL);
 * app.use(errorEnrichment({ db, timeoutMs: 500, logger: pino() }));
 */
export function errorEnrichment(options: ErrorEnrichmentOptions): Middleware {
  const {
    db,
    readDb,
    coalesce,
    coalesceWindowMs,
    maxBodyBytes,
    linger,
    timeoutMs,
    logger,
    onEnriched,
    onPassThrough,
    boundaryResyncIntervalMs,
    helpUrls,
  } = resolveOptions(options);
  // The diagnosis statement: on the replica when there is a fresh one, shared by concurrent
  // diagnoses of the same key and model (see denialLookup).
  const lookupDenial = denialLookup({ db, coalesce, coalesceWindowMs, ...(readDb && { readDb }) });
  // Notifications are writes: always on the primary.
  const boundaryResync = createBoundaryResync(db, boundaryResyncIntervalMs, (error) =>
    logger.warn({ err: describeError(error) }, 'spend-cap boundary notify failed'),
  );

  // Said once: it is how the app is put together, not something about one request.
  let toldUnforwardable = false;

  // The steps below are functions of the factory rather than closures of each request: a
  // pass-through (the common case) allocates none of them.

  /** Answer 413 and discard the rest of the upload before closing (see lingerAfterAnswer). */
  function refuse(ctx: Context, req: IncomingMessage, ownHeaders: OutgoingHttpHeaders): void {
    // A response already on its way (a success piped to the client) is cut by the aborted
    // upstream request instead; there is nothing left to answer with.
    if (ctx.headerSent || !ctx.writable) return;
    restoreOwnHeaders(ctx, ownHeaders);
    sendError(ctx, 'request_too_large', `Request body exceeds the limit of ${maxBodyBytes} bytes.`, {
      limit_bytes: maxBodyBytes,
    });
    ctx.set('connection', 'close');
    lingerAfterAnswer(req, linger);
  }

  /** Leave the response (or the thrown 403) exactly as it was. */
  function leave(ctx: Context, capture: BodyCapture, thrown: unknown, reason: PassThroughReason): void {
    capture.stream?.release();
    recordOutcome(ctx, { passthrough: reason });
    onPassThrough({ reason, status: thrown === undefined ? ctx.status : 403, requestId: requestIdOf(ctx) });
    if (thrown !== undefined) throw thrown;
  }

  /** Diagnose the 403 with a key and, when the facts explain it, replace it by the explanation. */
  async function explain(
    ctx: Context,
    req: IncomingMessage,
    capture: BodyCapture,
    token: string,
    thrown: unknown,
    ownHeaders: OutgoingHttpHeaders,
  ): Promise<void> {
    const stream = capture.stream;
    let abandoned = false;
    const diagnose = async (): Promise<{ facts: DenialFacts | null; model: string | null } | 'too_large'> => {
      // A route that answered without reading the whole body: the rest is read now, within the budget.
      if (stream) await stream.finished();
      if (stream?.state === 'too_large') return 'too_large';
      if (abandoned) return { facts: null, model: null };
      const bytes = stream ? stream.bytes() : capture.whole;
      stream?.release();
      const source = {
        bytes,
        parsed: capture.parsed,
        contentType: ctx.get('content-type'),
        contentEncoding: ctx.get('content-encoding'),
        maxDecodedBytes: maxBodyBytes,
      };
      if (bytes && needsDecoding(source.contentEncoding) && stringModel(capture.parsed) === null) {
        // Decoding costs far more than a lookup, so the key comes first: an unknown key (the
        // usual sender of a bomb) costs no decoding, a known one a second statement.
        const keyFacts = await lookupDenial(token, null);
        if (!keyFacts || abandoned) return { facts: keyFacts, model: null };
        const model = await modelOf(source);
        if (model === null || abandoned) return { facts: keyFacts, model: null };
        return { facts: await lookupDenial(token, model), model };
      }
      const model = await modelOf(source);
      return { facts: await lookupDenial(token, model), model };
    };
    let outcome: Awaited<ReturnType<typeof diagnose>>;
    try {
      outcome = await withDeadline(diagnose(), timeoutMs);
    } catch (error) {
      abandoned = true;
      const timedOut = error instanceof DeadlineExceededError;
      logger.warn(
        { requestId: requestIdOf(ctx), err: describeError(error) },
        timedOut
          ? 'error enrichment timed out; the 403 passes through'
          : 'error enrichment failed; the 403 passes through',
      );
      return leave(ctx, capture, thrown, timedOut ? 'timeout' : 'db_error');
    }
    if (outcome === 'too_large') return refuse(ctx, req, ownHeaders);
    const { facts, model } = outcome;
    if (!facts) return leave(ctx, capture, thrown, 'unknown_key');
    const denial = diagnoseDenial(facts, model);
    if (!denial) return leave(ctx, capture, thrown, 'unexplained');

    restoreOwnHeaders(ctx, ownHeaders);
    const helpUrl = helpUrls[denial.code];
    // A rule's own headers (retry-after on a pending reset) are ours, set after restoreOwnHeaders;
    // so is RFC 8288's `link`, the help page for clients that read headers rather than bodies.
    const extras = helpUrl ? { ...denial.extras, help_url: helpUrl } : denial.extras;
    const headers = helpUrl ? { ...denial.headers, link: `<${helpUrl}>; rel="help"` } : denial.headers;
    sendError(ctx, denial.code, denial.message, extras, headers);
    if (denial.code === 'spend_cap_reset_pending') boundaryResync.fire();
    recordOutcome(ctx, { enriched: denial.code });
    onEnriched({ code: denial.code, status: ERROR_SPECS[denial.code].status, requestId: requestIdOf(ctx) });
  }

  return async function errorEnrichment(ctx: Context, next: Next): Promise<void> {
    const req = ctx.req;
    // The app's own headers (request id, security headers): the only ones an answer of ours keeps.
    const ownHeaders = ctx.res.getHeaders();
    const capture = captureBody(ctx, maxBodyBytes);
    // A declared length over the limit is refused before anything runs downstream.
    if (!capture) return refuse(ctx, req, ownHeaders);
    if (capture.unforwardable !== undefined && !toldUnforwardable) {
      toldUnforwardable = true;
      logger.warn(
        { requestId: requestIdOf(ctx), reason: capture.unforwardable },
        'a body parser runs before errorEnrichment, so request bodies it cannot give back byte for byte ' +
          'are refused with a 400 when forwarded; mount errorEnrichment before any body parser',
      );
    }
    const stream = capture.stream;
    if (capture.small) {
      capture.whole = await readSmallBody(ctx);
      if (capture.whole === null) {
        // The client went away mid-upload: nobody to answer, and nothing is sent downstream.
        ctx.status = 400;
        return;
      }
    }

    let thrown: unknown;
    try {
      await next();
    } catch (error) {
      // The body crossed the limit while downstream was reading it (a proxy aborted its upstream
      // request): the refusal is ours to answer.
      if (stream?.state === 'too_large') return refuse(ctx, req, ownHeaders);
      // A downstream `ctx.throw(403)` is a denial too; anything else is not ours to touch.
      if (!isForbidden(error)) {
        stream?.release();
        throw error;
      }
      thrown = error;
    }
    if (stream?.state === 'too_large') return refuse(ctx, req, ownHeaders);

    // The upstream's status is known: unless it is a 403 with a key to explain, nothing kept is needed.
    if (thrown === undefined && ctx.status !== 403) return leave(ctx, capture, thrown, 'status');
    const token = requestApiKey(req.headers);
    if (!token) return leave(ctx, capture, thrown, 'no_token');
    return explain(ctx, req, capture, token, thrown, ownHeaders);
  };
}
