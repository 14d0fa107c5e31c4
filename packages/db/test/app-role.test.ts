/*
 * The checkpoints against a role holding exactly the application's grants (the README's `GRANT`
 * block; no superuser, owns nothing): every route to a checkpoint but a ledger row is refused,
 * directly and through PgBouncer, and everything the application does still works as that role.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  APP_ROLE,
  appRoleGrants,
  checkLedger,
  Decimal,
  getSpendCheckpoint,
  getUserBalance,
  MIGRATIONS_FOLDER,
  migrate,
  openDatabase,
  rebuildCheckpoints,
  recordUsage,
  resetApiKeySpendWindow,
  setApiKeySpendCap,
} from '../src/index.ts';
import {
  addTestCredits,
  createAppRoleDatabase,
  createTestApiKey,
  createTestUser,
  findPgBouncer,
  sharedTestPostgres,
  sqlState,
  startPgBouncer,
} from '../src/testing/index.ts';

const test = suite('the application role');

const LIFT_BALANCE = 'update public.user_balance_checkpoints set balance = 1000000';
const ZERO_SPEND = 'update public.api_key_spend_checkpoints set window_spend = 0, total_spend = 0';

/** A trigger function in pg_temp whose body runs `body`, fired by an insert into a temp table. */
function tempTrigger(name: string, body: string): string[] {
  return [
    `create temp table ${name} (x int) on commit drop`,
    `create function pg_temp.${name}() returns trigger language plpgsql as $$ begin ${body}; return null; end $$`,
    `create trigger ${name} after insert on pg_temp.${name} for each statement execute function pg_temp.${name}()`,
  ];
}

/** Every route a role might take to a checkpoint without a ledger row, as statements of one transaction. */
function attackRoutes(owner: string): Record<string, string[]> {
  const routes: Record<string, string[]> = {
    'UPDATE a balance': [LIFT_BALANCE],
    'INSERT a balance': [
      `insert into public.user_balance_checkpoints (user_id, balance) select id, 1000000 from public.users limit 1`,
    ],
    'DELETE spend': ['delete from public.api_key_spend_checkpoints'],
    'UPDATE spend': [ZERO_SPEND],
    'TRUNCATE balances': ['truncate public.user_balance_checkpoints'],
    'TRUNCATE spend': ['truncate public.api_key_spend_checkpoints'],
    'a trigger in pg_temp on a temp table': [
      ...tempTrigger('poke', LIFT_BALANCE),
      'insert into pg_temp.poke values (1)',
    ],
    'nested temp triggers (depth 2)': [
      ...tempTrigger('inner_poke', ZERO_SPEND),
      ...tempTrigger('outer_poke', 'insert into pg_temp.inner_poke values (1)'),
      'insert into pg_temp.outer_poke values (1)',
    ],
    "the ledger's fold attached to a temp table of invented rows": [
      'create temp table fake (like public.credits_transactions) on commit drop',
      `create trigger fake after insert on pg_temp.fake referencing new table as inserted
       for each statement execute function public.credits_transactions_fold_into_checkpoint()`,
    ],
    'the spend fold attached to a temp table': [
      'create temp table fake (like public.credits_transactions) on commit drop',
      `create trigger fake after insert on pg_temp.fake referencing new table as inserted
       for each statement execute function public.credits_transactions_fold_into_spend()`,
    ],
    'a definer trigger function called directly': ['select public.user_balance_rebuild()'],
    'a SECURITY DEFINER function of its own': [
      `create function pg_temp.lift() returns void language sql security definer as $$ ${LIFT_BALANCE} $$`,
      'select pg_temp.lift()',
    ],
    "set_config of the fold's marker": [
      "select set_config('control_layer.checkpoint_writer', 'ledger', false)",
      LIFT_BALANCE,
    ],
    'SET ROLE to the owner': [`set role ${owner}`, LIFT_BALANCE],
    'SET SESSION AUTHORIZATION to the owner': [`set session authorization ${owner}`, LIFT_BALANCE],
    'a function in public shadowing a catalog one': [
      'create function public.now() returns timestamptz language sql as $$ select null::timestamptz $$',
    ],
  };
  return routes;
}

/** Run one route in a transaction on a connection of its own; the SQLSTATE that stopped it, or 'accepted'. */
async function tryRoute(url: string, statements: string[]): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('begin');
    for (const statement of statements) await client.query(statement);
    return 'accepted';
  } catch (error) {
    return sqlState(error) ?? String(error);
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
}

/** Seed (as the owner) a user with 5 in credits and a daily-capped key that spent 2. */
async function seed(db: Parameters<typeof createTestUser>[0]) {
  const user = await createTestUser(db);
  await addTestCredits(db, user.id, '7');
  const { key } = await createTestApiKey(db, user.id);
  await setApiKeySpendCap(db, key.id, { limit: new Decimal(10), interval: 'daily' });
  await recordUsage(db, { apiKeyId: key.id, amount: new Decimal(2), sourceId: `seed-${key.id}` });
  return { userId: user.id, keyId: key.id };
}

async function assertRoutesRefused(url: string, owner: string, refusedWith: readonly string[]): Promise<void> {
  for (const [route, statements] of Object.entries(attackRoutes(owner))) {
    const outcome = await tryRoute(url, statements);
    assert.ok(refusedWith.includes(outcome), `${route}: ${outcome}`);
  }
}

async function assertUntouched(db: Parameters<typeof getUserBalance>[0], world: { userId: string; keyId: string }) {
  assert.is((await getUserBalance(db, world.userId)).toFixed(), '5');
  const spend = await getSpendCheckpoint(db, world.keyId);
  assert.equal([spend?.totalSpend.toFixed(), spend?.windowSpend.toFixed()], ['2', '2']);
  assert.ok((await checkLedger(db)).ok);
}

test('the README carries the grant block the application role is made with', () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
  assert.ok(readme.includes(appRoleGrants(APP_ROLE)), 'README GRANT block differs from APP_ROLE_GRANTS');
});

test('refuse every route to a checkpoint but a ledger row, and leave both checkpoints as they were', async () => {
  const app = await createAppRoleDatabase();
  try {
    const world = await seed(app.owner.db);
    const owner = new URL(app.owner.url).username || 'postgres';
    // 42501: no right to it at all; 0A000: a trigger function called as a function.
    await assertRoutesRefused(app.url, owner, ['42501', '0A000']);
    await assertUntouched(app.owner.db, world);
  } finally {
    await app.close();
  }
});

test('refuse the same routes with the guard itself when a role was granted writes on the checkpoints by mistake', async () => {
  const app = await createAppRoleDatabase(
    (role) =>
      `${appRoleGrants(role)}\nGRANT INSERT, UPDATE, DELETE, TRUNCATE ON user_balance_checkpoints, api_key_spend_checkpoints TO ${role};`,
  );
  try {
    const world = await seed(app.owner.db);
    const owner = new URL(app.owner.url).username || 'postgres';
    // 23001: the guard (restrict_violation), whatever the trigger depth or the marker says.
    await assertRoutesRefused(app.url, owner, ['23001', '42501', '0A000']);
    const outcome = await tryRoute(app.url, [
      ...tempTrigger('poke', LIFT_BALANCE),
      'insert into pg_temp.poke values (1)',
    ]);
    assert.is(outcome, '23001', 'the guard, not a missing right, stops the temp trigger');
    await assertUntouched(app.owner.db, world);
  } finally {
    await app.close();
  }
});

test('run migrations check, the ledger, caps, resets, check and rebuild as the application role', async () => {
  const app = await createAppRoleDatabase();
  const opened = await openDatabase(app.url, { poolSize: 2 });
  try {
    const world = await seed(app.owner.db);
    const db = opened.db;
    const total = (
      JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }
    ).entries.length;
    assert.equal(await migrate(db), { applied: 0, total });
    const user = await createTestUser(db);
    await addTestCredits(db, user.id, '3');
    const { key } = await createTestApiKey(db, user.id);
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(1), interval: 'weekly' });
    await recordUsage(db, { apiKeyId: key.id, amount: new Decimal('0.5'), sourceId: 'as-app' });
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(1), interval: 'weekly', resetWindow: true });
    await resetApiKeySpendWindow(db, world.keyId);
    assert.is((await getUserBalance(db, user.id)).toFixed(), '2.5');
    assert.equal((await getSpendCheckpoint(db, key.id))?.windowSpend.toFixed(), '0');
    assert.ok((await checkLedger(db)).ok);
    const rebuild = await rebuildCheckpoints(db);
    assert.is(rebuild.rebuiltBy, app.role);
    assert.equal([rebuild.repaired, rebuild.spendRepaired], [[], []]);
  } finally {
    await opened.close();
    await app.close();
  }
});

if (findPgBouncer()) {
  test('refuse the same routes through PgBouncer in transaction mode, where the ledger still works', async () => {
    const app = await createAppRoleDatabase();
    const bouncer = await startPgBouncer((await sharedTestPostgres()).url, { users: [app.role] });
    try {
      const world = await seed(app.owner.db);
      const owner = new URL(app.owner.url).username || 'postgres';
      await assertRoutesRefused(bouncer.through(app.url), owner, ['42501', '0A000']);
      await assertUntouched(app.owner.db, world);
      const opened = await openDatabase(bouncer.through(app.url), { poolSize: 4 });
      try {
        await recordUsage(opened.db, { apiKeyId: world.keyId, amount: new Decimal(1), sourceId: 'through-pooler' });
        assert.is((await getUserBalance(opened.db, world.userId)).toFixed(), '4');
        assert.ok((await checkLedger(opened.db)).ok);
      } finally {
        await opened.close();
      }
    } finally {
      await bouncer.stop();
      await app.close();
    }
  });
}

test.run();
