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
  const config = loadConfig({}, '/srv/app');
  assert.equal(config, {
    port: 3000,
    host: '127.0.0.1',
    database: { kind: 'embedded', dataDir: '/srv/app/.data/pglite' },
    demoData: true,
    upstreamUrl: null,
    logLevel: 'info',
    enrichment: true,
    maxBodyBytes: 10 * 1024 * 1024,
    upstreamConnectTimeoutMs: 10_000,
    upstreamHeadersTimeoutMs: 300_000,
    upstreamBodyTimeoutMs: 300_000,
    shutdownTimeoutMs: 10_000,
    shutdownDelayMs: 0,
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
    SHUTDOWN_DELAY_MS: '5',
  });
  assert.equal(config, {
    port: 8080,
    host: '0.0.0.0',
    database: { kind: 'postgres', url: 'postgres://u:p@db:5432/app' },
    demoData: false,
    upstreamUrl: 'https://router.internal:3001/openai',
    logLevel: 'debug',
    enrichment: false,
    maxBodyBytes: 1024,
    upstreamConnectTimeoutMs: 1,
    upstreamHeadersTimeoutMs: 2,
    upstreamBodyTimeoutMs: 3,
    shutdownTimeoutMs: 4,
    shutdownDelayMs: 5,
  });
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
  ['an enrichment switch other than on/off', { ENRICHMENT: 'yes' }, /^ENRICHMENT must be on or off/],
];
for (const [what, env, message] of invalid) {
  test(`refuses ${what}`, () => {
    const found = problems(env);
    assert.is(found.length, 1, found.join('; '));
    assert.match(found[0] ?? '', message);
  });
}

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
