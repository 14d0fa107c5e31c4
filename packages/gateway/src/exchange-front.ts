import type { Context, Middleware, Next } from 'koa';
import { type AccessLogger, accessLine } from './access-log.ts';
import { answerThrown, answerUnanswered, type ErrorResponsesLogger } from './error-responses.ts';
import { assignRequestId, REQUEST_ID_HEADER, withHeader } from './request-id.ts';
import { noStoreOnError, securityHeadersOnError, setSecurityHeaders } from './security-headers.ts';

/**
 * The gateway's front as one middleware: what `requestId()`, `securityHeaders()`,
 * `accessLog()` and `errorResponses()` do when mounted one after the other, in that order, from the
 * same parts, with one async frame per exchange rather than four (each frame is a promise, a
 * suspension and a resumption on every request).
 */
export function exchangeFront(options: { logger: AccessLogger & ErrorResponsesLogger }): Middleware {
  const { logger } = options;
  const startLine = accessLine({ logger });
  return async function exchangeFront(ctx: Context, next: Next): Promise<void> {
    const id = assignRequestId(ctx);
    setSecurityHeaders(ctx);
    const settle = startLine(ctx);
    try {
      let threw = false;
      try {
        await next();
      } catch (error) {
        threw = true;
        answerThrown(ctx, error, logger);
      }
      if (!threw) answerUnanswered(ctx);
    } catch (error) {
      // Only an error of the answer itself gets here: it leaves with the headers Koa would drop.
      securityHeadersOnError(error);
      if (error instanceof Error) withHeader(error, REQUEST_ID_HEADER, id);
      throw error;
    } finally {
      settle?.();
    }
    noStoreOnError(ctx);
  };
}
