/*
 * The admin tool as people run it: a fresh process per command against a real Postgres. A database
 * set up from nothing through the tool alone must serve a working key, explain each denial through
 * the gateway, and agree with `explain`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, recordUsage } from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import { cannedUsage, createGateway, createStubUpstream, listen } from '@control-layer/gateway';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused, buildOnce, cliWith, emptyDatabase, runCli } from './run-cli.ts';

const test = suite('control-layer admin tool');

buildOnce();
const database = await emptyDatabase();
const env = { DATABASE_URL: database.url };
const closers: (() => Promise<unknown>)[] = [];

test.after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await database?.close();
});

const { cli, json } = cliWith(env);

const keys: Record<string, string> = {};

test('commands on an unmigrated database say to run migrate first', async () => {
  assertRefused(await cli(['users', 'list', '--json']), /no schema yet: run `control-layer migrate` first/);
});

test('migrate applies the schema, and again changes nothing', async () => {
  const first = await json(['migrate']);
  assert.is(first.migrated, true);
  assert.not.match(String(first.database), /password/);
  assert.is((await cli(['migrate'])).code, 0);
});

test('sets up users, keys, a model, a group, a grant, a rule and credits', async () => {
  for (const user of ['alice', 'bob', 'carol']) {
    const created = await json(['users', 'create', user, '--email', `${user}@example.com`]);
    assert.is(created.username, user);
  }
  // No email is fine.
  assert.is((await json(['users', 'create', 'dave'])).email, null);

  for (const [name, user, purpose] of [
    ['alice', 'alice', 'realtime'],
    ['aliceBatch', 'alice', 'batch'],
    ['bob', 'bob', 'realtime'],
    ['carol', 'carol', 'realtime'],
  ] as const) {
    const key = await json(['keys', 'create', user, '--purpose', purpose]);
    assert.equal(Object.keys(key).sort(), ['expiresAt', 'id', 'purpose', 'secret', 'user']);
    assert.is(key.user, user);
    assert.is(key.purpose, purpose);
    assert.match(String(key.secret), /^sk-[A-Za-z0-9_-]{43}$/);
    keys[name] = String(key.secret);
  }

  await json(['endpoints', 'create', 'local', 'http://127.0.0.1:9/v1']);
  assert.is(
    (await json(['models', 'create', 'chat', '--endpoint', 'local', '--model-name', 'llama'])).modelName,
    'llama',
  );
  await json(['groups', 'create', 'team']);
  for (const user of ['alice', 'bob']) await json(['groups', 'add-user', 'team', user]);
  await json(['groups', 'grant', 'team', 'chat']);
  await json(['rules', 'deny', 'chat', 'batch']);
  // A price makes the model paid: without one the balance and caps would not apply to it.
  const tariff = await json(['models', 'tariff', 'chat', '--input', '0.000001', '--output', '0.000002']);
  assert.equal([tariff.input, tariff.output, tariff.purpose], ['0.000001', '0.000002', null]);
  assert.is((await json(['credits', 'grant', 'alice', '100'])).balance, '100.00');
  await json(['credits', 'grant', 'bob', '10', '--source-id', 'payment-1']);
  assert.is((await json(['credits', 'charge', 'bob', '12.25'])).balance, '-2.25');
  await json(['credits', 'grant', 'carol', '5']);
});

test('a repeated --source-id records nothing new; a conflicting one is refused', async () => {
  const replay = await json(['credits', 'grant', 'bob', '10', '--source-id', 'payment-1']);
  assert.is(replay.created, false);
  assert.is(replay.balance, '-2.25');
  assertRefused(
    await cli(['credits', 'grant', 'bob', '11', '--source-id', 'payment-1']),
    /payment-1.*different content/,
  );
  const history = await json<{ balance: string; transactions: { change: string }[] }>(['credits', 'history', 'bob']);
  assert.is(history.balance, '-2.25');
  assert.equal(
    history.transactions.map((t) => t.change),
    ['-12.25', '10.00'],
  );
  assert.equal(await json(['balance', 'bob']), { user: 'bob', balance: '-2.25' });
});

test('through the gateway: a working key, each denial, and a 402', async () => {
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

  const ask = async (key: string | undefined) => {
    const response = await fetch(`${front.url}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    return { status: response.status, body: (await response.json()) as { error?: Record<string, unknown> } };
  };

  assert.is((await ask(keys.alice)).status, 200);
  const noAccess = await ask(keys.carol);
  assert.is(noAccess.status, 403);
  assert.is(noAccess.body.error?.code, 'model_access_denied');
  const blocked = await ask(keys.aliceBatch);
  assert.is(blocked.status, 403);
  assert.is(blocked.body.error?.code, 'modality_blocked');
  assert.is(blocked.body.error?.purpose, 'batch');
  const broke = await ask(keys.bob);
  assert.is(broke.status, 402);
  assert.is(broke.body.error?.code, 'insufficient_credits');
  assert.is(broke.body.error?.balance, '-2.25');

  // explain gives the same envelope fields, from stdin or a file.
  const explained = await json<{ status: number; error: Record<string, unknown> }>(
    ['explain', 'chat'],
    `${keys.bob}\n`,
  );
  assert.is(explained.status, 402);
  const { request_id: _id, ...fields } = broke.body.error ?? {};
  assert.equal(explained.error, fields);
  const keyFile = path.join(tmpdir(), `cl-key-${process.pid}`);
  writeFileSync(keyFile, `  ${keys.aliceBatch}  \n`, { mode: 0o600 });
  const byFile = await json<{ error: Record<string, unknown> }>(['explain', 'chat', '--key-file', keyFile]);
  assert.is(byFile.error.code, 'modality_blocked');
  assert.is(
    (await json<{ error: Record<string, unknown> }>(['explain', 'chat'], keys.carol)).error.code,
    'model_access_denied',
  );
  const fine = await json(['explain', 'chat'], keys.alice);
  // Alice's one completion was charged at the tariff.
  const tokens = cannedUsage({ messages: [{ role: 'user', content: 'hi' }] });
  const charged = new Decimal('0.000001')
    .times(tokens.prompt_tokens)
    .plus(new Decimal('0.000002').times(tokens.completion_tokens));
  assert.equal(fine, {
    explained: false,
    reason: 'allowed',
    status: 403,
    balance: formatBalance(new Decimal(100).minus(charged)),
  });
  const human = await cli(['explain', 'chat'], keys.bob);
  assert.match(
    human.stdout,
    /402 insufficient_credits: Account balance too low\. Please add credits to continue\. \(balance -2\.25\)/,
  );
  // --dialect prints the whole answer that client gets; the verdict is the same in each.
  const anthropic = await json<{ status: number; body: unknown; headers: Record<string, string> }>(
    ['explain', 'chat', '--dialect', 'anthropic'],
    keys.bob,
  );
  assert.is(anthropic.status, 402);
  assert.equal(anthropic.body, {
    type: 'error',
    error: { type: 'billing_error', message: fields.message, code: 'insufficient_credits', balance: '-2.25' },
    request_id: null,
  });
  assert.equal(anthropic.headers, { 'content-type': 'application/json', 'x-should-retry': 'false' });
  const openai = await json<{ body: unknown }>(['explain', 'chat', '--dialect', 'openai'], keys.bob);
  assert.equal(openai.body, { error: { ...fields, request_id: null } });
  const printed = await cli(['explain', 'chat', '--dialect', 'anthropic'], keys.bob);
  assert.match(printed.stdout, /^402 insufficient_credits: /);
  assert.match(printed.stdout, /\n\{"type":"error","error":\{"type":"billing_error",/);

  // Changes through the tool take effect on the next request.
  await json(['credits', 'grant', 'bob', '2.25']);
  assert.is((await ask(keys.bob)).body.error?.balance, '0.00');
  await json(['credits', 'grant', 'bob', '0.125']);
  assert.is((await ask(keys.bob)).status, 200);
  await json(['rules', 'remove', 'chat', 'batch']);
  assert.is((await ask(keys.aliceBatch)).status, 200);
  await json(['groups', 'grant', 'Everyone', 'chat']);
  assert.is((await ask(keys.carol)).status, 200);
  await json(['groups', 'revoke', 'Everyone', 'chat']);
  await json(['groups', 'remove-user', 'team', 'alice']);
  assert.is((await ask(keys.alice)).body.error?.code, 'model_access_denied');

  // A revoked key is unknown: the router's 403 passes through and explain tells nothing.
  const listed = await json<{ id: string; purpose: string }[]>(['keys', 'list', 'carol']);
  assert.is(listed.length, 1);
  await json(['keys', 'revoke', String(listed[0]?.id)]);
  const revoked = await ask(keys.carol);
  assert.is(revoked.status, 403);
  assert.is(revoked.body.error?.code, 'forbidden');
  assert.equal(await json(['explain', 'chat'], keys.carol), { explained: false, reason: 'unknown_key', status: 403 });
});

test('listings never print a secret', async () => {
  const run = await cli(['keys', 'list', 'alice']);
  assert.is(run.code, 0);
  assert.match(run.stdout, /realtime/);
  for (const secret of Object.values(keys)) assert.not.ok(run.stdout.includes(secret));
  const listed = await json<Record<string, unknown>[]>(['keys', 'list', 'alice']);
  assert.equal(Object.keys(listed[0] ?? {}).sort(), [
    'createdAt',
    'expiresAt',
    'id',
    'lastUsed',
    'name',
    'parentId',
    'purpose',
    'revoked',
    'spendLimit',
    'spendLimitInterval',
    'totalSpend',
    'windowSpend',
  ]);
});

test('mistakes are named on stderr with exit code 1 and nothing on stdout', async () => {
  const cases: [string[], RegExp][] = [
    [['users', 'create', 'alice'], /a user named "alice" already exists/],
    [['groups', 'create', 'team'], /a group named "team" already exists/],
    [['endpoints', 'create', 'local', 'http://127.0.0.1:1/'], /an endpoint named "local" already exists/],
    [['models', 'create', 'chat', '--endpoint', 'local'], /a model with alias "chat" already exists/],
    [['models', 'create', 'other', '--endpoint', 'nowhere'], /unknown endpoint "nowhere"/],
    [['endpoints', 'create', 'bad', 'not a url'], /bad url/],
    [['keys', 'create', 'nobody'], /unknown user "nobody"/],
    [['keys', 'create', 'alice', '--purpose', 'fun'], /fun.*invalid/],
    [['keys', 'revoke', 'not-an-id'], /bad key id/],
    [['keys', 'revoke', '00000000-0000-4000-8000-000000000000'], /unknown or already revoked key/],
    [['groups', 'grant', 'team', 'missing-model'], /unknown model "missing-model"/],
    [['groups', 'add-user', 'nobody-group', 'alice'], /unknown group "nobody-group"/],
    [['groups', 'add-user', 'Everyone', 'alice'], /belongs to Everyone already/],
    [['rules', 'deny', 'missing-model', 'batch'], /unknown model "missing-model"/],
    [['rules', 'remove', 'chat', 'batch'], /no rule for batch keys on chat/],
    [['credits', 'grant', 'alice', '-5'], /bad amount "-5"/],
    [['credits', 'grant', 'alice', '1e3'], /bad amount "1e3"/],
    [['credits', 'grant', 'alice', '0.000'], /bad amount "0.000": it must be greater than 0/],
    [['credits', 'grant', 'alice', '1.0000000000000001'], /more than 15 decimal places/],
    [['credits', 'charge', 'nobody', '1'], /unknown user "nobody"/],
    [['balance', 'nobody'], /unknown user "nobody"/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['--database-url', 'mysql://x', 'users', 'list'], /must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ];
  // None of these changes anything, so they run a few at a time.
  const runs = [
    ...cases.map(([args, reason]) => ({ args: [...args, '--json'], reason })),
    // Without --json the same (a few suffice: the error path is shared).
    ...cases.filter((_, i) => i % 8 === 0).map(([args, reason]) => ({ args, reason })),
  ];
  for (let i = 0; i < runs.length; i += 4) {
    const batch = runs.slice(i, i + 4);
    const results = await Promise.all(batch.map(({ args }) => cli(args)));
    for (const [j, result] of results.entries()) assertRefused(result, batch[j]?.reason ?? /never/);
  }
  assertRefused(await cli(['explain', 'chat', '--json'], ''), /no key given/);
  assertRefused(await cli(['explain', 'chat', '--dialect', 'cohere'], 'sk-x'), /bad dialect "cohere"/);
  assertRefused(await cli(['explain', 'chat', '--key-file', '/nonexistent/key']), /cannot read the key file/);
  const unreachable = await runCli(['users', 'list'], { env: { DATABASE_URL: 'postgres://u:secret@127.0.0.2:1/x' } });
  assertRefused(unreachable, /ECONNREFUSED/);
  assert.not.match(unreachable.stderr, /secret/);
});

test('users delete is a soft delete: the user is listed as deleted and their keys stop working', async () => {
  await json(['users', 'delete', 'dave']);
  const users = await json<{ username: string; deleted: boolean }[]>(['users', 'list']);
  assert.equal(
    users.map((u) => [u.username, u.deleted]),
    [
      ['alice', false],
      ['bob', false],
      ['carol', false],
      ['dave', true],
    ],
  );
  assertRefused(await cli(['users', 'delete', 'dave']), /already deleted/);
  assertRefused(await cli(['keys', 'create', 'dave']), /user "dave" is deleted/);
});

test('ledger check finds a balance moved around the ledger, exits 1, and ledger rebuild repairs it', async () => {
  const clean = await json<{ ok: boolean; drift: unknown[] }>(['ledger', 'check']);
  assert.is(clean.ok, true);
  assert.equal(clean.drift, []);

  // Only a superuser can move a checkpoint without the ledger (the guard refuses everyone else):
  // the test cluster's role is one, so it plays the operator who did.
  const { db, close } = await openDatabase(database.url, { poolSize: 1 });
  try {
    await db.transaction(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      await tx.execute(sql`update user_balance_checkpoints set balance = balance + 1000
        where user_id = (select id from users where username = 'carol')`);
    });
  } finally {
    await close();
  }

  const drifted = await cli(['ledger', 'check', '--json']);
  assert.is(drifted.code, 1, drifted.stderr);
  const report = JSON.parse(drifted.stdout) as { ok: boolean; drift: { difference: string }[] };
  assert.is(report.ok, false);
  assert.is(report.drift.length, 1);
  assert.is(report.drift[0]?.difference, '-1000.00');
  const readable = await cli(['ledger', 'check']);
  assert.is(readable.code, 1);
  assert.match(readable.stdout, /1 of \d+ balances differ from the ledger/);

  const rebuild = await json<{ repaired: unknown[]; checkpoints: number }>(['ledger', 'rebuild']);
  assert.is(rebuild.repaired.length, 1);
  assert.is((await json<{ ok: boolean }>(['ledger', 'check'])).ok, true);
  assert.is((await cli(['ledger', 'check'])).code, 0);
});

test('through `pnpm cli --json`, stdout is exactly the JSON document', async () => {
  const run = await runCli(['--json', 'balance', 'alice'], { env, viaPnpm: true });
  assert.is(run.code, 0, run.stderr);
  // Alice's completions through the stub were charged: the same balance as the tool reports directly.
  assert.equal(JSON.parse(run.stdout), await json(['balance', 'alice']));
  const failed = await runCli(['balance', 'nobody', '--json'], { env, viaPnpm: true });
  assert.is.not(failed.code, 0);
  assert.is(failed.stdout, '');
  assert.match(failed.stderr, /unknown user "nobody"/);
  const explained = await runCli(['explain', 'chat', '--json'], { env, viaPnpm: true, stdin: keys.bob });
  assert.is(JSON.parse(explained.stdout).explained, false);
});

/** The tool's node process: `pid` itself, or the child pnpm runs it in. */
function toolPid(pid: number): number | null {
  const isTool = (candidate: number) => {
    try {
      return readFileSync(`/proc/${candidate}/cmdline`, 'utf8').includes('dist/main.js');
    } catch {
      return false;
    }
  };
  if (isTool(pid)) return pid;
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const parent = /^PPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (Number(parent) === pid && isTool(Number(entry))) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

/**
 * Wait until the tool's node process runs, then give it `settleMs` to load and reach the command.
 * (Node catches SIGTERM from the start to restore the terminal, so /proc cannot tell when the
 * tool's own handler is in place.)
 */
async function waitForTool(pid: number, settleMs: number): Promise<void> {
  for (let attempt = 0; attempt < 600 && toolPid(pid) === null; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (toolPid(pid) === null) throw new Error('the tool never started');
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}

for (const viaPnpm of [false, true]) {
  test(`SIGTERM to ${viaPnpm ? 'the pnpm pid of `pnpm cli`' : 'the tool'} stops a command waiting for its key`, async () => {
    // A signal that lands before the tool's handler is in place kills it without a word; that
    // says the machine loaded it slowly, not that the handler is wrong, so it is tried again with
    // longer to settle. Only an answer from the handler itself is judged.
    let run: Awaited<ReturnType<typeof runCli>> | undefined;
    for (const settleMs of [2_500, 8_000, 20_000]) {
      let pid = 0;
      const running = runCli(['explain', 'chat'], {
        env,
        viaPnpm,
        onSpawn: (spawned) => {
          pid = spawned;
        },
      });
      await waitForTool(pid, settleMs);
      process.kill(pid, 'SIGTERM');
      run = await running;
      if (/SIGTERM, stopping/.test(run.stderr)) break;
    }
    assert.ok(run);
    assert.is(run.stdout, '');
    assert.match(run.stderr, /SIGTERM, stopping/);
    if (!viaPnpm) assert.is(run.code, 143);
    else assert.is.not(run.code, 0);
  });
}

test('caps, tariffs and flags: a spent cap, a free model, an exempt owner, and mistakes named', async () => {
  const { db, close } = await openDatabase(database.url, { poolSize: 1 });
  closers.push(close);
  await json(['users', 'create', 'erin']);
  await json(['groups', 'add-user', 'team', 'erin']);
  const key = await json<{ id: string; secret: string }>(['keys', 'create', 'erin']);
  await json(['credits', 'grant', 'erin', '5']);
  const explain = async () =>
    json<{ explained: boolean; error?: Record<string, unknown> }>(['explain', 'chat'], key.secret);

  const capped = await json(['keys', 'cap', key.id, '1', '--interval', 'daily']);
  assert.equal([capped.spendLimit, capped.interval, capped.windowSpend], ['1', 'daily', '0']);
  await recordUsage(db, { apiKeyId: key.id, amount: new Decimal('1.5'), sourceId: 'cli-test-usage' });
  const spent = await explain();
  assert.is(spent.error?.code, 'spend_cap_exceeded');
  assert.is(spent.error?.window_spend, '1.50');
  assert.match(String(spent.error?.resets_at), /^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
  await json(['keys', 'reset-window', key.id]);
  assert.is((await explain()).explained, false);
  assert.equal(await json(['keys', 'uncap', key.id]), { id: key.id, spendLimit: null });
  assertRefused(await cli(['keys', 'uncap', key.id]), /has no spending cap/);

  // Erin owes money: refused on a paid model, let through on a free one or when exempt.
  await json(['credits', 'charge', 'erin', '10']);
  assert.is((await explain()).error?.code, 'insufficient_credits');
  assert.is((await json(['models', 'end-tariff', 'chat'])).ended, 1);
  assert.is((await explain()).explained, false);
  await json(['models', 'tariff', 'chat', '--input', '0', '--output', '0.000002', '--purpose', 'batch']);
  assert.is((await explain()).error?.code, 'insufficient_credits', 'a tariff for any purpose makes it paid');
  assert.equal(await json(['users', 'flag', 'erin', 'ALLOW_NEGATIVE_BALANCE', 'on']), {
    user: 'erin',
    flag: 'ALLOW_NEGATIVE_BALANCE',
    enabled: true,
  });
  assert.is((await explain()).explained, false);
  await json(['users', 'flag', 'erin', 'ALLOW_NEGATIVE_BALANCE', 'off']);
  assert.is((await explain()).error?.code, 'insufficient_credits');

  assertRefused(await cli(['keys', 'cap', 'not-an-id', '1']), /bad key id/);
  assertRefused(await cli(['keys', 'cap', '00000000-0000-4000-8000-000000000000', '1']), /unknown or revoked key/);
  assertRefused(await cli(['keys', 'cap', key.id, '0']), /greater than 0/);
  assertRefused(await cli(['keys', 'cap', key.id, '1', '--interval', 'hourly']), /hourly/);
  assertRefused(await cli(['models', 'tariff', 'chat', '--input', '-1', '--output', '0']), /bad --input price/);
  assertRefused(await cli(['models', 'tariff', 'chat', '--input', '0.000000001', '--output', '0']), /decimal places/);
  assertRefused(await cli(['models', 'end-tariff', 'nowhere']), /unknown model/);
  assertRefused(await cli(['users', 'flag', 'erin', 'lower-case', 'on']), /unknown feature flag "lower-case"/);
  assertRefused(await cli(['users', 'flag', 'erin', 'X', 'maybe']), /maybe/);
});

test.run();
