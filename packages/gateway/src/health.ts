import type { Context, Middleware } from 'koa';
import type { Probe } from './probes.ts';

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
  /** Dependencies reported in the body as `up` or `down`, by name; none of them fails readiness. */
  probes: Record<string, Probe>;
  /** True once the process has been told to stop: readiness then fails, so traffic goes elsewhere. */
  isDraining: () => boolean;
}

/**
 * `GET /readyz`, "send me traffic": 200 while the gateway serves, 503 while it drains after
 * SIGTERM/SIGINT. The database and the upstream are reported (`up`/`down`) but do not fail it:
 * enrichment fails open without a database, and an orchestrator that pulled every replica whenever
 * a shared dependency blinked would take down the whole fleet. Probe answers are cached (~1 s).
 *
 * @example
 * router.get('/readyz', readyz({ probes: { database, upstream }, isDraining: () => stopping }));
 */
export function readyz(options: ReadinessOptions): Middleware {
  const { probes, isDraining } = options;
  if (typeof isDraining !== 'function') throw new TypeError('readyz: `isDraining` must be a function');
  const names = Object.keys(probes);

  return async function readyz(ctx: Context): Promise<void> {
    const answers = await Promise.all(names.map((name) => probes[name]?.check() ?? false));
    const draining = isDraining();
    ctx.set('cache-control', 'no-store');
    ctx.status = draining ? 503 : 200;
    ctx.body = {
      status: draining ? 'draining' : 'ready',
      ...Object.fromEntries(names.map((name, i) => [name, answers[i] ? 'up' : 'down'])),
    };
  };
}
