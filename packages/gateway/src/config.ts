import path from 'node:path';
import { type DatabaseTarget, DatabaseUrlError, parseDatabaseUrl } from '@control-layer/db';

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Where the gateway's data lives: a Postgres server, or PGlite embedded in the process (`dataDir`
 * is the PGlite data directory itself).
 */
export type DatabaseConfig = DatabaseTarget;

/** Everything `pnpm start` reads from the environment, parsed and checked once. */
export interface GatewayConfig {
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Seed the demo users and keys: only on the default embedded database (DATABASE_URL unset). */
  demoData: boolean;
  /** The OpenAI-compatible router; null starts the built-in stub upstream. */
  upstreamUrl: string | null;
  logLevel: LogLevel;
  /** Whether error enrichment is mounted on `/ai/v1/*`. */
  enrichment: boolean;
  maxBodyBytes: number;
  upstreamConnectTimeoutMs: number;
  upstreamHeadersTimeoutMs: number;
  upstreamBodyTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Time between SIGTERM/SIGINT and closing the listener, while `/readyz` already answers 503. */
  shutdownDelayMs: number;
}

/** The environment was not usable; `problems` names each variable at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

type Env = Record<string, string | undefined>;

/**
 * Parse the gateway's environment. Every problem is collected, so one run names all of them.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError listing what is wrong
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): GatewayConfig {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };
  // setTimeout's ceiling: a longer delay would fire at once.
  const millis = (name: string, fallback: number) => integer(name, fallback, 1, 2_147_483_647);

  const port = integer('PORT', 3000, 0, 65535);
  const databaseUrl = read('DATABASE_URL');
  // `pnpm start` at the root runs this package's script from packages/gateway; INIT_CWD is
  // where the user typed the command, which is where they expect `./.data` to appear.
  const base = read('INIT_CWD') ?? cwd;
  let database: DatabaseConfig = {
    kind: 'embedded',
    dataDir: path.resolve(base, read('DATA_DIR') ?? '.data', 'pglite'),
  };
  if (databaseUrl !== undefined) {
    try {
      database = parseDatabaseUrl(databaseUrl, base);
    } catch (error) {
      if (!(error instanceof DatabaseUrlError)) throw error;
      problems.push(error.message);
    }
  }

  const upstreamUrl = parseUpstreamUrl(read('UPSTREAM_URL'), problems);

  const logLevel = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!isLogLevel(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }

  const enrichmentRaw = (read('ENRICHMENT') ?? 'on').toLowerCase();
  if (!['on', 'off'].includes(enrichmentRaw)) {
    problems.push(`ENRICHMENT must be on or off, got ${JSON.stringify(enrichmentRaw)}`);
  }

  const config: GatewayConfig = {
    port,
    host: read('HOST') ?? '127.0.0.1',
    database,
    demoData: databaseUrl === undefined,
    upstreamUrl,
    logLevel: isLogLevel(logLevel) ? logLevel : 'info',
    enrichment: enrichmentRaw !== 'off',
    maxBodyBytes: integer('MAX_BODY_BYTES', 10 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    upstreamConnectTimeoutMs: millis('UPSTREAM_CONNECT_TIMEOUT_MS', 10_000),
    // Non-streamed completions can take minutes before the first header byte.
    upstreamHeadersTimeoutMs: millis('UPSTREAM_HEADERS_TIMEOUT_MS', 300_000),
    upstreamBodyTimeoutMs: millis('UPSTREAM_BODY_TIMEOUT_MS', 300_000),
    shutdownTimeoutMs: millis('SHUTDOWN_TIMEOUT_MS', 10_000),
    // 0: close at once. Set it to how long the load balancer takes to notice a failing /readyz.
    shutdownDelayMs: integer('SHUTDOWN_DELAY_MS', 0, 0, 2_147_483_647),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseUpstreamUrl(raw: string | undefined, problems: string[]): string | null {
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`UPSTREAM_URL must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`UPSTREAM_URL must use http or https, got ${url.protocol}`);
  } else if (url.search || url.hash || url.username || url.password) {
    problems.push('UPSTREAM_URL must not carry a query, a fragment or credentials');
  }
  // `/ai/v1/x` goes to `${UPSTREAM_URL}/v1/x`, so a trailing slash would double up.
  return url.href.replace(/\/+$/, '');
}
