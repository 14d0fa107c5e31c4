import { randomUUID } from 'node:crypto';
import { isSaneRequestId } from '@control-layer/enrichment';
import type { Context, Middleware, Next } from 'koa';

declare module 'koa' {
  interface DefaultState {
    /** This exchange's id, also in the `x-request-id` response header and sent upstream. */
    requestId?: string;
  }
}

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Give every exchange an id: the client's `x-request-id` when it is sane, else a fresh UUID. It is
 * set on the response before anything else runs, so error bodies written downstream (which read
 * the response header) and the proxied request carry the same id.
 *
 * @example
 * app.use(requestId());
 */
export function requestId(): Middleware {
  return async function requestId(ctx: Context, next: Next): Promise<void> {
    const id = assignRequestId(ctx);
    try {
      await next();
    } catch (error) {
      // Koa's error handler drops every response header but the error's own `headers`.
      if (error instanceof Error) withHeader(error, REQUEST_ID_HEADER, id);
      throw error;
    }
  };
}

/** This exchange's id, on `ctx.state.requestId` and the response (what `requestId()` does first). */
export function assignRequestId(ctx: Context): string {
  // Node's header map and setHeader straight, rather than ctx.get and ctx.set: this runs on
  // every exchange, and Koa's accessors add nothing for a header name known to be lower case.
  const sent = ctx.req.headers[REQUEST_ID_HEADER];
  const id = typeof sent === 'string' && isSaneRequestId(sent) ? sent : randomUUID();
  ctx.state.requestId = id;
  ctx.res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** Add a header to those Koa writes with an error response (`err.headers`). */
export function withHeader(error: Error, name: string, value: string): void {
  const carrier = error as Error & { headers?: Record<string, string> };
  carrier.headers = { ...carrier.headers, [name]: value };
}
