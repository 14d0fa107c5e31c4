/*
 * Spend recording: usage folds into the cap scope's checkpoint in the statement that inserts the
 * ledger row, exactly, under concurrency, and rolls its window at calendar boundaries (the
 * timestamps are given, never waited for).
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createApiKey,
  type Database,
  getSpendCheckpoint,
  getUserBalance,
  recordUsage,
  resetApiKeySpendWindow,
  type SpendLimitInterval,
  SYSTEM_USER_ID,
  setApiKeySpendCap,
  UnknownApiKeyError,
} from '../src/index.ts';
import { addTestCredits, createTestApiKey, createTestUser, rejection, withTestDatabase } from '../src/testing/index.ts';

const test = suite('spend');

/** A user with credits, a key capped at `limit` per `interval`, and its hidden batch child. */
async function cappedScope(db: Database, limit = '100', interval: SpendLimitInterval | null = null) {
  const user = await createTestUser(db);
  await addTestCredits(db, user.id, '1000');
  const root = await createTestApiKey(db, user.id, 'realtime');
  await setApiKeySpendCap(db, root.key.id, { limit: new Decimal(limit), interval });
  const child = await createApiKey(db, {
    userId: user.id,
    createdBy: user.id,
    name: 'child',
    purpose: 'batch',
    hidden: true,
    parentApiKeyId: root.key.id,
  });
  return { user, root: root.key, child: child.key };
}

const usage = (db: Database, apiKeyId: string, amount: string, at?: string) =>
  recordUsage(db, { apiKeyId, amount: new Decimal(amount), sourceId: randomUUID(), ...(at && { at: new Date(at) }) });

async function checkpoint(db: Database, rootId: string) {
  const row = await getSpendCheckpoint(db, rootId);
  assert.ok(row, 'checkpoint');
  return { total: row.totalSpend.toFixed(), window: row.windowSpend.toFixed(), startedAt: row.windowStartedAt };
}

test('fold usage into the capped scope and the balance in the statement that records it', () =>
  withTestDatabase(async (db) => {
    const { user, root, child } = await cappedScope(db);
    await usage(db, root.id, '1.25');
    await usage(db, child.id, '0.000000000000001');
    assert.equal(await checkpoint(db, root.id).then(({ total, window }) => ({ total, window })), {
      total: '1.250000000000001',
      window: '1.250000000000001',
    });
    assert.is((await getUserBalance(db, user.id)).toFixed(), '998.749999999999999');
    assert.is(await getSpendCheckpoint(db, child.id), null, 'a child has no checkpoint of its own');
  }));

test('fold a plain SQL insert too, but only usage rows of capped scopes and never the system user', () =>
  withTestDatabase(async (db) => {
    const { user, root } = await cappedScope(db);
    const uncapped = await createTestApiKey(db, user.id, 'realtime');
    const system = await createApiKey(db, {
      userId: SYSTEM_USER_ID,
      createdBy: SYSTEM_USER_ID,
      name: 's',
      purpose: 'platform',
    });
    await setApiKeySpendCap(db, system.key.id, { limit: new Decimal(1), interval: null });
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id, api_key_id)
      values (${user.id}, 'usage', 2, 'sql-1', ${root.id}),
             (${user.id}, 'admin_removal', 3, 'sql-2', ${root.id}),
             (${user.id}, 'usage', 4, 'sql-3', ${uncapped.key.id}),
             (${user.id}, 'usage', 5, 'sql-4', null),
             (${SYSTEM_USER_ID}, 'usage', 6, 'sql-5', ${system.key.id})`);
    const { total, window } = await checkpoint(db, root.id);
    assert.equal({ total, window }, { total: '2', window: '2' });
    assert.is(await getSpendCheckpoint(db, uncapped.key.id), null);
    assert.is((await checkpoint(db, system.key.id)).total, '0');
  }));

test('charge a replayed source id once, and refuse one with different content', () =>
  withTestDatabase(async (db) => {
    const { root } = await cappedScope(db);
    const input = { apiKeyId: root.id, amount: new Decimal('3'), sourceId: 'req-1' };
    assert.ok((await recordUsage(db, input)).created);
    assert.not.ok((await recordUsage(db, input)).created);
    assert.is((await checkpoint(db, root.id)).window, '3');
    await rejection(() => recordUsage(db, { ...input, amount: new Decimal('4') }));
    assert.instance(await rejection(() => usage(db, randomUUID(), '1')), UnknownApiKeyError);
  }));

test('lose no update with concurrent writers on the root and the child of one scope', () =>
  withTestDatabase(
    async (db) => {
      const { user, root, child } = await cappedScope(db, '1000000', 'daily');
      const writes = Array.from({ length: 200 }, (_, i) =>
        usage(db, i % 2 === 0 ? root.id : child.id, `0.${String(i + 1).padStart(15, '0')}`),
      );
      await Promise.all(writes);
      // 1e-15 × (1 + 2 + … + 200) = 20100e-15
      const { total, window } = await checkpoint(db, root.id);
      assert.equal({ total, window }, { total: '0.0000000000201', window: '0.0000000000201' });
      assert.is((await getUserBalance(db, user.id)).toFixed(), '999.9999999999799');
    },
    { poolSize: 16 },
  ));

test('roll a daily window at the first usage at or after UTC midnight, exactly at the boundary', () =>
  withTestDatabase(async (db) => {
    const { root, child } = await cappedScope(db, '10', 'daily');
    await resetApiKeySpendWindow(db, root.id, new Date('2026-11-27T08:00:00Z'));
    await usage(db, root.id, '4', '2026-11-27T12:00:00Z');
    await usage(db, child.id, '5', '2026-11-27T23:59:59.999999Z');
    assert.is((await checkpoint(db, root.id)).window, '9');
    await usage(db, child.id, '2', '2026-11-28T00:00:00Z');
    let state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['11', '2']);
    assert.is(state.startedAt.toISOString(), '2026-11-28T00:00:00.000Z');
    // A late row of the old window counts toward the total only.
    await usage(db, root.id, '7', '2026-11-27T23:00:00Z');
    state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['18', '2']);
  }));

test('roll weekly windows on Monday and monthly ones on the 1st, whatever the session time zone', () =>
  withTestDatabase(async (db) => {
    await db.execute(sql`set timezone = 'Pacific/Kiritimati'`);
    const weekly = await cappedScope(db, '10', 'weekly');
    await resetApiKeySpendWindow(db, weekly.root.id, new Date('2026-11-23T00:00:00Z')); // a Monday
    await usage(db, weekly.root.id, '1', '2026-11-29T23:59:59.999999Z'); // Sunday
    assert.is((await checkpoint(db, weekly.root.id)).window, '1');
    await usage(db, weekly.root.id, '2', '2026-11-30T00:00:00Z'); // Monday
    assert.is((await checkpoint(db, weekly.root.id)).window, '2');

    const monthly = await cappedScope(db, '10', 'monthly');
    await resetApiKeySpendWindow(db, monthly.root.id, new Date('2027-01-01T00:00:00Z'));
    await usage(db, monthly.root.id, '3', '2027-01-31T23:59:59.999999Z');
    await usage(db, monthly.root.id, '4', '2027-02-01T00:00:00Z');
    assert.is((await checkpoint(db, monthly.root.id)).window, '4');
  }));

test('count only the newest window of a statement whose rows straddle a boundary', () =>
  withTestDatabase(async (db) => {
    const { user, root, child } = await cappedScope(db, '10', 'daily');
    await resetApiKeySpendWindow(db, root.id, new Date('2026-11-27T00:00:00Z'));
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id, api_key_id, created_at)
      values (${user.id}, 'usage', 1, 'b-1', ${root.id}, '2026-11-27T23:59:59Z'),
             (${user.id}, 'usage', 2, 'b-2', ${child.id}, '2026-11-28T00:00:00Z'),
             (${user.id}, 'usage', 3, 'b-3', ${root.id}, '2026-11-28T00:00:01Z')`);
    const state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['6', '5']);
    assert.is(state.startedAt.toISOString(), '2026-11-28T00:00:00.000Z');
  }));

test('keep a one-off window forever, and stop folding once the cap is removed', () =>
  withTestDatabase(async (db) => {
    const { root } = await cappedScope(db, '10', null);
    await usage(db, root.id, '1', '2020-01-01T00:00:00Z');
    await usage(db, root.id, '2', '2030-06-15T00:00:00Z');
    assert.is((await checkpoint(db, root.id)).window, '3');
    await db.execute(sql`update api_keys set spend_limit = null where id = ${root.id}`);
    await usage(db, root.id, '5');
    assert.is((await checkpoint(db, root.id)).total, '3');
  }));

test('answer the window functions for an instant given explicitly', () =>
  withTestDatabase(async (db) => {
    const row = await db.execute(sql`select
      api_key_cap_window_current('2026-11-27T00:00:00Z', 'daily', '2026-11-27T23:59:59.999999Z') as same_day,
      api_key_cap_window_current('2026-11-27T00:00:00Z', 'daily', '2026-11-28T00:00:00Z') as next_day,
      api_key_cap_window_current(null, null, now()) as no_checkpoint,
      api_key_cap_window_current('2000-01-01T00:00:00Z', null) as one_off,
      to_char(api_key_cap_window_resets_at('weekly', '2026-11-29T12:00:00Z') at time zone 'utc', 'YYYY-MM-DD HH24:MI') as weekly,
      to_char(api_key_cap_window_resets_at('monthly', '2026-12-31T23:00:00Z') at time zone 'utc', 'YYYY-MM-DD HH24:MI') as monthly,
      api_key_cap_window_resets_at(null) is null as one_off_resets`);
    assert.equal((row as { rows: unknown[] }).rows[0], {
      same_day: true,
      next_day: false,
      no_checkpoint: false,
      one_off: true,
      weekly: '2026-11-30 00:00',
      monthly: '2027-01-01 00:00',
      one_off_resets: true,
    });
  }));

test('refuse caps the schema cannot hold', () =>
  withTestDatabase(async (db) => {
    const { root, child } = await cappedScope(db);
    for (const limit of ['0', '-1', '1e-16']) {
      await rejection(() => setApiKeySpendCap(db, root.id, { limit: new Decimal(limit), interval: null }));
    }
    await rejection(() => setApiKeySpendCap(db, root.id, { limit: new Decimal(1), interval: 'hourly' as 'daily' }));
    await rejection(() => setApiKeySpendCap(db, child.id, { limit: new Decimal(1), interval: null }));
    await rejection(() =>
      db.execute(sql`update api_keys set spend_limit_interval = 'daily', spend_limit = null where id = ${root.id}`),
    );
  }));

test.run();
