/*
 * Nothing secret reaches the logs: not a key, not its digest, not a database password, not the
 * SQL of a failed diagnosis; and a failure is logged by its code (SQLSTATE, ECONNREFUSED).
 */
import { createHash } from 'node:crypto';
import { openDatabase } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, closedAddress, MODEL, scriptedUpstream, seedWorld, send, startGateway, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('no secret in a log');

const upstream = await scriptedUpstream();
upstream.respondWith((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end(FORBIDDEN_BODY));

function capturingLogger() {
  let output = '';
  const logger = pino(
    { level: 'trace' },
    {
      write: (line: string) => {
        output += line;
      },
    },
  );
  return { logger, output: () => output };
}

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/** Fails naming the first secret found in `output`. */
function assertClean(output: string, secrets: string[]): void {
  for (const secret of secrets) assert.not.ok(output.includes(secret), `${secret} reached the log:\n${output}`);
  for (const leak of ['Failed query', 'secret_hash', 'params:']) {
    assert.not.ok(output.includes(leak), `"${leak}" reached the log:\n${output}`);
  }
}

const post = (url: string, key: string) =>
  send(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(chat()),
  });

test.after(async () => {
  await upstream?.close();
});

test('a database that goes away mid-traffic is logged by its code, without the key or its digest', async () => {
  const t = await createTestDatabase();
  const { keys } = await seedWorld(t.db);
  const victim = await openDatabase(t.url, { poolSize: 2, connectionTimeoutMs: 1000 });
  const { logger, output } = capturingLogger();
  const gateway = await startGateway(victim.db, upstream.url, { logger, readinessTimeoutMs: 1000 });
  try {
    assert.is((await post(gateway.url, keys.broke)).status, 402, 'enrichment works before the database goes');
    await t.close(); // drops the database, cutting the gateway's connections
    for (const key of Object.values(keys)) assert.is((await post(gateway.url, key)).status, 403);
    await send(`${gateway.url}/readyz`);
    const text = output();
    assertClean(text, [...Object.values(keys), ...Object.values(keys).map(digest)]);
    assert.match(text, /"code":"(57P01|3D000|08P01|ECONNRESET)"/);
  } finally {
    await gateway.close();
    await victim.close();
  }
});

test('a database that cannot be reached is logged as ECONNREFUSED, without its password', async () => {
  const address = await closedAddress();
  const down = await openDatabase(`postgres://app:userinfo-pw@${address}/app?password=query-pw`, {
    connectionTimeoutMs: 500,
  });
  const { logger, output } = capturingLogger();
  const gateway = await startGateway(down.db, upstream.url, { logger, readinessTimeoutMs: 1000 });
  const key = `sk-${'k'.repeat(43)}`;
  try {
    assert.is((await post(gateway.url, key)).status, 403);
    await send(`${gateway.url}/readyz`);
    const text = output();
    assertClean(text, [key, digest(key), 'userinfo-pw', 'query-pw', MODEL]);
    assert.match(text, /"code":"ECONNREFUSED"/);
  } finally {
    await gateway.close();
    await down.close();
  }
});

test('pnpm start masks both kinds of database password in everything it prints', async () => {
  const address = await closedAddress();
  const gateway = startProcess(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    bareEnv({ DATABASE_URL: `postgres://app:userinfo-pw@${address}/app?password=query-pw`, PORT: '0' }),
  );
  try {
    const fatal = await gateway.log('could not open and migrate the database');
    assert.is(fatal.database, `postgres://app:***@${address}/app?password=***`);
    assert.is((fatal.err as { code?: string }).code, 'ECONNREFUSED');
    await within(gateway.exited, 'the process to exit');
    assertClean(JSON.stringify(gateway.logs) + gateway.stderr(), ['userinfo-pw', 'query-pw']);
  } finally {
    gateway.stop();
  }
});

test('the ready line and every line after it mask the passwords of a working DATABASE_URL', async () => {
  const t = await createTestDatabase();
  // The test server trusts loopback connections: the passwords are ignored there, and must not be printed.
  const url = new URL(t.url);
  url.password = 'userinfo-pw';
  url.searchParams.set('password', 'query-pw');
  const gateway = startProcess(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    bareEnv({ DATABASE_URL: url.href, UPSTREAM_URL: upstream.url, PORT: '0', LOG_LEVEL: 'trace' }),
  );
  try {
    const { url: gatewayUrl, pid } = await gateway.ready();
    const ready = gateway.logs.find((line) => line.msg === 'gateway ready');
    assert.match(
      String(ready?.database),
      /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cl_test_\w+\?password=\*\*\*$/,
    );
    await send(`${gatewayUrl}/readyz`);
    await post(gatewayUrl, `sk-${'q'.repeat(43)}`);
    process.kill(pid, 'SIGTERM');
    await within(gateway.exited, 'the process to exit');
    assertClean(JSON.stringify(gateway.logs) + gateway.stderr(), ['userinfo-pw', 'query-pw', `sk-${'q'.repeat(43)}`]);
  } finally {
    gateway.stop();
    await t.close();
  }
});

test.run();
