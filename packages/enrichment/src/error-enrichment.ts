import { type DenialFacts, describeError, explainDenial } from '@control-layer/db';
import type { Context, Middleware, Next } from 'koa';
import { bearerToken } from './bearer-token.ts';
import { createBoundaryResync } from './boundary-resync.ts';
import { captureBody } from './capture-body.ts';
import { DeadlineExceededError, withDeadline } from './deadline.ts';
import { diagnoseDenial } from './diagnose.ts';
import { requestIdOf, sendError } from './envelope.ts';
import { ERROR_SPECS } from './error-codes.ts';
import { modelOf } from './model-name.ts';
import { type ErrorEnrichmentOptions, type PassThroughReason, resolveOptions } from './options.ts';
import { recordOutcome } from './outcome.ts';
import { discardRest } from './request-body.ts';

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
  const { db, maxBodyBytes, timeoutMs, logger, onEnriched, onPassThrough, boundaryResyncIntervalMs } =
    resolveOptions(options);
  const boundaryResync = createBoundaryResync(db, boundaryResyncIntervalMs, (error) =>
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'spend-cap boundary notify failed'),
  );

  return async function errorEnrichment(ctx: Context, next: Next): Promise<void> {
    const capture = await captureBody(ctx, maxBodyBytes);
    if (capture.kind === 'too_large') {
      sendError(ctx, 'request_too_large', `Request body exceeds the limit of ${maxBodyBytes} bytes.`, {
        limit_bytes: maxBodyBytes,
      });
      // The rest of the upload is discarded, not buffered, and the connection closes after it.
      ctx.set('connection', 'close');
      discardRest(ctx.req);
      return;
    }
    if (capture.kind === 'aborted') {
      // The client went away mid-upload: nobody to answer, and nothing is sent downstream.
      ctx.status = 400;
      return;
    }

    let thrown: unknown;
    try {
      await next();
    } catch (error) {
      // A downstream `ctx.throw(403)` is a denial too; anything else is not ours to touch.
      if (!isForbidden(error)) throw error;
      thrown = error;
    }
    /** Leave the response (or the thrown 403) exactly as it was. */
    const leave = (reason: PassThroughReason): void => {
      recordOutcome(ctx, { passthrough: reason });
      onPassThrough({ reason, status: thrown === undefined ? ctx.status : 403, requestId: requestIdOf(ctx) });
      if (thrown !== undefined) throw thrown;
    };

    if (thrown === undefined && ctx.status !== 403) return leave('status');
    const token = bearerToken(ctx.get('authorization'));
    if (!token) return leave('no_token');

    const model = modelOf({
      bytes: capture.body.bytes,
      parsed: capture.body.parsed,
      contentType: ctx.get('content-type'),
      contentEncoding: ctx.get('content-encoding'),
      maxDecodedBytes: maxBodyBytes,
    });
    let facts: DenialFacts | null;
    try {
      facts = await withDeadline(explainDenial(db, token, model), timeoutMs);
    } catch (error) {
      const timedOut = error instanceof DeadlineExceededError;
      logger.warn(
        { requestId: requestIdOf(ctx), err: describeError(error) },
        timedOut
          ? 'error enrichment timed out; the 403 passes through'
          : 'error enrichment failed; the 403 passes through',
      );
      return leave(timedOut ? 'timeout' : 'db_error');
    }
    if (!facts) return leave('unknown_key');
    const denial = diagnoseDenial(facts, model);
    if (!denial) return leave('unexplained');

    sendError(ctx, denial.code, denial.message, denial.extras);
    for (const [name, value] of Object.entries(denial.headers ?? {})) ctx.set(name, value);
    if (denial.code === 'spend_cap_reset_pending') boundaryResync.fire();
    recordOutcome(ctx, { enriched: denial.code });
    onEnriched({ code: denial.code, status: ERROR_SPECS[denial.code].status, requestId: requestIdOf(ctx) });
  };
}
