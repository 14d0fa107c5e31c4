/*
 * checkLedger and rebuildCheckpoints on spend checkpoints: the lifetime total against every usage
 * row of the scope, a capped window against the usage dated from its start, exact differences,
 * and a rebuild through the same row (and guard) as the balances.
 */
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkLedger,
  createApiKey,
  type Database,
  Decimal,
  getSpendCheckpoint,
  rebuildCheckpoints,
  recordUsage,
  setApiKeySpendCap,
} from '../src/index.ts';
import {
  addTestCredits,
  bypassLedgerGuard,
  createTestApiKey,
  createTestUser,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('spend integrity');

/** Three scopes: a capped root with a child, an uncapped key, each with some usage. */
async function scopes(db: Database) {
  const user = await createTestUser(db);
  await addTestCredits(db, user.id, '100');
  const { key: capped } = await createTestApiKey(db, user.id);
  const child = await createApiKey(db, {
    userId: user.id,
    createdBy: user.id,
    name: 'c',
    purpose: 'batch',
    hidden: true,
    parentApiKeyId: capped.id,
  });
  await setApiKeySpendCap(db, capped.id, { limit: new Decimal(10), interval: 'daily' });
  const { key: uncapped } = await createTestApiKey(db, user.id);
  for (const [keyId, amount] of [
    [capped.id, '1.5'],
    [child.key.id, '0.000000000000001'],
    [uncapped.id, '2'],
  ] as const) {
    await recordUsage(db, { apiKeyId: keyId, amount: new Decimal(amount), sourceId: `${keyId}-${amount}` });
  }
  return { capped: capped.id, uncapped: uncapped.id };
}

test('find nothing to report when every spend checkpoint equals its ledger sums', () =>
  withTestDatabase(async (db) => {
    await scopes(db);
    const check = await checkLedger(db);
    assert.ok(check.ok);
    assert.is(check.scopesChecked, 2);
    assert.equal(check.spendDrift, []);
  }));

test('list each scope whose total or window was moved behind the ledger, with exact differences', () =>
  withTestDatabase(async (db) => {
    const { capped, uncapped } = await scopes(db);
    await bypassLedgerGuard(
      db,
      sql`update api_key_spend_checkpoints set window_spend = 0, total_spend = 0.5 where api_key_id = ${capped}`,
      sql`delete from api_key_spend_checkpoints where api_key_id = ${uncapped}`,
    );
    const check = await checkLedger(db);
    assert.not.ok(check.ok);
    assert.equal(check.drift, [], 'balances untouched');
    const byKey = new Map(check.spendDrift.map((d) => [d.apiKeyId, d]));
    const cappedDrift = byKey.get(capped);
    assert.equal(
      [cappedDrift?.totalDifference.toFixed(), cappedDrift?.windowDifference?.toFixed(), cappedDrift?.capped],
      ['1.000000000000001', '1.500000000000001', true],
    );
    const uncappedDrift = byKey.get(uncapped);
    assert.equal(
      [uncappedDrift?.hasCheckpoint, uncappedDrift?.totalDifference.toFixed(), uncappedDrift?.windowDifference],
      [false, '2', null],
    );
  }));

test('report a window start ahead of the clock, which would keep today out of the window', () =>
  withTestDatabase(async (db) => {
    const { capped } = await scopes(db);
    await bypassLedgerGuard(
      db,
      sql`update api_key_spend_checkpoints set window_started_at = now() + interval '2 days', window_spend = 0
          where api_key_id = ${capped}`,
    );
    const check = await checkLedger(db);
    assert.equal(
      check.spendDrift.map((d) => d.apiKeyId),
      [capped],
    );
    const rebuild = await rebuildCheckpoints(db);
    assert.equal(
      rebuild.spendRepaired.map((d) => d.apiKeyId),
      [capped],
    );
    const after = await getSpendCheckpoint(db, capped);
    assert.ok(after && after.windowStartedAt.getTime() <= Date.now(), 'the start fell back to the clock');
    assert.is(after?.windowSpend.toFixed(), '1.500000000000001');
  }));

test('rebuild spend and balances in one recorded rebuild, and leave nothing to repair', () =>
  withTestDatabase(async (db) => {
    const { capped, uncapped } = await scopes(db);
    const before = await getSpendCheckpoint(db, capped);
    await bypassLedgerGuard(
      db,
      sql`update api_key_spend_checkpoints set window_spend = 99, total_spend = 99`,
      sql`update user_balance_checkpoints set balance = 0`,
    );
    const rebuild = await rebuildCheckpoints(db);
    assert.is(rebuild.repaired.length, 1);
    assert.equal(rebuild.spendRepaired.map((d) => d.apiKeyId).sort(), [capped, uncapped].sort());
    assert.equal([rebuild.spendCheckpoints, rebuild.spendCheckpointsRewritten], [2, 2]);
    const after = await getSpendCheckpoint(db, capped);
    assert.equal(
      [after?.totalSpend.toFixed(), after?.windowSpend.toFixed()],
      ['1.500000000000001', '1.500000000000001'],
    );
    assert.is(after?.windowStartedAt.toISOString(), before?.windowStartedAt.toISOString(), 'the start is kept');
    assert.is((await getSpendCheckpoint(db, uncapped))?.totalSpend.toFixed(), '2');
    assert.ok((await checkLedger(db)).ok);
    const again = await rebuildCheckpoints(db);
    assert.equal([again.spendRepaired, again.spendCheckpointsRewritten], [[], 0]);
  }));

test.run();
