/*
 * `ledger check` and `ledger rebuild` on spend checkpoints as well as balances, with amounts at
 * the edges of numeric(38,15) printed to the last digit, and `keys cap --reset-window` re-arming
 * a key for the router. Each command runs in a fresh process against a real Postgres.
 */
import { Decimal, openDatabase, recordUsage } from '@control-layer/db';
import { bypassLedgerGuard, listenNotifications } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOnce, cliWith, emptyDatabase } from './run-cli.ts';

const test = suite('control-layer ledger on spend');

buildOnce();
const database = await emptyDatabase();
const { cli, json } = cliWith({ DATABASE_URL: database.url });
const { db, close } = await openDatabase(database.url, { poolSize: 2 });

test.after(async () => {
  await close().catch(() => {});
  await database?.close();
});

const HUGE = '12345678901234567890123.000000000000001';
let keyId = '';

interface SpendDriftJson {
  apiKeyId: string;
  totalDifference: string;
  windowDifference: string | null;
  ledgerWindow: string | null;
}

test('keys cap --reset-window restarts the window and tells the router once', async () => {
  await json(['migrate']);
  await json(['users', 'create', 'fay']);
  keyId = (await json<{ id: string }>(['keys', 'create', 'fay'])).id;
  await json(['keys', 'cap', keyId, '10', '--interval', 'daily']);
  await recordUsage(db, { apiKeyId: keyId, amount: new Decimal(4), sourceId: 'before-reset' });
  const listener = await listenNotifications(database.url, 'auth_config_changed');
  try {
    await json(['keys', 'cap', keyId, '10', '--interval', 'daily', '--reset-window']);
    await listener.waitFor('api_key_spend_cap_rearm:');
    await db.execute(sql`select pg_notify('auth_config_changed', 'marker')`);
    await listener.waitFor('marker');
    assert.is(listener.matching('api_key_spend_cap_rearm:').length, 1);
  } finally {
    await listener.close();
  }
  const shown = await json<{ windowSpend: string }>(['keys', 'cap', keyId, '10', '--interval', 'daily']);
  assert.is(shown.windowSpend, '0');
});

test('ledger check reports spend and balance drift at the range edges exactly, and exits 1', async () => {
  await json(['users', 'create', 'gus']);
  await json(['credits', 'grant', 'gus', '12345678901.000000000000001']);
  await recordUsage(db, { apiKeyId: keyId, amount: new Decimal(HUGE), sourceId: 'huge' });
  assert.is((await json<{ ok: boolean }>(['ledger', 'check'])).ok, true);
  // A superuser (the test cluster's role) moving both checkpoints around the ledger.
  await bypassLedgerGuard(
    db,
    sql`update api_key_spend_checkpoints set window_spend = 0.5, total_spend = 0.000000000000001 where api_key_id = ${keyId}`,
    sql`update user_balance_checkpoints set balance = 0.5 where user_id = (select id from users where username = 'gus')`,
  );
  const drifted = await cli(['ledger', 'check', '--json']);
  assert.is(drifted.code, 1, drifted.stderr);
  const report = JSON.parse(drifted.stdout) as {
    ok: boolean;
    drift: { difference: string }[];
    spendDrift: SpendDriftJson[];
  };
  assert.is(report.ok, false);
  // Reported as 12345678900.5 at decimal.js's default 20 significant digits.
  assert.is(report.drift[0]?.difference, '12345678900.500000000000001');
  assert.equal(report.spendDrift, [
    {
      ...report.spendDrift[0],
      apiKeyId: keyId,
      totalDifference: '12345678901234567890127',
      ledgerWindow: HUGE,
      windowDifference: '12345678901234567890122.500000000000001',
    },
  ]);
  const readable = await cli(['ledger', 'check']);
  assert.is(readable.code, 1);
  assert.match(readable.stdout, /1 of 1 spend checkpoint differ from the ledger/);
  for (const exact of ['12345678901234567890122.500000000000001', '12345678900.500000000000001']) {
    assert.ok(readable.stdout.includes(exact), readable.stdout);
  }
});

test('ledger rebuild repairs spend and balances from the ledger, and the check is clean again', async () => {
  const rebuild = await json<{ repaired: unknown[]; spendRepaired: SpendDriftJson[]; spendCheckpoints: number }>([
    'ledger',
    'rebuild',
  ]);
  assert.is(rebuild.repaired.length, 1);
  assert.equal(
    rebuild.spendRepaired.map((d) => d.apiKeyId),
    [keyId],
  );
  assert.is(rebuild.spendCheckpoints, 1);
  const check = await cli(['ledger', 'check']);
  assert.is(check.code, 0, check.stdout);
  assert.match(check.stdout, /ledger ok: 2 balances and 1 spend checkpoint equal their ledger sums/);
  const shown = await json<{ windowSpend: string }>(['keys', 'cap', keyId, '10', '--interval', 'daily']);
  assert.is(shown.windowSpend, HUGE);
});

test.run();
