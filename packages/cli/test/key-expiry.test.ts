/*
 * Keys that expire, and a deleted user's keys, as the admin tool sets them: each command in a
 * fresh process against a real Postgres, checked through the gateway and the stub router that
 * read the same database.
 */
import { openDatabase } from '@control-layer/db';
import { createGateway, createStubUpstream, listen } from '@control-layer/gateway';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused, buildOnce, cliWith, emptyDatabase } from './run-cli.ts';

const test = suite('control-layer key expiry');

buildOnce();
const database = await emptyDatabase();
const env = { DATABASE_URL: database.url };
const closers: (() => Promise<unknown>)[] = [];

test.after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await database?.close();
});

const { cli, json } = cliWith(env);
let gatewayUrl = '';

async function ask(key: string) {
  const response = await fetch(`${gatewayUrl}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await response.text();
  const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
  return { status: response.status, code: body.error?.code, message: body.error?.message, text };
}

const keysOf = (user: string) => json<{ id: string; expiresAt: string | null }[]>(['keys', 'list', user]);

test('sets up a user on a paid model, with the gateway and the stub router', async () => {
  await json(['migrate']);
  await json(['users', 'create', 'ida']);
  await json(['users', 'create', 'gus']);
  await json(['endpoints', 'create', 'local', 'http://127.0.0.1:9/v1']);
  await json(['models', 'create', 'chat', '--endpoint', 'local']);
  await json(['models', 'tariff', 'chat', '--input', '0.001', '--output', '0.002']);
  await json(['groups', 'grant', 'Everyone', 'chat']);
  await json(['credits', 'grant', 'ida', '100']);
  await json(['credits', 'grant', 'gus', '100']);
  const { db, close } = await openDatabase(database.url, { poolSize: 4 });
  closers.push(close);
  const stub = await listen(createStubUpstream({ db }), 0, '127.0.0.1');
  closers.push(() => new Promise((resolve) => stub.server.close(resolve)));
  const gateway = createGateway({ db, upstreamUrl: stub.url });
  const front = await listen(gateway, 0, '127.0.0.1');
  closers.push(async () => {
    front.server.closeAllConnections();
    await new Promise((resolve) => front.server.close(resolve));
    await gateway.close();
  });
  gatewayUrl = front.url;
});

test('refuses a malformed or past expiry at creation, and writes nothing', async () => {
  for (const [args, reason] of [
    [['--expires-in', '30'], /bad --expires-in "30": expected a whole number of days, hours or minutes/],
    [['--expires-in', '0d'], /bad --expires-in "0d"/],
    [['--expires-at', 'tomorrow'], /bad --expires-at "tomorrow": expected an RFC 3339 time/],
    [['--expires-at', '2099-02-30T00:00:00Z'], /bad --expires-at "2099-02-30T00:00:00Z"/],
    [['--expires-at', '2020-01-01T00:00:00Z'], /--expires-at 2020-01-01T00:00:00Z is not in the future/],
    [['--expires-in', '1d', '--expires-at', '2099-01-01T00:00:00Z'], /cannot be used with option/],
  ] as const) {
    assertRefused(await cli(['keys', 'create', 'ida', ...args]), reason);
  }
  assert.equal(await keysOf('ida'), []);
});

test('creates keys that expire after a span or at a time, and lists each expiry', async () => {
  const before = Date.now();
  const spanned = await json<{ id: string; secret: string; expiresAt: string }>([
    'keys',
    'create',
    'ida',
    '--expires-in',
    '12h',
  ]);
  const twelveHours = 12 * 3600 * 1000;
  const at = Date.parse(spanned.expiresAt);
  assert.ok(at >= before + twelveHours - 5000 && at <= Date.now() + twelveHours + 5000, spanned.expiresAt);
  const dated = await json<{ id: string; expiresAt: string }>([
    'keys',
    'create',
    'ida',
    '--expires-at',
    '2099-06-01T12:00:00+02:00',
  ]);
  assert.is(dated.expiresAt, '2099-06-01T10:00:00.000Z');
  const forever = await json<{ id: string; expiresAt: null }>(['keys', 'create', 'ida']);
  assert.is(forever.expiresAt, null);
  const listed = await keysOf('ida');
  assert.equal(
    listed.map((k) => k.expiresAt),
    [spanned.expiresAt, dated.expiresAt, null],
  );
  const table = await cli(['keys', 'list', 'ida']);
  assert.match(table.stdout, /EXPIRES/);
  assert.match(table.stdout, /2099-06-01T10:00:00Z/);
  assert.match(table.stdout, /never/);
  assert.is((await ask(spanned.secret)).status, 200);
});

test('expires a key now or at a given time: the next request is told it expired and nothing is charged', async () => {
  const key = await json<{ id: string; secret: string }>(['keys', 'create', 'ida', '--name', 'nightly']);
  assert.is((await ask(key.secret)).status, 200);
  const later = await json<{ expiresAt: string; expired: boolean }>([
    'keys',
    'expire',
    key.id,
    '--at',
    '2099-01-01T00:00:00Z',
  ]);
  assert.equal(later, { id: key.id, expiresAt: '2099-01-01T00:00:00.000Z', expired: false });
  assert.is((await ask(key.secret)).status, 200);
  const now = await json<{ expiresAt: string; expired: boolean }>(['keys', 'expire', key.id]);
  assert.is(now.expired, true);
  const balance = await json<{ balance: string }>(['balance', 'ida']);
  const refused = await ask(key.secret);
  assert.is(refused.status, 401);
  assert.is(refused.code, 'api_key_expired');
  assert.is(
    refused.message,
    `API key 'nightly' expired at ${now.expiresAt.replace(/\.\d{3}Z$/, 'Z')}. Create a new key to continue.`,
  );
  assert.not.ok(refused.text.includes(key.secret));
  assert.equal(await json(['balance', 'ida']), balance);
  assertRefused(await cli(['keys', 'expire', key.id, '--at', 'soon']), /bad --at "soon"/);
  assertRefused(await cli(['keys', 'expire', '00000000-0000-4000-8000-000000000000']), /unknown or revoked key/);
  // Backdated: expired from that time on, as the router and the diagnosis read it.
  const backdated = await json<{ expired: boolean }>(['keys', 'expire', key.id, '--at', '2001-02-03T04:05:06Z']);
  assert.is(backdated.expired, true);
  assert.match((await ask(key.secret)).message ?? '', /expired at 2001-02-03T04:05:06Z\./);
});

test("users delete stops the user's keys: refused as unknown, nothing charged", async () => {
  const key = await json<{ id: string; secret: string }>(['keys', 'create', 'gus']);
  assert.is((await ask(key.secret)).status, 200);
  const balance = await json(['balance', 'gus']);
  await json(['users', 'delete', 'gus']);
  const refused = await ask(key.secret);
  assert.is(refused.status, 403);
  assert.is(refused.code, 'forbidden');
  assert.equal(await json(['balance', 'gus']), balance);
});

test.run();
