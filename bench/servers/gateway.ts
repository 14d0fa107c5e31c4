/**
 * The gateway as `pnpm start` builds it (configuration parsed by its own `loadConfig`, so
 * `ENRICHMENT=off` and `MAX_BODY_BYTES` mean what they mean there), plus what only a benchmark
 * needs, outside the product: a Drizzle logger that counts SQL statements, and `GET /__bench/stats`
 * with that count, the enrichment counters and the process's memory (`?gc=1`: after a full
 * collection, when started with --expose-gc).
 * `BENCH_LOG_FILE=<path>` logs as `pnpm start` does with `LOG_FORMAT=json` (pino's JSON lines, an
 * access line per request at the default `LOG_LEVEL=info`), into that file rather than stdout.
 * It runs the gateway as `pnpm start` does, compiled (bench/lib/gateway.ts builds it and starts this
 * file with `--conditions=@control-layer/compiled`, so the workspace packages resolve to `dist/`).
 * Usage: DATABASE_URL=postgres://… UPSTREAM_URL=http://… gateway.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openDatabase } from '@control-layer/db';
import { PASS_THROUGH_REASONS } from '@control-layer/enrichment';
import { createGateway, type GatewayLogger, LOG_LEVELS, loadConfig } from '@control-layer/gateway';
import { pino } from 'pino';

const config = loadConfig({ PORT: '0', ...process.env });
if (config.database.kind !== 'postgres' || config.upstreamUrl === null) {
  console.error('usage: DATABASE_URL=postgres://… UPSTREAM_URL=http://… gateway.ts');
  process.exit(2);
}

/** What `GET /__bench/stats` answers. */
export interface GatewayBenchStats {
  statements: number;
  enriched: number;
  passThrough: Record<string, number>;
  memory: NodeJS.MemoryUsage;
}

/**
 * Warnings and errors as JSON lines on stderr, as pino would write them; below `LOG_LEVEL`, nothing.
 * The benchmarks run at `warn`: an access line per request would measure the log pipe.
 */
function stderrLogger(level: string): GatewayLogger {
  const rank = (name: string) => LOG_LEVELS.indexOf(name as (typeof LOG_LEVELS)[number]);
  const write = (name: string) => (fields: object, msg: string) => {
    // Requests cut by the benchmark stopping this process are expected, not worth a line.
    if (stopping || level === 'silent' || rank(name) > rank(level)) return;
    console.error(JSON.stringify({ level: name, msg, ...fields }));
  };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    // As pino answers it, so the gateway skips building lines nobody writes.
    isLevelEnabled: (name: string) => level !== 'silent' && rank(name) <= rank(level),
  };
}

let stopping = false;
let statements = 0;
const { db, close } = await openDatabase(config.database.url, {
  poolSize: config.databasePoolMax,
  preparedStatements: config.databasePreparedStatements,
  logger: {
    logQuery: () => {
      statements++;
    },
  },
});
// As main.ts does: the OpenTelemetry SDK only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = config.tracing
  ? (await import('../../packages/gateway/src/tracing.ts')).startTracing(config.tracing)
  : null;
const gateway = createGateway({
  db,
  upstreamUrl: config.upstreamUrl,
  enrichment: config.enrichment,
  maxBodyBytes: config.maxBodyBytes,
  upstreamConnectTimeoutMs: config.upstreamConnectTimeoutMs,
  upstreamHeadersTimeoutMs: config.upstreamHeadersTimeoutMs,
  upstreamBodyTimeoutMs: config.upstreamBodyTimeoutMs,
  logger: process.env.BENCH_LOG_FILE
    ? // createLogger's JSON settings, with a file for stdout (which carries LISTENING to the bench).
      pino(
        { level: config.logLevel, serializers: { err: (value: unknown) => value } },
        pino.destination(process.env.BENCH_LOG_FILE),
      )
    : stderrLogger(config.logLevel),
  // Benchmark-only switch, to measure what coalescing saves.
  coalesce: process.env.BENCH_COALESCE !== 'off',
  ...(tracing && { tracing: tracing.hooks }),
});

// Benchmark-only switch, to measure what deciding each request's dialect costs a pass-through.
if (process.env.BENCH_DIALECT === 'off') {
  gateway.middleware = gateway.middleware.filter((middleware) => middleware.name !== 'decideDialect');
}

async function stats(): Promise<GatewayBenchStats> {
  const enriched = (await gateway.metrics.enriched.get()).values;
  const passThrough = (await gateway.metrics.passThrough.get()).values;
  return {
    statements,
    enriched: enriched.reduce((sum, { value }) => sum + value, 0),
    passThrough: Object.fromEntries(
      PASS_THROUGH_REASONS.map((reason) => [
        reason,
        passThrough.find(({ labels }) => labels.reason === reason)?.value ?? 0,
      ]),
    ),
    memory: process.memoryUsage(),
  };
}

const handle = gateway.callback();
const server = createServer((req, res) => {
  if (req.url !== '/__bench/stats' && req.url !== '/__bench/stats?gc=1') return handle(req, res);
  req.resume();
  // With --expose-gc, `?gc=1` reports what is still held, not what is merely not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (req.url.endsWith('?gc=1') && gc) {
    gc();
    gc();
  }
  void stats().then((body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
});
server.listen(config.port, config.host, () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
// A normal exit, so that --cpu-prof and --heap-prof write their profiles.
process.once('SIGTERM', () => {
  stopping = true;
  server.closeAllConnections();
  server.close();
  void gateway
    .destroy()
    .then(close)
    .finally(() => process.exit(0));
});
