import os from 'node:os';
import type { Database } from '@control-layer/db';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, createGateway, type GatewayConfig, loadConfig } from '../src/index.ts';

const test = suite('config');

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env, '/srv/app');
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
};

test('defaults to 127.0.0.1:3000, the embedded database under ./.data, the stub, enrichment on', () => {
  const config = loadConfig({}, '/srv/app', false);
  assert.equal(config, {
    port: 3000,
    host: '127.0.0.1',
    database: { kind: 'embedded', dataDir: '/srv/app/.data/pglite' },
    demoData: true,
    upstreamUrl: null,
    logLevel: 'info',
    logFormat: 'json',
    enrichment: true,
    helpUrls: {},
    maxBodyBytes: 10 * 1024 * 1024,
    upstreamConnectTimeoutMs: 10_000,
    upstreamHeadersTimeoutMs: 300_000,
    upstreamBodyTimeoutMs: 300_000,
    shutdownTimeoutMs: 10_000,
    workers: 1,
    databasePoolMax: 10,
    databasePreparedStatements: false,
    databaseReplicaUrl: null,
    databaseReplicaMaxLagMs: 1000,
    shutdownDelayMs: 0,
    tracing: null,
  } satisfies GatewayConfig);
});

test('reads every variable', () => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://u:p@db:5432/app',
    UPSTREAM_URL: 'https://router.internal:3001/openai/',
    LOG_LEVEL: 'DEBUG',
    ENRICHMENT: 'off',
    MAX_BODY_BYTES: '1024',
    UPSTREAM_CONNECT_TIMEOUT_MS: '1',
    UPSTREAM_HEADERS_TIMEOUT_MS: '2',
    UPSTREAM_BODY_TIMEOUT_MS: '3',
    SHUTDOWN_TIMEOUT_MS: '4',
    WORKERS: '3',
    DATABASE_POOL_MAX: '4',
    DATABASE_PREPARED_STATEMENTS: 'ON',
    DATABASE_REPLICA_URL: 'postgres://u:p@replica:5432/app',
    DATABASE_REPLICA_MAX_LAG_MS: '250',
    SHUTDOWN_DELAY_MS: '5',
    LOG_FORMAT: 'Pretty',
    ENRICHMENT_HELP_URLS: '{"insufficient_credits":"https://billing.example.com/top-up"}',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
    OTEL_SERVICE_NAME: 'gateway-eu',
  });
  assert.equal(config, {
    port: 8080,
    host: '0.0.0.0',
    database: { kind: 'postgres', url: 'postgres://u:p@db:5432/app' },
    demoData: false,
    upstreamUrl: 'https://router.internal:3001/openai',
    logLevel: 'debug',
    logFormat: 'pretty',
    enrichment: false,
    helpUrls: { insufficient_credits: 'https://billing.example.com/top-up' },
    maxBodyBytes: 1024,
    upstreamConnectTimeoutMs: 1,
    upstreamHeadersTimeoutMs: 2,
    upstreamBodyTimeoutMs: 3,
    shutdownTimeoutMs: 4,
    workers: 3,
    databasePoolMax: 4,
    databasePreparedStatements: true,
    databaseReplicaUrl: 'postgres://u:p@replica:5432/app',
    databaseReplicaMaxLagMs: 250,
    shutdownDelayMs: 5,
    tracing: { tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'gateway-eu' },
  });
});

test('WORKERS=auto is the parallelism available to the process', () => {
  const config = loadConfig({ WORKERS: 'Auto', DATABASE_URL: 'postgres://db/app' });
  assert.is(config.workers, os.availableParallelism());
});

test('puts the embedded database where the user ran pnpm (INIT_CWD), or in DATA_DIR', () => {
  const at = (env: Record<string, string>) => loadConfig(env, '/repo/packages/gateway').database;
  assert.equal(at({ INIT_CWD: '/repo' }), { kind: 'embedded', dataDir: '/repo/.data/pglite' });
  assert.equal(at({ INIT_CWD: '/repo', DATA_DIR: 'tmp/demo' }), { kind: 'embedded', dataDir: '/repo/tmp/demo/pglite' });
  assert.equal(at({ DATA_DIR: '/var/lib/gateway' }), { kind: 'embedded', dataDir: '/var/lib/gateway/pglite' });
});

test('reads DATABASE_URL with the parser db:migrate and drizzle-kit use', () => {
  const at = (env: Record<string, string>) => loadConfig(env, '/repo/packages/gateway').database;
  assert.equal(at({ INIT_CWD: '/repo', DATABASE_URL: 'pglite:./x' }), { kind: 'embedded', dataDir: '/repo/x' });
  // Public demo keys only ever go into the zero-setup default, not into a database someone named.
  assert.is(loadConfig({ DATABASE_URL: 'pglite:./x' }).demoData, false);
  assert.equal(at({ DATABASE_URL: 'postgresql://db/app' }), { kind: 'postgres', url: 'postgresql://db/app' });
  const found = problems({ DATABASE_URL: 'localhost:54329/cl' });
  assert.equal(found, [
    'DATABASE_URL has the scheme "localhost:"; it must be a postgres:// or postgresql:// URL, or pglite:<directory> for an embedded database',
  ]);
});

test('treats empty variables as unset', () => {
  assert.is(loadConfig({ PORT: '', DATABASE_URL: ' ', UPSTREAM_URL: '' }).port, 3000);
  assert.is(loadConfig({ DATABASE_URL: '' }).database.kind, 'embedded');
});

const invalid: [string, Record<string, string>, RegExp][] = [
  ['a port that is not a number', { PORT: 'http' }, /^PORT must be an integer from 0 to 65535/],
  ['a port out of range', { PORT: '70000' }, /^PORT/],
  ['a fractional timeout', { UPSTREAM_HEADERS_TIMEOUT_MS: '1.5' }, /^UPSTREAM_HEADERS_TIMEOUT_MS/],
  ['a zero timeout', { SHUTDOWN_TIMEOUT_MS: '0' }, /^SHUTDOWN_TIMEOUT_MS must be an integer from 1/],
  ['a database URL that is not Postgres', { DATABASE_URL: 'mysql://db/app' }, /^DATABASE_URL has the scheme "mysql:"/],
  ['an upstream that is not a URL', { UPSTREAM_URL: 'router:3001' }, /^UPSTREAM_URL must use http or https/],
  ['an upstream without a scheme', { UPSTREAM_URL: '/v1' }, /^UPSTREAM_URL must be an absolute http\(s\) URL/],
  ['an upstream with a query', { UPSTREAM_URL: 'http://r/?a=1' }, /^UPSTREAM_URL must not carry a query/],
  ['an unknown log level', { LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of fatal, error/],
  ['no workers', { WORKERS: '0' }, /^WORKERS must be auto or an integer from 1 to 256/],
  ['a worker count that is not a number', { WORKERS: 'all', DATABASE_URL: 'postgres://db/app' }, /^WORKERS must be/],
  ['several workers on the embedded database', { WORKERS: '2' }, /^WORKERS above 1 needs DATABASE_URL/],
  [
    'several workers on a named embedded database',
    { WORKERS: '2', DATABASE_URL: 'pglite:./x' },
    /^WORKERS above 1 needs DATABASE_URL/,
  ],
  ['a pool of no connections', { DATABASE_POOL_MAX: '0' }, /^DATABASE_POOL_MAX must be an integer from 1 to 1000/],
  [
    'a replica that is not Postgres',
    { DATABASE_URL: 'postgres://db/a', DATABASE_REPLICA_URL: 'http://r' },
    /^DATABASE_REPLICA_URL must be a postgres/,
  ],
  [
    'an embedded replica',
    { DATABASE_URL: 'postgres://db/a', DATABASE_REPLICA_URL: 'pglite:./r' },
    /^DATABASE_REPLICA_URL must be a postgres/,
  ],
  [
    'a replica of the embedded database',
    { DATABASE_REPLICA_URL: 'postgres://r/a' },
    /^DATABASE_REPLICA_URL needs DATABASE_URL/,
  ],
  ['a prepared-statement switch other than on/off', { DATABASE_PREPARED_STATEMENTS: '1' }, /^DATABASE_PREPARED/],
  ['an enrichment switch other than on/off', { ENRICHMENT: 'yes' }, /^ENRICHMENT must be on or off/],
  ['a log format other than pretty/json', { LOG_FORMAT: 'text' }, /^LOG_FORMAT must be pretty or json, got "text"/],
  [
    'help URLs that are not JSON',
    { ENRICHMENT_HELP_URLS: 'insufficient_credits=https://x' },
    /^ENRICHMENT_HELP_URLS must be JSON/,
  ],
  ['help URLs that are a list', { ENRICHMENT_HELP_URLS: '["https://x"]' }, /^ENRICHMENT_HELP_URLS must be an object/],
  [
    'a help URL with a CRLF in it',
    { ENRICHMENT_HELP_URLS: '{"insufficient_credits":"https://x.example/a\\r\\nset-cookie: a=b"}' },
    /^ENRICHMENT_HELP_URLS.insufficient_credits contains a control character/,
  ],
  [
    'a relative help URL',
    { ENRICHMENT_HELP_URLS: '{"model_access_denied":"/request-access"}' },
    /^ENRICHMENT_HELP_URLS.model_access_denied must be an absolute http\(s\) URL, got "\/request-access"/,
  ],
  [
    'an ftp help URL',
    { ENRICHMENT_HELP_URLS: '{"model_access_denied":"ftp://files.example/form"}' },
    /^ENRICHMENT_HELP_URLS.model_access_denied must use http or https, got ftp:/,
  ],
  [
    'a help URL for a code that does not exist',
    { ENRICHMENT_HELP_URLS: '{"insufficient_credit":"https://x.example/billing"}' },
    /^ENRICHMENT_HELP_URLS: "insufficient_credit" is not an error code that enrichment explains \(one of api_key_expired, non_inference_key, /,
  ],
  [
    'a help URL for a code enrichment never writes',
    { ENRICHMENT_HELP_URLS: '{"internal_error":"https://status.example"}' },
    /^ENRICHMENT_HELP_URLS: "internal_error" is not an error code/,
  ],
  ['a help URL that is not a string', { ENRICHMENT_HELP_URLS: '{"insufficient_credits":1}' }, /must be a string URL/],
  [
    'a trace endpoint that is not http',
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c:4317' },
    /^OTEL_EXPORTER_OTLP_ENDPOINT must use http/,
  ],
];
for (const [what, env, message] of invalid) {
  test(`refuses ${what}`, () => {
    const found = problems(env);
    assert.is(found.length, 1, found.join('; '));
    assert.match(found[0] ?? '', message);
  });
}

test('picks pretty logs on a terminal and JSON lines otherwise, unless LOG_FORMAT says', () => {
  assert.is(loadConfig({}, '/srv/app', true).logFormat, 'pretty');
  assert.is(loadConfig({}, '/srv/app', false).logFormat, 'json');
  assert.is(loadConfig({ LOG_FORMAT: 'json' }, '/srv/app', true).logFormat, 'json');
  assert.is(loadConfig({ LOG_FORMAT: 'pretty' }, '/srv/app', false).logFormat, 'pretty');
});

test('keeps help URLs in their serialised form, which is safe inside a link header', () => {
  const { helpUrls } = loadConfig({
    ENRICHMENT_HELP_URLS: JSON.stringify({ model_access_denied: 'https://Example.com/access form?model=<x>' }),
  });
  assert.equal(helpUrls, { model_access_denied: 'https://example.com/access%20form?model=%3Cx%3E' });
});

test('names every problem at once', () => {
  const error = (() => {
    try {
      loadConfig({ PORT: '-1', LOG_LEVEL: 'loud', ENRICHMENT: '2' });
    } catch (caught) {
      return caught as ConfigError;
    }
    throw new Error('expected a ConfigError');
  })();
  assert.is(error.problems.length, 3);
  assert.ok(error.message.startsWith('invalid configuration:\n  - PORT'));
});

test('createGateway refuses options it cannot work with, before it serves anything', () => {
  // Only the shape is checked before the refusal; no query is ever sent.
  const db = { execute: async () => ({ rows: [] }) } as unknown as Database;
  assert.throws(() => createGateway({ db: {} as Database, upstreamUrl: 'http://127.0.0.1:1' }), /`db`/);
  assert.throws(() => createGateway({ db, upstreamUrl: 'router:3001/v1' }), /`upstreamUrl` is not an http\(s\) URL/);
  assert.throws(
    () => createGateway({ db, upstreamUrl: 'http://127.0.0.1:1', upstreamHeadersTimeoutMs: 0 }),
    /`upstreamHeadersTimeoutMs` must be an integer from 1/,
  );
});

test.run();
