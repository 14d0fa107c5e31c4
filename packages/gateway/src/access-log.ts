import type { Context, Middleware, Next } from 'koa';

/** pino-compatible. */
export interface AccessLogger {
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  /** pino's: when it says a level is off, an exchange costs no line, no listener, no fields. */
  isLevelEnabled?(level: string): boolean;
}

export interface AccessLogOptions {
  logger: AccessLogger;
  /**
   * Paths logged at debug rather than info: probes and scrapes would drown the traffic.
   * @default ['/healthz', '/readyz', '/metrics']
   */
  quietPaths?: readonly string[];
}

/**
 * One line per exchange when its response is over (streams included): method, path without the
 * query (which may carry secrets), status, duration, request id and, on the inference routes,
 * what error enrichment did (`enriched: <code>` or `passthrough: <reason>`). Never headers,
 * bodies, keys, users or models.
 *
 * @example
 * app.use(accessLog({ logger: pino() }));
 */
export function accessLog(options: AccessLogOptions): Middleware {
  const startLine = accessLine(options);
  return async function accessLog(ctx: Context, next: Next): Promise<void> {
    const settle = startLine(ctx);
    if (!settle) return next();
    try {
      await next();
    } finally {
      settle();
    }
  };
}

/**
 * What `accessLog()` does around the middleware below it: for each exchange, null when its line is
 * at a level that is off, else the function to call once the middleware below have returned. The
 * line is written once that is called and the response is over, whichever comes last: a success
 * can be written to the client in full before the middleware that let it through (error
 * enrichment) records what it did.
 */
export function accessLine(options: AccessLogOptions): (ctx: Context) => (() => void) | null {
  const { logger, quietPaths = ['/healthz', '/readyz', '/metrics'] } = options;
  const quiet = new Set(quietPaths);
  return (ctx) => {
    // Below info, no line is written at either level: decided without looking at the path.
    if (logger.isLevelEnabled?.('info') === false) return null;
    const level = quiet.has(ctx.path) ? 'debug' : 'info';
    if (logger.isLevelEnabled?.(level) === false) return null;
    const started = performance.now();
    let ms = 0;
    let pending = 2;
    const settle = () => {
      if (--pending > 0) return;
      const fields = {
        requestId: ctx.state.requestId,
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        // False when the client left before the whole response was written.
        completed: ctx.res.writableFinished,
        ms,
        // `enriched: <code>` or `passthrough: <reason>` on the inference routes: closed sets only.
        ...ctx.state.enrichment,
      };
      logger[level](fields, 'request');
    };
    ctx.res.once('close', () => {
      ms = Math.round(performance.now() - started);
      settle();
    });
    return settle;
  };
}
