/*
 * The commands an operator reaches for after setting up: show, update, restore, list, rotate and
 * delete, each run in a fresh process against a real Postgres, with the mistakes they must refuse
 * without writing anything.
 */
import { createApiKey, recordUsage, SYSTEM_USER_ID } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRefused, buildOnce, cliWith } from './run-cli.ts';

const test = suite('control-layer admin commands');

buildOnce();
const database = await createTestDatabase({ poolSize: 2 });
const { db } = database;
const { cli, json } = cliWith({ DATABASE_URL: database.url });

test.after(async () => {
  await database?.close();
});

type Key = { id: string; secret: string };
const keys: Record<string, Key> = {};

/** Every row the tool can write, as one string: equal before and after a refused command. */
async function snapshot(): Promise<string> {
  const tables = [
    'users',
    'api_keys',
    'api_key_spend_checkpoints',
    'groups',
    'user_groups',
    'deployment_groups',
    'deployed_models',
    'inference_endpoints',
    'model_tariffs',
    'model_traffic_rules',
    'user_feature_flags',
    'credits_transactions',
  ];
  const dumps: unknown[] = [];
  for (const table of tables) {
    const result = await db.execute(sql.raw(`select to_jsonb(t) as row from ${table} t order by 1::text`));
    dumps.push((result as unknown as { rows: { row: unknown }[] }).rows.map((r) => JSON.stringify(r.row)).sort());
  }
  return JSON.stringify(dumps);
}

test('sets up users, a capped key with a child, a model with tariffs, a group and a rule', async () => {
  await json(['users', 'create', 'ann', '--email', 'ann@example.com', '--display-name', 'Ann']);
  await json(['users', 'create', 'ben.b-2_x@corp']);
  for (const user of ['ann', 'ben.b-2_x@corp']) {
    keys[user] = await json<Key>(['keys', 'create', user]);
  }
  await json(['endpoints', 'create', 'local', 'http://127.0.0.1:9/v1']);
  await json(['models', 'create', 'chat', '--endpoint', 'local']);
  await json(['models', 'tariff', 'chat', '--input', '0.000001', '--output', '0.000002']);
  await json(['models', 'tariff', 'chat', '--input', '0', '--output', '0.5', '--purpose', 'batch']);
  await json(['groups', 'create', 'team', '--description', 'the team']);
  await json(['groups', 'add-user', 'team', 'ann']);
  await json(['groups', 'grant', 'team', 'chat']);
  await json(['rules', 'deny', 'chat', 'batch']);
  await json(['credits', 'grant', 'ann', '1']);
});

test('keys list and keys show print a cap below one cent exactly, with the window spend', async () => {
  const key = keys.ann as Key;
  await json(['keys', 'cap', key.id, '0.00001', '--interval', 'daily']);
  await recordUsage(db, { apiKeyId: key.id, amount: new Decimal('0.000004'), sourceId: 'admin-usage-1' });
  const listed = await json<Record<string, unknown>[]>(['keys', 'list', 'ann']);
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
  assert.equal(
    [listed[0]?.spendLimit, listed[0]?.spendLimitInterval, listed[0]?.windowSpend],
    ['0.00001', 'daily', '0.000004'],
  );
  const text = await cli(['keys', 'list', 'ann']);
  assert.match(text.stdout, /CAP\s+WINDOW SPEND/);
  assert.match(text.stdout, /0\.00001\/day\s+0\.000004/);
  assert.not.ok(text.stdout.includes(key.secret));
  const shown = await json(['keys', 'show', key.id]);
  assert.equal([shown.user, shown.spendLimit, shown.windowSpend, shown.children], ['ann', '0.00001', '0.000004', []]);

  // Past the cap, the middleware's message shows the cap to its last digit, not "$0.00".
  await recordUsage(db, { apiKeyId: key.id, amount: new Decimal('0.00001'), sourceId: 'admin-usage-2' });
  const explained = await json<{ error: { message: string; spend_limit: string } }>(['explain', 'chat'], key.secret);
  assert.match(explained.error.message, /spending cap of \$0\.00001 \(spent \$0\.000014 this period/);
  assert.is(explained.error.spend_limit, '0.00001');
});

test('keys rotate gives the key a new secret, keeps its settings, spend and children, and the old secret stops working', async () => {
  const old = keys.ann as Key;
  const child = await createApiKey(db, {
    userId: (await json<{ id: string }>(['users', 'show', 'ann'])).id,
    createdBy: SYSTEM_USER_ID,
    name: 'ann batch',
    purpose: 'batch',
    hidden: true,
    parentApiKeyId: old.id,
  });
  const before = await json(['keys', 'show', old.id]);
  const rotated = await json<{ id: string; secret: string; purpose: string }>(['keys', 'rotate', old.id]);
  assert.is(rotated.id, old.id);
  assert.match(rotated.secret, /^sk-[A-Za-z0-9_-]{43}$/);
  assert.is.not(rotated.secret, old.secret);
  const after = await json(['keys', 'show', rotated.id]);
  for (const field of [
    'name',
    'purpose',
    'user',
    'spendLimit',
    'spendLimitInterval',
    'windowSpend',
    'totalSpend',
    'revoked',
  ]) {
    assert.equal(after[field], before[field], field);
  }
  assert.equal(after.children, [{ id: child.key.id, purpose: 'batch', revoked: false }]);
  assert.is((await json(['keys', 'show', child.key.id])).parentId, rotated.id);
  // The new secret meets the same spent cap; the old one is unknown.
  assert.is(
    (await json<{ error: { code: string } }>(['explain', 'chat'], rotated.secret)).error.code,
    'spend_cap_exceeded',
  );
  assert.is((await json(['explain', 'chat'], old.secret)).reason, 'unknown_key');
  const readable = await cli(['keys', 'rotate', rotated.id]);
  assert.is(readable.code, 0, readable.stderr);
  assert.is(readable.stdout.match(/sk-[A-Za-z0-9_-]{43}/g)?.length, 1);
  assert.match(readable.stdout, /only time the secret is shown/);
});

test('users show, update and restore; rules apply to new values only, older rows still show and update', async () => {
  const shown = await json(['users', 'show', 'ann']);
  assert.equal(
    [shown.email, shown.displayName, shown.groups, shown.balance],
    ['ann@example.com', 'Ann', ['team'], '0.999986'],
  );
  const updated = await json(['users', 'update', 'ann', '--email', 'ann@corp.example.org', '--display-name', 'Ann A.']);
  assert.equal([updated.email, updated.displayName], ['ann@corp.example.org', 'Ann A.']);
  assert.is((await json(['users', 'update', 'ann', '--email', ''])).email, null);

  // A row from before the rules (or from dwctl): a space in the name, an address without a dot.
  await db.execute(sql`insert into users (username, email) values ('Legacy User', 'legacy@internal')`);
  const legacy = await json(['users', 'show', 'Legacy User']);
  assert.equal([legacy.username, legacy.email], ['Legacy User', 'legacy@internal']);
  assert.match((await cli(['users', 'list'])).stdout, /Legacy User\s+legacy@internal/);
  const renamed = await json(['users', 'update', 'Legacy User', '--display-name', 'Old Timer']);
  assert.equal([renamed.email, renamed.displayName], ['legacy@internal', 'Old Timer']);

  await json(['users', 'delete', 'Legacy User']);
  assert.is((await json(['users', 'restore', 'Legacy User'])).deleted, false);
  assert.is((await json(['users', 'show', 'Legacy User'])).deleted, false);
});

test('groups list, show, members and delete', async () => {
  const listed = await json<{ name: string; members: number; models: number }[]>(['groups', 'list']);
  assert.equal(
    listed.map((g) => [g.name, g.members, g.models]),
    [
      ['Everyone', 3, 0],
      ['team', 1, 1],
    ],
  );
  const team = await json<{ models: string[]; members: { username: string }[] }>(['groups', 'show', 'team']);
  assert.equal([team.models, team.members.map((m) => m.username)], [['chat'], ['ann']]);
  const everyone = await json<{ username: string; joinedAt: null }[]>(['groups', 'members', 'Everyone']);
  assert.equal(
    everyone.map((m) => [m.username, m.joinedAt]),
    [
      ['Legacy User', null],
      ['ann', null],
      ['ben.b-2_x@corp', null],
    ],
  );
  await json(['groups', 'create', 'temp']);
  await json(['groups', 'add-user', 'temp', 'ann']);
  assert.is((await json(['groups', 'delete', 'temp'])).deleted, true);
  assert.equal(
    (await json<{ name: string }[]>(['groups', 'list'])).map((g) => g.name),
    ['Everyone', 'team'],
  );
  assert.equal((await json(['users', 'show', 'ann'])).groups, ['team']);
});

test('rules list, models show, update and list with prices and status, tariffs', async () => {
  assert.equal(await json(['rules', 'list']), [
    {
      model: 'chat',
      purpose: 'batch',
      action: 'deny',
      redirectTo: null,
      createdAt: (await json<{ createdAt: string }[]>(['rules', 'list']))[0]?.createdAt,
    },
  ]);
  const model = await json<{ status: string; tariffs: { purpose: string | null; input: string }[]; rules: unknown[] }>([
    'models',
    'show',
    'chat',
  ]);
  assert.is(model.status, 'active');
  assert.equal(model.rules, [{ purpose: 'batch', action: 'deny', redirectTo: null }]);
  assert.equal(model.tariffs.map((t) => [t.purpose, t.input]).sort(), [
    [null, '0.000001'],
    ['batch', '0'],
  ]);
  assert.is((await json(['models', 'update', 'chat', '--status', 'inactive'])).status, 'inactive');
  const listing = await cli(['models', 'list']);
  assert.match(listing.stdout, /STATUS\s+PRICE IN\/OUT/);
  assert.match(listing.stdout, /chat\s+chat\s+local\s+inactive\s+0\.000001\/0\.000002; batch: 0\/0\.5/);
  await json(['models', 'update', 'chat', '--status', 'active']);

  await json(['models', 'end-tariff', 'chat', '--purpose', 'batch']);
  assert.is((await json<unknown[]>(['models', 'tariffs', 'chat'])).length, 1);
  const all = await json<{ purpose: string | null; validUntil: string | null }[]>([
    'models',
    'tariffs',
    'chat',
    '--all',
  ]);
  assert.equal(all.map((t) => [t.purpose, t.validUntil === null]).sort(), [
    [null, true],
    ['batch', false],
  ]);
  assert.is((await json<unknown[]>(['models', 'tariffs'])).length, 1);
});

test('endpoints update and delete; an endpoint hosting a live model stays', async () => {
  assert.is(
    (await json(['endpoints', 'update', 'local', '--url', 'http://127.0.0.1:8/v1'])).url,
    'http://127.0.0.1:8/v1',
  );
  await json(['endpoints', 'create', 'spare', 'http://127.0.0.1:7/v1']);
  await json(['models', 'create', 'old', '--endpoint', 'spare']);
  assertRefused(await cli(['endpoints', 'delete', 'spare']), /endpoint spare hosts old: delete those models/);
  await json(['models', 'delete', 'old']);
  assert.is((await json(['endpoints', 'delete', 'spare'])).deleted, true);
  assert.equal(
    (await json<{ name: string }[]>(['endpoints', 'list'])).map((e) => e.name),
    ['local'],
  );
});

test('mistakes are refused with exit code 1, a clear message and nothing written', async () => {
  await json(['users', 'create', 'gone']);
  const goneKey = await json<Key>(['keys', 'create', 'gone']);
  const goneLiveKey = await json<Key>(['keys', 'create', 'gone']);
  await json(['keys', 'revoke', goneKey.id]);
  await json(['users', 'delete', 'gone']);
  const unknownKey = '00000000-0000-4000-8000-000000000000';
  const cases: [string[], RegExp][] = [
    [['users', 'create', 'with space'], /bad username "with space": 1 to 64 characters/],
    [['users', 'create', '-dash'], /unknown option|bad username/],
    [['users', 'create', 'x'.repeat(65)], /bad username/],
    [['users', 'create', 'émile'], /bad username/],
    [['users', 'create', 'carl', '--email', 'not-an-email'], /bad --email "not-an-email": name@domain/],
    [['users', 'create', 'carl', '--email', 'a@b'], /bad --email "a@b"/],
    [['users', 'create', 'carl', '--email', 'a b@example.com'], /bad --email/],
    [['users', 'create', 'carl', '--email', 'a@@example.com'], /bad --email/],
    [['users', 'create', 'carl', '--email', 'a@-example.com'], /bad --email/],
    [['users', 'create', 'carl', '--display-name', 'bell\u0007'], /bad --display-name/],
    [['users', 'show', 'nobody'], /unknown user "nobody"/],
    [['users', 'update', 'nobody', '--email', 'n@example.com'], /unknown user "nobody"/],
    [
      ['users', 'update', 'gone', '--email', 'g@example.com'],
      /user "gone" is deleted \(`users restore` brings it back\)/,
    ],
    [['users', 'update', 'ann', '--email', 'bad@'], /bad --email "bad@"/],
    [['users', 'update', 'ann'], /nothing to change/],
    [['users', 'restore', 'ann'], /user "ann" is not deleted/],
    [['users', 'restore', 'nobody'], /unknown user "nobody"/],
    [['keys', 'show', unknownKey], /unknown key/],
    [['keys', 'show', 'nope'], /bad key id "nope"/],
    [['keys', 'rotate', goneKey.id], /unknown or revoked key/],
    [['keys', 'rotate', unknownKey], /unknown key/],
    [['keys', 'rotate', goneLiveKey.id], /belongs to the deleted user "gone": restore them first/],
    [['keys', 'rotate', 'nope'], /bad key id/],
    [['groups', 'show', 'nobody'], /unknown group "nobody"/],
    [['groups', 'members', 'nobody'], /unknown group "nobody"/],
    [['groups', 'delete', 'nobody'], /unknown group "nobody"/],
    [['groups', 'delete', 'Everyone'], /Everyone holds every user and cannot be deleted/],
    [['rules', 'list', '--model', 'nowhere'], /unknown model "nowhere"/],
    [['models', 'show', 'nowhere'], /unknown model "nowhere"/],
    [['models', 'show', 'old'], /unknown model "old"/],
    [['models', 'update', 'chat', '--status', 'paused'], /argument 'paused' is invalid.*active, inactive/],
    [['models', 'update', 'chat'], /nothing to change/],
    [['models', 'update', 'chat', '--endpoint', 'nowhere'], /unknown endpoint "nowhere"/],
    [['models', 'update', 'nowhere', '--status', 'inactive'], /unknown model "nowhere"/],
    [['models', 'tariffs', 'nowhere'], /unknown model "nowhere"/],
    [['endpoints', 'update', 'nowhere', '--url', 'http://x/'], /unknown endpoint "nowhere"/],
    [['endpoints', 'update', 'local', '--url', 'ftp://x/'], /bad url "ftp:\/\/x\/": expected http or https/],
    [['endpoints', 'update', 'local'], /nothing to change/],
    [['endpoints', 'delete', 'nowhere'], /unknown endpoint "nowhere"/],
    [['endpoints', 'delete', 'local'], /endpoint local hosts chat/],
  ];
  const before = await snapshot();
  for (let i = 0; i < cases.length; i += 4) {
    const batch = cases.slice(i, i + 4);
    const results = await Promise.all(batch.map(([args]) => cli([...args, '--json'])));
    for (const [j, result] of results.entries()) assertRefused(result, batch[j]?.[1] ?? /never/);
  }
  assert.is(await snapshot(), before, 'a refused command wrote something');
});

test.run();
