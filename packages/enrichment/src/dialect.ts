import type { Context, Middleware, Next } from 'koa';
import { anthropicEnvelope } from './anthropic-envelope.ts';
import type { Envelope } from './envelope.ts';
import { openaiEnvelope } from './openai-envelope.ts';

/**
 * The error dialects a client can read, each with its envelope. A new dialect is one envelope file,
 * one entry here and one line of detection in `requestDialect`.
 */
export const ENVELOPES = { openai: openaiEnvelope, anthropic: anthropicEnvelope } as const satisfies Record<
  string,
  Envelope
>;
export type Dialect = keyof typeof ENVELOPES;
export const DIALECTS = Object.keys(ENVELOPES) as readonly Dialect[];

declare module 'koa' {
  interface DefaultState {
    /** The error dialect of this request, decided once (see `dialectOf`). */
    dialect?: Dialect;
  }
}

/**
 * The dialect of a request, decided once from its path and headers: Anthropic when the path ends in
 * `/messages` (the Messages API) or the request carries `anthropic-version` (every Anthropic SDK
 * sends it, also to `/v1/models`); otherwise OpenAI (chat completions, the Responses API, …).
 */
export function requestDialect(path: string, anthropicVersion: string | string[] | undefined): Dialect {
  if (anthropicVersion !== undefined) return 'anthropic';
  return path.endsWith('/messages') || path.endsWith('/messages/') ? 'anthropic' : 'openai';
}

/**
 * The dialect of this exchange: the one decided for it, else decided now and kept on
 * `ctx.state.dialect`, so every error written for the request speaks the same one.
 */
export function dialectOf(ctx: Context): Dialect {
  const decided = ctx.state.dialect;
  if (decided !== undefined) return decided;
  const dialect = requestDialect(ctx.path, ctx.req.headers['anthropic-version']);
  ctx.state.dialect = dialect;
  return dialect;
}

/**
 * Decide each request's dialect as it comes in, before any middleware can rewrite its path, and
 * keep it on `ctx.state.dialect`. Error enrichment decides for itself when nothing did.
 *
 * @example
 * app.use(decideDialect());
 */
export function decideDialect(): Middleware {
  return function decideDialect(ctx: Context, next: Next): Promise<void> {
    dialectOf(ctx);
    return next();
  };
}
