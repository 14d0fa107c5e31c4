import { withDeadline } from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';

/**
 * `GET /healthz`: the process is up and serving. Deliberately checks nothing else, so an
 * orchestrator never restarts the gateway because a dependency is down.
 *
 * @example
 * router.get('/healthz', healthz());
 */
export function healthz(): Middleware {
  return async function healthz(ctx: Context): Promise<void> {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  };
}

export interface ReadinessOptions {
  /** Resolves when the dependency answers; rejects (or hangs) when it does not. */
  check: () => Promise<unknown>;
  /**
   * Time the check may take before the gateway counts as not ready, in ms.
   * @default 2000
   */
  timeoutMs?: number;
  /** Told why a check failed. */
  onFailure?: (error: unknown) => void;
}

/**
 * `GET /readyz`: 200 while the database answers, 503 while it does not. Each probe asks again,
 * so readiness comes back by itself when the database does. Concurrent probes share one check,
 * so a hanging database does not pile up queries.
 *
 * @example
 * router.get('/readyz', readyz({ check: () => db.execute(sql`select 1`) }));
 */
export function readyz(options: ReadinessOptions): Middleware {
  const { check, timeoutMs = 2000, onFailure = () => {} } = options;
  if (typeof check !== 'function') throw new TypeError('readyz: `check` must be a function');
  let inFlight: Promise<boolean> | null = null;

  const probe = async (): Promise<boolean> => {
    try {
      await withDeadline(check(), timeoutMs);
      return true;
    } catch (error) {
      onFailure(error);
      return false;
    }
  };

  return async function readyz(ctx: Context): Promise<void> {
    inFlight ??= probe().finally(() => {
      inFlight = null;
    });
    const ready = await inFlight;
    ctx.set('cache-control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', database: ready ? 'up' : 'down' };
  };
}
