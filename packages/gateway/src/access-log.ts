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
  const { logger, quietPaths = ['/healthz', '/readyz', '/metrics'] } = options;
  const quiet = new Set(quietPaths);
  return async function accessLog(ctx: Context, next: Next): Promise<void> {
    const level = quiet.has(ctx.path) ? 'debug' : 'info';
    if (logger.isLevelEnabled?.(level) === false) return next();
    const started = performance.now();
    // The line is written once the response is over and the middleware below have returned,
    // whichever comes last: a success can be written to the client in full before the
    // middleware that let it through (error enrichment) records what it did.
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
    try {
      await next();
    } finally {
      settle();
    }
  };
}
