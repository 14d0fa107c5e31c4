#!/usr/bin/env -S node --conditions=@control-layer/compiled
/**
 * `pnpm start`: the gateway, configured from the environment (see config.ts). Without
 * DATABASE_URL it runs on an embedded PGlite database with demo data; without UPSTREAM_URL it
 * starts the stub upstream in the same process. SIGTERM or SIGINT drains and stops it. With
 * WORKERS above 1 this process becomes a cluster primary (cluster.ts) and each worker runs this file.
 */
import { existsSync } from 'node:fs';
import type { RequestListener, Server } from 'node:http';
import path from 'node:path';
import { DatabaseLockedError, describeError, describeTarget, migrate, openDatabase } from '@control-layer/db';
import {
  askPrimaryForMetrics,
  clusterMetricsSource,
  isClusterWorker,
  onShutdownSignal,
  reportReady,
  runPrimary,
} from './cluster.ts';
import { helpText, packageVersion, parseArguments } from './command-line.ts';
import { ConfigError, type GatewayConfig, loadConfig } from './config.ts';
import { createGateway } from './create-gateway.ts';
import { demoCurlCommands, seedDemoData } from './demo-data.ts';
import { createLogger } from './logger.ts';
import { openReadDatabase } from './read-database.ts';
import { drain, listen } from './server.ts';
import { startingListener } from './starting.ts';

const command = parseArguments(process.argv.slice(2));
if (command.run === 'help') {
  process.stdout.write(helpText());
  process.exit(0);
}
if (command.run === 'version') {
  process.stdout.write(`${packageVersion()}\n`);
  process.exit(0);
}
if (command.run === 'usage-error') {
  process.stderr.write(
    `gateway: unknown argument ${JSON.stringify(command.arg)}; settings are environment variables (see --help)\n`,
  );
  process.exit(2);
}

let config: GatewayConfig;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`gateway: ${error.message}`);
  process.exit(2);
}

const logger = createLogger({ level: config.logLevel, format: config.logFormat });

// Demo keys are public (they are in this repository): only the zero-setup default gets them.
const demo = config.demoData;
const databaseUrl = config.database;
// Masked by parsing: a password in the user info or in a query parameter is never printed.
const where = describeTarget(config.database);

/** Milliseconds each start-up step took, for the ready line. */
const timings: Record<string, number> = { modules: Math.round(performance.now()) };
async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings[step] = Math.round(performance.now() - started);
  }
}

function failedToListen(error: unknown): never {
  logger.fatal({ host: config.host, port: config.port, err: describeError(error) }, 'could not listen');
  process.exit(1);
}

if (config.workers > 1 && !isClusterWorker()) {
  // The primary serves nothing (its workers share the port through node:cluster), but the port is
  // still checked first: a taken port fails here, before the database is touched, instead of as
  // workers dying one after the other after the migrations ran. Released at once for the workers.
  // The embedded database (and its lock) never gets here: WORKERS above 1 needs DATABASE_URL.
  try {
    const { server } = await listen(() => {}, config.port, config.host);
    await new Promise((resolve) => server.close(resolve));
  } catch (error) {
    failedToListen(error);
  }
  // Migrations run once, here, before any worker opens the database.
  try {
    const once = await openDatabase(databaseUrl, {
      poolSize: 1,
      preparedStatements: config.databasePreparedStatements,
    });
    await migrate(once.db).finally(once.close);
  } catch (error) {
    logger.fatal({ database: where, err: describeError(error) }, 'could not open and migrate the database');
    process.exit(1);
  }
  process.exit(
    await runPrimary({
      workers: config.workers,
      logger,
      // A worker first waits out the shutdown delay (readiness failing), then drains.
      shutdownTimeoutMs: config.shutdownDelayMs + config.shutdownTimeoutMs,
    }),
  );
}

// The port first: a taken port must fail before the database is opened, migrated or seeded (and
// before an embedded one is locked). Meanwhile the probes answer (alive, not ready) and any other
// request waits for the gateway. A cluster worker binds the shared port the same way.
let server: Server;
let url: string;
let startedListener: (listener: RequestListener) => void = () => {};
const gatewayListener = new Promise<RequestListener>((resolve) => {
  startedListener = resolve;
});
try {
  const metrics = isClusterWorker() ? askPrimaryForMetrics() : undefined;
  ({ server, url } = await listen(startingListener(gatewayListener, metrics), config.port, config.host));
} catch (error) {
  failedToListen(error);
}
logger.info({ url, database: where }, 'listening; opening the database');
// PGlite's initdb takes about 12 s, once per data directory: without a word it looks like a hang.
if (config.database.kind === 'embedded' && !existsSync(path.join(config.database.dataDir, 'PG_VERSION'))) {
  logger.info(
    { dataDir: config.database.dataDir },
    'first start: creating the embedded database (about 10-15 s, only this once; later starts take about a second)',
  );
}

let database: Awaited<ReturnType<typeof openDatabase>>;
try {
  database = await timed('database', () =>
    openDatabase(databaseUrl, {
      poolSize: config.databasePoolMax,
      preparedStatements: config.databasePreparedStatements,
      onLockTakeover: ({ dataDir, pid, host, since, reason }) =>
        logger.warn(
          { dataDir, holderPid: pid, holderHost: host, since, reason },
          'took over the embedded database lock of a process that is not alive',
        ),
    }),
  );
  const { db } = database;
  // In a cluster the primary migrated before starting the workers.
  if (!isClusterWorker()) await timed('migrations', () => migrate(db));
  if (demo) await timed('demoData', () => seedDemoData(db));
} catch (error) {
  if (error instanceof DatabaseLockedError) {
    logger.fatal(
      { database: where, holderPid: error.holderPid, err: { message: error.message } },
      'the embedded database is in use',
    );
  } else {
    logger.fatal({ database: where, err: describeError(error) }, 'could not open and migrate the database');
  }
  process.exit(1);
}
const { db } = database;
const reads = await openReadDatabase(db, config, logger);

let stubServer: Server | null = null;
let upstreamUrl = config.upstreamUrl;
if (upstreamUrl === null) {
  // Loaded only when used: its body parser alone is a quarter of the start-up's module loading.
  const { createStubUpstream } = await import('./stub-upstream.ts');
  const stub = await listen(createStubUpstream({ db }), 0, '127.0.0.1');
  stubServer = stub.server;
  upstreamUrl = stub.url;
}

// Loaded only when asked for: without an endpoint none of the OpenTelemetry SDK is imported.
const tracing = config.tracing ? (await import('./tracing.ts')).startTracing(config.tracing) : null;
if (tracing) logger.info({ traces: config.tracing?.tracesUrl }, 'exporting traces');

const gateway = createGateway({
  db,
  upstreamUrl,
  enrichment: config.enrichment,
  helpUrls: config.helpUrls,
  maxBodyBytes: config.maxBodyBytes,
  upstreamConnectTimeoutMs: config.upstreamConnectTimeoutMs,
  upstreamHeadersTimeoutMs: config.upstreamHeadersTimeoutMs,
  upstreamBodyTimeoutMs: config.upstreamBodyTimeoutMs,
  logger,
  ...(isClusterWorker() && { metricsSource: clusterMetricsSource }),
  ...(reads && { readDb: reads.readDb }),
  ...(tracing && { tracing: tracing.hooks }),
});

// From now on requests go straight to the gateway, with no start-up indirection.
const serve = gateway.callback();
server.removeAllListeners('request');
server.on('request', serve);
startedListener(serve);

logger.info(
  {
    url,
    database: where,
    upstream: stubServer ? `built-in stub at ${upstreamUrl}` : upstreamUrl,
    enrichment: config.enrichment,
    startupMs: Math.round(performance.now()),
    timings,
  },
  isClusterWorker() ? 'worker listening' : 'gateway ready',
);
reportReady(url);
if (demo) {
  // For people, not log shippers: plain text on stderr, so it pastes as-is and stdout stays log lines.
  const lines = demoCurlCommands(url).map(({ title, command }) => `# ${title}\n${command}\n`);
  process.stderr.write(`\nDemo data is loaded. Try:\n\n${lines.join('\n')}\n`);
}

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting without waiting');
    process.exit(1);
  }
  stopping = true;
  // Readiness fails first, while the listener is still open, so a load balancer stops sending
  // traffic before connections are refused.
  gateway.startDraining();
  if (config.shutdownDelayMs > 0) {
    logger.info({ signal, delayMs: config.shutdownDelayMs }, 'draining: /readyz answers 503, still accepting');
    await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
  }
  // drain() stops listening before it returns its promise, so this line is only ever read once
  // new connections are refused.
  const draining = drain(server, config.shutdownTimeoutMs);
  logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: no new connections, draining');
  const drained = await draining;
  if (drained) await gateway.close();
  else {
    logger.warn('shutdown timeout reached: in-flight requests were cut');
    await gateway.destroy();
  }
  if (stubServer) await drain(stubServer, 1000);
  // The spans of the last requests, before the process goes.
  await tracing
    ?.shutdown()
    .catch((error: unknown) => logger.warn({ err: describeError(error) }, 'trace export failed'));
  await reads?.close();
  await database.close();
  logger.info({ drained }, 'stopped');
  process.exit(0);
}
onShutdownSignal((signal) => void shutdown(signal));
