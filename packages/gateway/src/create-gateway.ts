import { type Database, describeError, stackFrames } from '@control-layer/db';
import { decideDialect, errorEnrichment, type HelpUrls, type ReadSource } from '@control-layer/enrichment';
import Router from '@koa/router';
import { sql } from 'drizzle-orm';
import Koa, { type Middleware } from 'koa';
import { pino } from 'pino';
import { exchangeFront } from './exchange-front.ts';
import { healthz, readyz } from './health.ts';
import { createMetrics, type GatewayMetrics, type MetricsSource, metricsEndpoint } from './metrics.ts';
import { MODELS_ROUTE, modelsRoute } from './models-route.ts';
import { OPENAPI_ROUTE, openApiRoute } from './openapi-route.ts';
import { cachedProbe, tcpReachable } from './probes.ts';
import { proxy } from './proxy.ts';
import type { GatewayTracing } from './request-tracing.ts';
import { createUpstreamPool } from './upstream-pool.ts';

/** pino-compatible; a pino logger fits. */
export interface GatewayLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  /** pino's; when present, access lines for a level that is off are never built. */
  isLevelEnabled?(level: string): boolean;
}

export interface GatewayOptions {
  /** The database error enrichment and `/readyz` use. */
  db: Database;
  /** The OpenAI-compatible router: `/ai/v1/x` is proxied to `${upstreamUrl}/v1/x`. */
  upstreamUrl: string;
  /**
   * Mount error enrichment on `/ai/v1/*`; off, the gateway is a plain proxy.
   * @default true
   */
  enrichment?: boolean;
  /**
   * A help page per denial code: `help_url` in the error and a `link: <url>; rel="help"` header.
   * @default none
   */
  helpUrls?: HelpUrls;
  /**
   * Largest request body accepted on `/ai/v1/*`, in bytes (413 above; only with enrichment).
   * @default 10485760 (10 MiB)
   */
  maxBodyBytes?: number;
  /**
   * Where diagnoses read: a read-replica router (`createReadRouter`); writes never go there.
   * @default `db`
   */
  readDb?: ReadSource;
  /**
   * Concurrent diagnoses of the same key and model share one statement.
   * @default true
   */
  coalesce?: boolean;
  /**
   * Time budget of one denial diagnosis, in ms; past it the upstream's 403 passes through.
   * @default 1000
   */
  enrichmentTimeoutMs?: number;
  /**
   * Time to connect to the upstream, in ms (504 past it).
   * @default 10000
   */
  upstreamConnectTimeoutMs?: number;
  /**
   * Time to wait for the upstream's response headers, in ms (504 past it).
   * @default 300000
   */
  upstreamHeadersTimeoutMs?: number;
  /**
   * Longest silence inside an upstream response body, in ms (the response is cut past it).
   * @default 300000
   */
  upstreamBodyTimeoutMs?: number;
  /**
   * Time the readiness probes give the database (`select 1`) and the upstream (a TCP connection)
   * to answer, in ms; their answers are reused for a second.
   * @default 1000
   */
  readinessTimeoutMs?: number;
  /** @default a pino logger that writes nothing */
  logger?: GatewayLogger;
  /**
   * Spans for each exchange, its upstream call and its diagnosis (`startTracing` in tracing.ts).
   * @default none: no tracing work at all
   */
  tracing?: GatewayTracing;
  /**
   * Where `/metrics` gets its text, given this gateway's own metrics (a cluster worker passes
   * `clusterMetricsSource`, which answers with the sum over the workers that answer in time).
   * @default this process's metrics
   */
  metricsSource?: (own: GatewayMetrics) => MetricsSource;
}

/** The Koa app, with its metrics and ways to release its upstream connections. */
export type Gateway = Koa & {
  readonly metrics: GatewayMetrics;
  /** Close the upstream pool once its requests are done; call after the HTTP server drained. */
  close(): Promise<void>;
  /** Close the upstream pool at once, aborting whatever is still in flight. */
  destroy(): Promise<void>;
  /** From now on `/readyz` answers 503 (`draining`); call on SIGTERM, before closing the listener. */
  startDraining(): void;
};

/** The route everything under `/ai/v1`, including `/ai/v1` itself, takes. */
export const AI_ROUTE = '/ai/v1{/*path}';

/** `/ai/v1` or a path below it, as the router's AI_ROUTE matches it (that route also takes other cases). */
function isUnderAiRoute(path: string): boolean {
  return path.startsWith('/ai/v1') && (path.length === 6 || path.charCodeAt(6) === 47);
}

/** Middleware run one after the other as one, as the router runs a route's: the last one's `next` is the caller's. */
function chain(layers: readonly Middleware[]): Middleware {
  return layers.reduceRight<Middleware>(
    (following, layer) => (ctx, next) => layer(ctx, () => following(ctx, next)),
    (_ctx, next) => next(),
  );
}

const DURATIONS = [
  'enrichmentTimeoutMs',
  'upstreamConnectTimeoutMs',
  'upstreamHeadersTimeoutMs',
  'upstreamBodyTimeoutMs',
  'readinessTimeoutMs',
] as const;
// setTimeout's ceiling: a longer delay fires at once.
const MAX_TIMER_MS = 2_147_483_647;

// The latency histogram's labels, made once rather than per response (undici takes statuses 100 to 999).
const STATUS_CLASSES = Array.from({ length: 10 }, (_, digit) => ({ status_class: `${digit}xx` }));
const FAILED = { status_class: 'error' };

// Errors that only mean the client left mid-response: worth a debug line, not an alarm.
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_ABORTED']);

/**
 * The gateway: `ALL /ai/v1/*` goes through error enrichment to a streaming proxy of the upstream;
 * `/healthz`, `/readyz` and `/metrics` answer beside it. Every response carries an `x-request-id`.
 *
 * @example
 * const gateway = createGateway({ db, upstreamUrl: 'http://127.0.0.1:3001' });
 * const server = gateway.listen(3000, '127.0.0.1');
 * // on shutdown: server.close(), then await gateway.close()
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { db, upstreamUrl, enrichment = true, logger = pino({ level: 'silent' }) } = options;
  if (!db || typeof db.execute !== 'function') throw new TypeError('createGateway: `db` must come from openDatabase()');
  // URL.canParse, not URL.parse: the engines field allows Node 20 releases without the latter.
  if (!URL.canParse(upstreamUrl) || !/^https?:$/.test(new URL(upstreamUrl).protocol)) {
    throw new TypeError(`createGateway: \`upstreamUrl\` is not an http(s) URL: ${upstreamUrl}`);
  }
  for (const name of DURATIONS) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0 && value <= MAX_TIMER_MS)) {
      throw new RangeError(`createGateway: \`${name}\` must be an integer from 1 to ${MAX_TIMER_MS}, got ${value}`);
    }
  }

  const timeoutMs = options.readinessTimeoutMs ?? 1000;
  // Logged when the answer changes, not at every probe.
  const database = cachedProbe(() => db.execute(sql`select 1`), {
    timeoutMs,
    onChange: (up, error) => {
      if (up) logger.info({}, 'database reachable');
      else logger.warn({ err: describeError(error) }, 'database not reachable');
    },
  });
  const upstream = cachedProbe(() => tcpReachable(upstreamUrl, timeoutMs), {
    timeoutMs,
    onChange: (up, error) => {
      if (up) logger.info({}, 'upstream reachable');
      else logger.warn({ err: describeError(error), upstream: new URL(upstreamUrl).origin }, 'upstream not reachable');
    },
  });
  // The up gauges ask these probes at each collection: in a cluster, every worker answers for itself.
  const metrics = createMetrics({ probes: { database, upstream } });
  const pool = createUpstreamPool(upstreamUrl, { connectTimeoutMs: options.upstreamConnectTimeoutMs ?? 10_000 });

  const { readDb } = options;
  // Counted here, so the router itself stays free of metrics: the database a read ran on is
  // the replica unless it is the primary `db`.
  const countedReads: ReadSource | undefined = readDb && {
    run: (work) =>
      readDb.run((database) => {
        metrics.diagnosisReads.inc({ database: database === db ? 'primary' : 'replica' });
        return work(database);
      }),
  };

  const { tracing } = options;
  const aiRoute: Middleware[] = [];
  if (enrichment) {
    const enrich = errorEnrichment({
      db,
      ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
      ...(options.helpUrls !== undefined && { helpUrls: options.helpUrls }),
      ...(options.enrichmentTimeoutMs !== undefined && { timeoutMs: options.enrichmentTimeoutMs }),
      ...(countedReads !== undefined && { readDb: countedReads }),
      ...(options.coalesce !== undefined && { coalesce: options.coalesce }),
      logger,
      onEnriched: ({ code }) => metrics.enriched.inc({ code }),
      onPassThrough: ({ reason }) => metrics.passThrough.inc({ reason }),
    });
    aiRoute.push(tracing ? tracing.diagnosis(enrich) : enrich);
  }
  aiRoute.push(
    proxy({
      upstreamUrl,
      dispatcher: pool,
      headersTimeoutMs: options.upstreamHeadersTimeoutMs ?? 300_000,
      bodyTimeoutMs: options.upstreamBodyTimeoutMs ?? 300_000,
      logger,
      onUpstreamResponse: ({ status, seconds }) =>
        metrics.upstreamLatency.observe(STATUS_CLASSES[Math.floor(status / 100)] ?? FAILED, seconds),
      onUpstreamFailure: ({ code, seconds }) => {
        metrics.upstreamFailures.inc({ code });
        metrics.upstreamLatency.observe(FAILED, seconds);
      },
      ...(tracing && { tracing: tracing.upstream }),
    }),
  );

  let draining = false;

  const router = new Router();
  router.get('/healthz', healthz());
  router.get('/readyz', readyz({ probes: { database, upstream }, isDraining: () => draining }));
  router.get('/metrics', metricsEndpoint(options.metricsSource?.(metrics) ?? (() => metrics.render())));
  // Answered from the database (the replica when there is a fresh one), ahead of the proxy.
  router.get(OPENAPI_ROUTE, openApiRoute());
  router.get(MODELS_ROUTE, modelsRoute({ db, logger, ...(readDb !== undefined && { readDb }) }));
  router.all(AI_ROUTE, ...aiRoute);
  const inference = chain(aiRoute);

  const app = new Koa();
  if (tracing) app.use(tracing.exchange);
  // Once, before anything else: every error of the request, the gateway's own included, speaks it.
  app.use(decideDialect());
  // requestId(), securityHeaders(), accessLog() and errorResponses(), as one layer.
  app.use(exchangeFront({ logger }));
  // The inference traffic skips the router, which would test every route's pattern and compose a
  // chain per request: a POST under /ai/v1 is always the AI route (the router's only other route
  // there, the model list, takes GET and HEAD). Every other request is routed as before.
  app.use(function inferenceRoute(ctx, next) {
    if (ctx.method === 'POST' && isUnderAiRoute(ctx.path)) return inference(ctx, next);
    return next();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.on('error', (error: Error & { code?: string }, ctx?: Koa.Context) => {
    const fields = { requestId: ctx?.state.requestId, err: describeError(error) };
    if (error.code !== undefined && CLIENT_GONE.has(error.code)) logger.debug(fields, 'client went away');
    else logger.error({ ...fields, stack: stackFrames(error) }, 'request failed');
  });

  return Object.assign(app, {
    metrics,
    close: () => pool.close(),
    destroy: () => pool.destroy(),
    startDraining: () => {
      draining = true;
    },
  });
}
