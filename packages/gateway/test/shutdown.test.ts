/*
 * `src/main.ts` as a process against Postgres and a scripted upstream: graceful shutdown, and the
 * ways start-up refuses to run.
 */
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closedAddress, gate, scriptedUpstream, send, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('shutdown and start-up');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const started: ReturnType<typeof startProcess>[] = [];

test.after(async () => {
  for (const gateway of started) gateway.stop();
  await upstream?.close();
  await t?.close();
});

function startMain(env: Record<string, string>) {
  const gateway = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], bareEnv(env));
  started.push(gateway);
  return gateway;
}

const withPostgres = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  UPSTREAM_URL: upstream.url,
  PORT: '0',
  ...extra,
});

test('drains an in-flight request on SIGTERM while refusing new connections, then exits 0', async () => {
  const arrived = gate();
  const release = gate();
  upstream.respondWith((_req, res) => {
    arrived.open();
    void release.promise.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}'));
  });
  const gateway = startMain(withPostgres());
  const { url, pid } = await gateway.ready();

  const inFlight = send(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"model":"m"}',
  });
  // Should an assertion below fail first, this must not surface as an unhandled rejection.
  inFlight.catch(() => {});
  await within(arrived.promise, 'the request to reach the upstream');
  process.kill(pid, 'SIGTERM');
  await gateway.log('shutting down: no new connections, draining');

  const refused = await rejection(() => send(`${url}/healthz`));
  assert.is((refused as { code?: string }).code, 'ECONNREFUSED');

  release.open();
  const response = await within(inFlight, 'the in-flight response');
  assert.is(response.status, 200);
  assert.is(response.body.toString(), '{"late":true}');
  assert.equal(await within(gateway.exited, 'the process to exit'), { code: 0, signal: null });
  assert.is((await gateway.log('stopped')).drained, true);
});

test('fails readiness at SIGTERM while still accepting for SHUTDOWN_DELAY_MS, then drains and exits 0', async () => {
  upstream.respondWith((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  const gateway = startMain(withPostgres({ SHUTDOWN_DELAY_MS: '1500' }));
  const { url, pid } = await gateway.ready();
  assert.is((await send(`${url}/readyz`)).status, 200);
  process.kill(pid, 'SIGTERM');
  await gateway.log('draining: /readyz answers 503, still accepting');
  const readiness = await send(`${url}/readyz`);
  assert.is(readiness.status, 503);
  assert.is(JSON.parse(readiness.body.toString()).status, 'draining');
  const served = await send(`${url}/ai/v1/files`);
  assert.is(served.status, 200, 'still serving while draining');
  await gateway.log('shutting down: no new connections, draining');
  assert.equal(await within(gateway.exited, 'the process to exit'), { code: 0, signal: null });
});

test('cuts a request that outlasts the shutdown timeout, and still exits', async () => {
  const arrived = gate();
  upstream.respondWith(() => arrived.open());
  const gateway = startMain(withPostgres({ SHUTDOWN_TIMEOUT_MS: '300' }));
  const { url, pid } = await gateway.ready();
  const inFlight = rejection(() => send(`${url}/ai/v1/files`));
  await within(arrived.promise, 'the request to reach the upstream');
  process.kill(pid, 'SIGTERM');
  const cut = (await within(inFlight, 'the request to be cut')) as { code?: string };
  assert.is(cut.code, 'ECONNRESET');
  assert.equal(await within(gateway.exited, 'the process to exit'), { code: 0, signal: null });
  assert.is((await gateway.log('stopped')).drained, false);
});

test('refuses to start with invalid configuration, naming each problem', async () => {
  const gateway = startMain({ PORT: 'http', ENRICHMENT: 'maybe' });
  assert.equal(await within(gateway.exited, 'the process to exit'), { code: 2, signal: null });
  assert.match(gateway.stderr(), /PORT must be an integer/);
  assert.match(gateway.stderr(), /ENRICHMENT must be on or off/);
});

test('refuses to start when the database cannot be reached, and says why', async () => {
  const address = await closedAddress();
  const gateway = startMain({ DATABASE_URL: `postgres://app:s3cret@${address}/app`, PORT: '0' });
  const fatal = await gateway.log('could not open and migrate the database');
  assert.match(JSON.stringify(fatal.err), /ECONNREFUSED/);
  assert.is(fatal.database, `postgres://app:***@${address}/app`);
  assert.equal(await within(gateway.exited, 'the process to exit'), { code: 1, signal: null });
});

test.run();
