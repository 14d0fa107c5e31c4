/**
 * `pnpm start`: the gateway, configured from the environment (see config.ts). Without
 * DATABASE_URL it runs on an embedded PGlite database with demo data; without UPSTREAM_URL it
 * starts the stub upstream in the same process. SIGTERM or SIGINT drains and stops it.
 */
import type { Server } from 'node:http';
import path from 'node:path';
import { migrate, openDatabase } from '@control-layer/db';
import { pino } from 'pino';
import { ConfigError, type GatewayConfig, loadConfig } from './config.ts';
import { createGateway } from './create-gateway.ts';
import { demoCurlCommands, seedDemoData } from './demo-data.ts';
import { drain, listen } from './server.ts';

let config: GatewayConfig;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`gateway: ${error.message}`);
  process.exit(2);
}

const logger = pino({ level: config.logLevel });

/** The innermost cause's message: drivers wrap the reason (ECONNREFUSED, auth failed) deep down. */
function rootMessage(error: unknown): string {
  let root = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root instanceof Error ? root.message || root.name : String(root);
}

const embedded = config.database.kind === 'embedded';
const databaseUrl =
  config.database.kind === 'embedded' ? path.join(config.database.dataDir, 'pglite') : config.database.url;
const where = embedded ? databaseUrl : databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

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

let database: Awaited<ReturnType<typeof openDatabase>>;
try {
  database = await timed('database', () => openDatabase(databaseUrl));
  const { db } = database;
  await timed('migrations', () => migrate(db));
  if (embedded) await timed('demoData', () => seedDemoData(db));
} catch (error) {
  logger.fatal({ database: where, err: rootMessage(error) }, 'could not open and migrate the database');
  process.exit(1);
}
const { db } = database;

let stubServer: Server | null = null;
let upstreamUrl = config.upstreamUrl;
if (upstreamUrl === null) {
  // Loaded only when used: its body parser alone is a quarter of the start-up's module loading.
  const { createStubUpstream } = await import('./stub-upstream.ts');
  const stub = await listen(createStubUpstream({ db }), 0, '127.0.0.1');
  stubServer = stub.server;
  upstreamUrl = stub.url;
}

const gateway = createGateway({
  db,
  upstreamUrl,
  enrichment: config.enrichment,
  maxBodyBytes: config.maxBodyBytes,
  upstreamConnectTimeoutMs: config.upstreamConnectTimeoutMs,
  upstreamHeadersTimeoutMs: config.upstreamHeadersTimeoutMs,
  upstreamBodyTimeoutMs: config.upstreamBodyTimeoutMs,
  logger,
});

let server: Server;
let url: string;
try {
  ({ server, url } = await listen(gateway, config.port, config.host));
} catch (error) {
  logger.fatal({ host: config.host, port: config.port, err: rootMessage(error) }, 'could not listen');
  process.exit(1);
}

logger.info(
  {
    url,
    database: embedded ? `embedded PGlite at ${databaseUrl}` : where,
    upstream: stubServer ? `built-in stub at ${upstreamUrl}` : upstreamUrl,
    enrichment: config.enrichment,
    startupMs: Math.round(performance.now()),
    timings,
  },
  'gateway ready',
);
if (embedded) {
  // For people, not log shippers: plain text on stderr, so it pastes as-is and stdout stays JSON.
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
  await database.close();
  logger.info({ drained }, 'stopped');
  process.exit(0);
}
process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
