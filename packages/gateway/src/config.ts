import os from 'node:os';
import path from 'node:path';
import { type DatabaseTarget, DatabaseUrlError, parseDatabaseUrl } from '@control-layer/db';
import { HelpUrlError, type HelpUrls, parseHelpUrls } from '@control-layer/enrichment';

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `pretty`: one readable line per entry, for a terminal; `json`: pino's JSON lines, for log shippers. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Connections per process when DATABASE_POOL_MAX is unset. */
export const DEFAULT_DATABASE_POOL_MAX = 10;
const MAX_WORKERS = 256;
// setTimeout's ceiling: a longer delay would fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/** How a setting is read; `--help` prints its default and bounds from the same entry. */
export type Setting =
  | { kind: 'integer'; fallback: number; min: number; max: number; meaning: string }
  | { kind: 'choice'; values: readonly string[]; fallback: string; meaning: string }
  | { kind: 'text'; fallback: string; bounds: string; meaning: string };

const millis = (fallback: number, meaning: string, min = 1) => ({
  kind: 'integer' as const,
  fallback,
  min,
  max: MAX_TIMER_MS,
  meaning,
});

/**
 * Every environment variable the gateway reads. `loadConfig` can only read names of this table,
 * and `--help` is printed from it, so neither can drift from the other.
 */
export const SETTINGS = {
  PORT: { kind: 'integer', fallback: 3000, min: 0, max: 65535, meaning: 'port to listen on (0 picks a free one)' },
  HOST: { kind: 'text', fallback: '127.0.0.1', bounds: 'a host name or address', meaning: 'address to listen on' },
  DATABASE_URL: {
    kind: 'text',
    fallback: 'embedded PGlite under DATA_DIR',
    bounds: 'postgres://, postgresql:// or pglite:<dir>',
    meaning: 'the database; unset, an embedded one with demo users and keys',
  },
  DATA_DIR: {
    kind: 'text',
    fallback: './.data',
    bounds: 'a directory',
    meaning: 'where the embedded database lives (as <dir>/pglite) when DATABASE_URL is unset',
  },
  INIT_CWD: {
    kind: 'text',
    fallback: 'the working directory',
    bounds: 'a directory (pnpm sets it)',
    meaning: 'base of relative paths: where `pnpm start` was typed',
  },
  UPSTREAM_URL: {
    kind: 'text',
    fallback: 'built-in stub',
    bounds: 'an http(s) URL without query or credentials',
    meaning: 'the OpenAI-compatible router; /ai/v1/x goes to <UPSTREAM_URL>/v1/x',
  },
  ENRICHMENT: {
    kind: 'choice',
    values: ['on', 'off'],
    fallback: 'on',
    meaning: "explain the router's 403s; off makes the gateway a plain proxy",
  },
  ENRICHMENT_HELP_URLS: {
    kind: 'text',
    fallback: 'none',
    bounds: 'a JSON object: denial code -> absolute http(s) URL',
    meaning: 'a page per denial code, sent as error.help_url and a `link: <url>; rel="help"` header',
  },
  LOG_LEVEL: { kind: 'choice', values: LOG_LEVELS, fallback: 'info', meaning: 'least severe level logged' },
  LOG_FORMAT: {
    kind: 'choice',
    values: LOG_FORMATS,
    fallback: 'pretty on a terminal, else json',
    meaning: 'log lines for people or for log shippers (the same fields)',
  },
  MAX_BODY_BYTES: {
    kind: 'integer',
    fallback: 10 * 1024 * 1024,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    meaning: 'larger request bodies get 413 request_too_large',
  },
  UPSTREAM_CONNECT_TIMEOUT_MS: millis(10_000, 'time to connect to the upstream (504 past it)'),
  // Non-streamed completions can take minutes before the first header byte.
  UPSTREAM_HEADERS_TIMEOUT_MS: millis(300_000, "time to wait for the upstream's response headers (504 past it)"),
  UPSTREAM_BODY_TIMEOUT_MS: millis(300_000, 'longest silence inside an upstream response body'),
  SHUTDOWN_TIMEOUT_MS: millis(10_000, 'how long SIGTERM/SIGINT lets in-flight requests finish'),
  // 0: close at once. Set it to how long the load balancer takes to notice a failing /readyz.
  SHUTDOWN_DELAY_MS: millis(0, 'how long after SIGTERM/SIGINT the listener stays open while /readyz says 503', 0),
  WORKERS: {
    kind: 'text',
    fallback: '1',
    bounds: `auto, or an integer from 1 to ${MAX_WORKERS}`,
    meaning: 'processes serving the port (above 1 needs DATABASE_URL)',
  },
  DATABASE_POOL_MAX: {
    kind: 'integer',
    fallback: DEFAULT_DATABASE_POOL_MAX,
    min: 1,
    max: 1000,
    meaning: 'connections each process may open to the database (and as many to the replica)',
  },
  DATABASE_PREPARED_STATEMENTS: {
    kind: 'choice',
    values: ['on', 'off'],
    fallback: 'off',
    meaning: 'prepare statements per connection (breaks behind PgBouncer < 1.21 in transaction mode)',
  },
  DATABASE_REPLICA_URL: {
    kind: 'text',
    fallback: 'none',
    bounds: 'a postgres:// or postgresql:// URL (needs DATABASE_URL)',
    meaning: 'a streaming replica for diagnoses',
  },
  DATABASE_REPLICA_MAX_LAG_MS: millis(1000, 'replay lag past which diagnoses go back to the primary'),
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    kind: 'text',
    fallback: 'none (no tracing)',
    bounds: 'an http(s) URL; traces go to <url>/v1/traces as OTLP/HTTP JSON',
    meaning: 'export traces: the request, the upstream call and the diagnosis',
  },
  OTEL_SERVICE_NAME: {
    kind: 'text',
    fallback: 'control-layer-gateway',
    bounds: 'any text',
    meaning: 'service.name of the exported spans',
  },
} as const satisfies Record<string, Setting>;
export type SettingName = keyof typeof SETTINGS;

/**
 * Where the gateway's data lives: a Postgres server, or PGlite embedded in the process (`dataDir`
 * is the PGlite data directory itself).
 */
export type DatabaseConfig = DatabaseTarget;

/** Exporting traces over OTLP/HTTP. */
export interface TracingConfig {
  /** Where spans are POSTed: `${OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`. */
  tracesUrl: string;
  serviceName: string;
}

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
  logFormat: LogFormat;
  /** Whether error enrichment is mounted on `/ai/v1/*`. */
  enrichment: boolean;
  /** A help page per denial code (empty: none). */
  helpUrls: Readonly<HelpUrls>;
  maxBodyBytes: number;
  upstreamConnectTimeoutMs: number;
  upstreamHeadersTimeoutMs: number;
  upstreamBodyTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Processes serving the port: 1 runs in this process, more run a node:cluster primary and workers. */
  workers: number;
  /** Connections each process's pool may open to the database (and as many to a replica). */
  databasePoolMax: number;
  /** Named prepared statements (off: they break behind PgBouncer < 1.21 in transaction mode). */
  databasePreparedStatements: boolean;
  /** A streaming replica for diagnoses (null: everything on the primary). */
  databaseReplicaUrl: string | null;
  /** Replay lag past which diagnoses go back to the primary, in ms. */
  databaseReplicaMaxLagMs: number;
  /** Time between SIGTERM/SIGINT and closing the listener, while `/readyz` already answers 503. */
  shutdownDelayMs: number;
  /** Null: no tracing, and the OpenTelemetry SDK is never loaded. */
  tracing: TracingConfig | null;
}

/** The environment was not usable; `problems` names each variable at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;
type IntegerSetting = { [K in SettingName]: (typeof SETTINGS)[K] extends { kind: 'integer' } ? K : never }[SettingName];
type ChoiceSetting = { [K in SettingName]: (typeof SETTINGS)[K] extends { kind: 'choice' } ? K : never }[SettingName];

/**
 * Parse the gateway's environment. Every problem is collected, so one run names all of them.
 * `stdoutIsTTY` picks the default log format.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError listing what is wrong
 */
export function loadConfig(
  env: Env = process.env,
  cwd = process.cwd(),
  stdoutIsTTY = process.stdout.isTTY === true,
): GatewayConfig {
  const problems: string[] = [];
  const read = (name: SettingName): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const integer = (name: IntegerSetting): number => {
    const { fallback, min, max } = SETTINGS[name];
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };
  /** A value of the setting's closed list (case-insensitive), or undefined when unset or wrong. */
  const choice = (name: ChoiceSetting): string | undefined => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return undefined;
    const { values } = SETTINGS[name];
    if ((values as readonly string[]).includes(raw)) return raw;
    const list = values.length === 2 ? values.join(' or ') : `one of ${values.join(', ')}`;
    problems.push(`${name} must be ${list}, got ${JSON.stringify(raw)}`);
    return undefined;
  };
  const onOff = (name: 'ENRICHMENT' | 'DATABASE_PREPARED_STATEMENTS'): boolean =>
    (choice(name) ?? SETTINGS[name].fallback) === 'on';

  const port = integer('PORT');
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

  const workers = parseWorkers(read('WORKERS'), problems);
  if (workers > 1 && database.kind === 'embedded') {
    problems.push(
      'WORKERS above 1 needs DATABASE_URL: the embedded database can be opened by one process only ' +
        '(set DATABASE_URL to a Postgres server, or WORKERS=1)',
    );
  }

  const upstreamUrl = parseHttpUrl('UPSTREAM_URL', read('UPSTREAM_URL'), problems);

  const replicaUrl = read('DATABASE_REPLICA_URL') ?? null;
  if (replicaUrl !== null && !isPostgresUrl(replicaUrl)) {
    // The value is not repeated: like DATABASE_URL, it may hold a password.
    problems.push('DATABASE_REPLICA_URL must be a postgres:// or postgresql:// URL');
  } else if (replicaUrl !== null && database.kind === 'embedded') {
    problems.push('DATABASE_REPLICA_URL needs DATABASE_URL: the embedded database has no replicas');
  }

  const otlpEndpoint = parseHttpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', read('OTEL_EXPORTER_OTLP_ENDPOINT'), problems);

  const config: GatewayConfig = {
    port,
    host: read('HOST') ?? SETTINGS.HOST.fallback,
    database,
    demoData: databaseUrl === undefined,
    upstreamUrl,
    logLevel: (choice('LOG_LEVEL') ?? SETTINGS.LOG_LEVEL.fallback) as LogLevel,
    logFormat: (choice('LOG_FORMAT') ?? (stdoutIsTTY ? 'pretty' : 'json')) as LogFormat,
    enrichment: onOff('ENRICHMENT'),
    helpUrls: parseHelpUrlsVariable(read('ENRICHMENT_HELP_URLS'), problems),
    maxBodyBytes: integer('MAX_BODY_BYTES'),
    upstreamConnectTimeoutMs: integer('UPSTREAM_CONNECT_TIMEOUT_MS'),
    upstreamHeadersTimeoutMs: integer('UPSTREAM_HEADERS_TIMEOUT_MS'),
    upstreamBodyTimeoutMs: integer('UPSTREAM_BODY_TIMEOUT_MS'),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS'),
    workers,
    databasePoolMax: integer('DATABASE_POOL_MAX'),
    databasePreparedStatements: onOff('DATABASE_PREPARED_STATEMENTS'),
    databaseReplicaUrl: replicaUrl,
    databaseReplicaMaxLagMs: integer('DATABASE_REPLICA_MAX_LAG_MS'),
    shutdownDelayMs: integer('SHUTDOWN_DELAY_MS'),
    tracing:
      otlpEndpoint === null
        ? null
        : {
            // The OTLP/HTTP specification's path for traces under a base endpoint.
            tracesUrl: `${otlpEndpoint}/v1/traces`,
            serviceName: read('OTEL_SERVICE_NAME') ?? SETTINGS.OTEL_SERVICE_NAME.fallback,
          },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** A replica is always a server: read with the DATABASE_URL parser, and only its postgres form. */
function isPostgresUrl(value: string): boolean {
  try {
    return parseDatabaseUrl(value).kind === 'postgres';
  } catch (error) {
    if (error instanceof DatabaseUrlError) return false;
    throw error;
  }
}

/** `WORKERS`: a count, or `auto` for the parallelism this process may use (cores, or its CPU quota). */
function parseWorkers(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return 1;
  if (raw.toLowerCase() === 'auto') return Math.min(os.availableParallelism(), MAX_WORKERS);
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_WORKERS) {
    problems.push(`WORKERS must be auto or an integer from 1 to ${MAX_WORKERS}, got ${JSON.stringify(raw)}`);
    return 1;
  }
  return value;
}

/** `ENRICHMENT_HELP_URLS`: JSON of the `helpUrls` option, checked the same way. */
function parseHelpUrlsVariable(raw: string | undefined, problems: string[]): Readonly<HelpUrls> {
  if (raw === undefined) return {};
  let map: unknown;
  try {
    map = JSON.parse(raw);
  } catch {
    problems.push('ENRICHMENT_HELP_URLS must be JSON, e.g. {"insufficient_credits":"https://example.com/billing"}');
    return {};
  }
  try {
    return parseHelpUrls(map, 'ENRICHMENT_HELP_URLS');
  } catch (error) {
    if (!(error instanceof HelpUrlError)) throw error;
    problems.push(error.message);
    return {};
  }
}

/** An absolute http(s) base URL without query, fragment or credentials, trailing slashes removed. */
function parseHttpUrl(name: SettingName, raw: string | undefined, problems: string[]): string | null {
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${name} must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${name} must use http or https, got ${url.protocol}`);
  } else if (url.search || url.hash || url.username || url.password) {
    problems.push(`${name} must not carry a query, a fragment or credentials`);
  }
  // `/ai/v1/x` goes to `${UPSTREAM_URL}/v1/x`, so a trailing slash would double up.
  return url.href.replace(/\/+$/, '');
}
