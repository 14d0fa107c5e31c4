import type { Context, Middleware, Next } from 'koa';
import { withHeader } from './request-id.ts';

/**
 * Headers for a JSON API that no browser should render, frame or sniff (OWASP REST Security
 * Cheat Sheet, "Security headers"). Upstream responses may override them with their own.
 */
const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

const SECURITY_HEADER_PAIRS = Object.entries(API_SECURITY_HEADERS);

/**
 * Security headers on every response, and `cache-control: no-store` on errors that did not say
 * otherwise, so no shared cache keeps a denial after the cause is fixed.
 *
 * @example
 * app.use(securityHeaders());
 */
export function securityHeaders(): Middleware {
  return async function securityHeaders(ctx: Context, next: Next): Promise<void> {
    setSecurityHeaders(ctx);
    try {
      await next();
    } catch (error) {
      securityHeadersOnError(error);
      throw error;
    }
    noStoreOnError(ctx);
  };
}

/** The security headers, onto the response (what `securityHeaders()` does first). */
export function setSecurityHeaders(ctx: Context): void {
  // Straight onto the response (what ctx.set does, less its per-call checks): every exchange pays it.
  const res = ctx.res;
  for (const [name, value] of SECURITY_HEADER_PAIRS) res.setHeader(name, value);
}

/** The security headers and `no-store` onto an error on its way to Koa's error handler. */
export function securityHeadersOnError(error: unknown): void {
  if (!(error instanceof Error)) return;
  for (const [name, value] of SECURITY_HEADER_PAIRS) withHeader(error, name, value);
  withHeader(error, 'cache-control', 'no-store');
}

/** `cache-control: no-store` on an error response that did not say otherwise. */
export function noStoreOnError(ctx: Context): void {
  if (ctx.status >= 400 && !ctx.response.get('cache-control')) ctx.set('cache-control', 'no-store');
}
