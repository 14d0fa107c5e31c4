/*
 * The spending controls of the admin tool (caps, tariffs, feature flags), each command in a fresh
 * process against a real Postgres, checked through the gateway and a router that reads the same
 * database: what the tool sets is what the next request meets.
 */
import { openDatabase } from '@control-layer/db';
import { createGateway, createStubUpstream, listen } from '@control-layer/gateway';
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused, buildOnce, cliWith, emptyDatabase } from './run-cli.ts';

const test = suite('control-layer spending controls');

buildOnce();
const database = await emptyDatabase();
const env = { DATABASE_URL: database.url };
const closers: (() => Promise<unknown>)[] = [];

test.after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await database?.close();
});

const { cli, json } = cliWith(env);

const keys = { dora: { id: '', secret: '' }, erin: { id: '', secret: '' } };
let gatewayUrl = '';

/** One chat completion request through the gateway, as a client sends it. */
async function ask(key: string) {
  const response = await fetch(`${gatewayUrl}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await response.json()) as { error?: Record<string, unknown>; choices?: unknown[] };
  return { status: response.status, code: body.error?.code, error: body.error };
}

test('sets up two users with keys on a model, through the tool', async () => {
  await json(['migrate']);
  for (const user of ['dora', 'erin']) await json(['users', 'create', user]);
  for (const user of ['dora', 'erin'] as const) {
    const key = await json<{ id: string; secret: string }>(['keys', 'create', user]);
    keys[user] = { id: key.id, secret: key.secret };
  }
  await json(['endpoints', 'create', 'local', 'http://127.0.0.1:9/v1']);
  await json(['models', 'create', 'chat', '--endpoint', 'local']);
  await json(['groups', 'grant', 'Everyone', 'chat']);
  await json(['credits', 'grant', 'dora', '1']);
  await json(['credits', 'charge', 'dora', '2']); // balance -1
  await json(['credits', 'grant', 'erin', '100']);

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

test('a tariff makes a model paid, the exempt flag lifts the 402, ending the tariff frees it', async () => {
  // No tariff: a free model, which the router serves whatever the balance.
  assert.is((await ask(keys.dora.secret)).status, 200);

  const tariff = await json(['models', 'tariff', 'chat', '--input', '0.001', '--output', '0.002']);
  assert.equal(
    { ...tariff, validFrom: typeof tariff.validFrom },
    { model: 'chat', name: 'chat', input: '0.001', output: '0.002', purpose: null, validFrom: 'string' },
  );
  const broke = await ask(keys.dora.secret);
  assert.is(broke.status, 402);
  assert.is(broke.code, 'insufficient_credits');
  assert.is(broke.error?.balance, '-1.00');

  assert.equal(await json(['users', 'flag', 'dora', 'ALLOW_NEGATIVE_BALANCE', 'on']), {
    user: 'dora',
    flag: 'ALLOW_NEGATIVE_BALANCE',
    enabled: true,
  });
  assert.is((await ask(keys.dora.secret)).status, 200, 'an exempt user is served below zero');
  // The served request was charged: the balance went further down.
  const { balance } = await json<{ balance: string }>(['balance', 'dora']);
  assert.ok(new Decimal(balance).lt(-1), balance);

  const readable = await cli(['users', 'flag', 'dora', 'allow_negative_balance', 'off']);
  assert.is(readable.code, 0, readable.stderr);
  assert.match(readable.stdout, /ALLOW_NEGATIVE_BALANCE is off for dora/);
  assert.is((await ask(keys.dora.secret)).code, 'insufficient_credits');

  // A purpose-specific tariff ends on its own; ending them all frees the model again.
  await json(['models', 'tariff', 'chat', '--input', '0', '--output', '0.5', '--purpose', 'batch']);
  assert.equal(await json(['models', 'end-tariff', 'chat', '--purpose', 'batch']), {
    model: 'chat',
    ended: 1,
    purpose: 'batch',
  });
  assert.is((await ask(keys.dora.secret)).code, 'insufficient_credits', 'the any-purpose tariff still prices it');
  assert.equal(await json(['models', 'end-tariff', 'chat']), { model: 'chat', ended: 1, purpose: null });
  assert.is((await ask(keys.dora.secret)).status, 200, 'free again');
  assertRefused(await cli(['models', 'end-tariff', 'chat']), /no active tariff on chat/);
});

test('a cap set through the tool gives 402 spend_cap_exceeded; reset-window and uncap lift it', async () => {
  await json(['models', 'tariff', 'chat', '--input', '0.001', '--output', '0.002']);
  const capped = await json(['keys', 'cap', keys.erin.id, '0.01']);
  assert.equal(capped, {
    id: keys.erin.id,
    spendLimit: '0.01',
    interval: null,
    windowSpend: '0',
    totalSpend: '0',
    windowStartedAt: capped.windowStartedAt,
  });
  // One request costs more than the cap: it is served, and the next is refused.
  assert.is((await ask(keys.erin.secret)).status, 200);
  const over = await ask(keys.erin.secret);
  assert.is(over.status, 402);
  assert.is(over.code, 'spend_cap_exceeded');
  assert.is(over.error?.spend_limit, '0.01');
  assert.is(over.error?.resets_at, null, 'a one-off cap never resets');
  assert.ok(new Decimal(String(over.error?.window_spend)).gte('0.01'));
  // explain says the same.
  assert.is(
    (await json<{ error: { code: string } }>(['explain', 'chat'], keys.erin.secret)).error.code,
    'spend_cap_exceeded',
  );

  const reset = await json(['keys', 'reset-window', keys.erin.id]);
  assert.is(reset.windowSpend, '0');
  assert.ok(new Decimal(String(reset.totalSpend)).gte('0.01'), 'the lifetime total is kept');
  assert.is((await ask(keys.erin.secret)).status, 200, 'a fresh window');
  assert.is((await ask(keys.erin.secret)).code, 'spend_cap_exceeded');

  // A daily cap: the same refusal, now naming the next UTC midnight.
  const daily = await json(['keys', 'cap', keys.erin.id, '0.01', '--interval', 'daily']);
  assert.is(daily.interval, 'daily');
  assert.is(daily.windowSpend, '0', 'a new interval starts a fresh window');
  assert.is((await ask(keys.erin.secret)).status, 200);
  const dailyOver = await ask(keys.erin.secret);
  assert.is(dailyOver.code, 'spend_cap_exceeded');
  assert.match(String(dailyOver.error?.resets_at), /^\d{4}-\d\d-\d\dT00:00:00Z$/);

  const uncapped = await cli(['keys', 'uncap', keys.erin.id]);
  assert.is(uncapped.code, 0, uncapped.stderr);
  assert.match(uncapped.stdout, /removed the spending cap/);
  assert.is((await ask(keys.erin.secret)).status, 200);
  assertRefused(await cli(['keys', 'uncap', keys.erin.id]), /has no spending cap/);
  assertRefused(await cli(['keys', 'reset-window', keys.erin.id, '--json']), /has no spending cap/);
});

test('mistakes are named on stderr with exit code 1 and nothing on stdout', async () => {
  const unknownKey = '00000000-0000-4000-8000-000000000000';
  const cases: [string[], RegExp][] = [
    [['keys', 'cap', 'not-a-key', '5'], /bad key id "not-a-key"/],
    [['keys', 'cap', unknownKey, '5'], /unknown or revoked key/],
    [['keys', 'cap', keys.erin.id, '0'], /must be greater than 0/],
    [['keys', 'cap', keys.erin.id, '-5'], /bad amount "-5"|unknown option/],
    [['keys', 'cap', keys.erin.id, '5', '--interval', 'hourly'], /argument 'hourly' is invalid/],
    [['keys', 'cap', keys.erin.id, '0.0000000000000001'], /at most 15 decimal places/],
    [['keys', 'uncap', unknownKey], /unknown or revoked key/],
    [['keys', 'reset-window', 'x'], /bad key id "x"/],
    [['models', 'tariff', 'nowhere', '--input', '1', '--output', '1'], /unknown model "nowhere"/],
    [['models', 'tariff', 'chat', '--output', '1'], /required option '--input <price>' not specified/],
    [['models', 'tariff', 'chat', '--input', '1e-6', '--output', '1'], /bad --input price "1e-6"/],
    [
      ['models', 'tariff', 'chat', '--input', '0.000000001', '--output', '1'],
      /bad --input price "0.000000001": at most 8 decimal places/,
    ],
    [
      ['models', 'tariff', 'chat', '--input', '10000', '--output', '1'],
      /bad --input price "10000": at most 9999\.99999999/,
    ],
    [['models', 'tariff', 'chat', '--input', '1', '--output', '1', '--purpose', 'x'], /argument 'x' is invalid/],
    [['models', 'end-tariff', 'nowhere'], /unknown model "nowhere"/],
    [['users', 'flag', 'dora', 'FREE_LUNCH', 'on'], /unknown feature flag "FREE_LUNCH"/],
    [['users', 'flag', 'dora', 'ALLOW_NEGATIVE_BALANCE', 'maybe'], /value 'maybe' is invalid for argument 'state'/],
    [['users', 'flag', 'nobody', 'ALLOW_NEGATIVE_BALANCE', 'on'], /unknown user "nobody"/],
  ];
  for (let i = 0; i < cases.length; i += 4) {
    const batch = cases.slice(i, i + 4);
    const results = await Promise.all(batch.map(([args]) => cli([...args, '--json'])));
    for (const [j, result] of results.entries()) assertRefused(result, batch[j]?.[1] ?? /never/);
  }
  // None of them changed anything: the key is still uncapped, the model still priced once.
  assert.is((await ask(keys.erin.secret)).status, 200);
});

test.run();
