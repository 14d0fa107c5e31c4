/*
 * Spend recording: usage folds into the cap scope's checkpoint in the statement that inserts the
 * ledger row, exactly, under concurrency, and rolls its window at calendar boundaries (the
 * timestamps are given, never waited for: windows in the past, started there behind the guard).
 */
import { randomUUID } from 'node:crypto';

import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createApiKey,
  type Database,
  Decimal,
  getSpendCheckpoint,
  getUserBalance,
  recordUsage,
  resetApiKeySpendWindow,
  type SpendLimitInterval,
  SYSTEM_USER_ID,
  setApiKeySpendCap,
  UnknownApiKeyError,
} from '../src/index.ts';
import {
  addTestCredits,
  createTestApiKey,
  createTestUser,
  rejection,
  sqlState,
  startSpendWindowAt,
  withTestDatabase,
} from '../src/testing/index.ts';

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

const usage = (db: Database, apiKeyId: string, amount: string, when?: string | Date) =>
  recordUsage(db, {
    apiKeyId,
    amount: new Decimal(amount),
    sourceId: randomUUID(),
    ...(when && { at: new Date(when) }),
  });

/** UTC midnight `days` days from today's: windows are tested in the past, where the clock allows them. */
function utcMidnight(days: number): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days));
}

/** `day` at a UTC wall-clock time, plus `extraMs`. */
function at(day: Date, time: string, extraMs = 0): Date {
  return new Date(Date.parse(`${day.toISOString().slice(0, 10)}T${time}Z`) + extraMs);
}

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

test('fold a plain SQL insert too: every keyed usage row into its total, capped scopes into their window, never the system user', () =>
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
    assert.is((await checkpoint(db, uncapped.key.id)).total, '4');
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
    const day = utcMidnight(-5);
    await startSpendWindowAt(db, root.id, at(day, '08:00'));
    await usage(db, root.id, '4', at(day, '12:00'));
    await usage(db, child.id, '5', at(day, '23:59:59.999'));
    // Before the window's start (a reset at 08:00): the total only.
    await usage(db, child.id, '1', at(day, '07:00'));
    assert.is((await checkpoint(db, root.id)).window, '9');
    const next = utcMidnight(-4);
    await usage(db, child.id, '2', at(next, '00:00'));
    let state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['12', '2']);
    assert.is(state.startedAt.toISOString(), next.toISOString());
    // A late row of the old window counts toward the total only.
    await usage(db, root.id, '7', at(day, '23:00'));
    state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['19', '2']);
  }));

test('roll weekly windows on Monday and monthly ones on the 1st, whatever the session time zone', () =>
  withTestDatabase(async (db) => {
    await db.execute(sql`set timezone = 'Pacific/Kiritimati'`);
    const weekly = await cappedScope(db, '10', 'weekly');
    const today = utcMidnight(0);
    const monday = utcMidnight(-((today.getUTCDay() + 6) % 7) - 14);
    await startSpendWindowAt(db, weekly.root.id, monday);
    await usage(db, weekly.root.id, '1', at(monday, '00:00', 6 * 86_400_000 + 86_399_999)); // Sunday
    assert.is((await checkpoint(db, weekly.root.id)).window, '1');
    await usage(db, weekly.root.id, '2', at(monday, '00:00', 7 * 86_400_000)); // Monday
    assert.is((await checkpoint(db, weekly.root.id)).window, '2');

    const monthly = await cappedScope(db, '10', 'monthly');
    const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 2, 1));
    const nextFirst = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
    await startSpendWindowAt(db, monthly.root.id, first);
    await usage(db, monthly.root.id, '3', new Date(nextFirst.getTime() - 1));
    await usage(db, monthly.root.id, '4', nextFirst);
    assert.is((await checkpoint(db, monthly.root.id)).window, '4');
  }));

test('count only the newest window of a statement whose rows straddle a boundary', () =>
  withTestDatabase(async (db) => {
    const { user, root, child } = await cappedScope(db, '10', 'daily');
    const day = utcMidnight(-3);
    const next = utcMidnight(-2);
    await startSpendWindowAt(db, root.id, day);
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id, api_key_id, created_at)
      values (${user.id}, 'usage', 1, 'b-1', ${root.id}, ${at(day, '23:59:59').toISOString()}),
             (${user.id}, 'usage', 2, 'b-2', ${child.id}, ${next.toISOString()}),
             (${user.id}, 'usage', 3, 'b-3', ${root.id}, ${at(next, '00:00:01').toISOString()})`);
    const state = await checkpoint(db, root.id);
    assert.equal([state.total, state.window], ['6', '5']);
    assert.is(state.startedAt.toISOString(), next.toISOString());
  }));

test('start a one-off window at the cap, and keep the total after the cap is removed', () =>
  withTestDatabase(async (db) => {
    const { root } = await cappedScope(db, '10', null);
    await usage(db, root.id, '1', '2020-01-01T00:00:00Z');
    await usage(db, root.id, '2');
    assert.equal(await checkpoint(db, root.id).then(({ total, window }) => [total, window]), ['3', '2']);
    await db.execute(sql`update api_keys set spend_limit = null where id = ${root.id}`);
    await usage(db, root.id, '5');
    assert.equal(await checkpoint(db, root.id).then(({ total, window }) => [total, window]), ['8', '2']);
  }));

test('refuse a row dated beyond the clock skew, writing nothing, and keep counting today after one within it', () =>
  withTestDatabase(async (db) => {
    const { user, root } = await cappedScope(db, '10', 'daily');
    await usage(db, root.id, '1');
    // The $10 daily cap that let $28 through: one cent dated tomorrow.
    const refused = await rejection(() => usage(db, root.id, '0.01', new Date(Date.now() + 86_400_000)));
    assert.is(sqlState(refused), '23514');
    assert.match(String((refused as Error).cause ?? refused), /more than 00:05:00 ahead of the database clock/);
    assert.is((await getUserBalance(db, user.id)).toFixed(), '999');
    assert.equal(await checkpoint(db, root.id).then(({ total, window }) => [total, window]), ['1', '1']);
    await usage(db, root.id, '2', new Date(Date.now() + 4 * 60_000));
    for (let i = 0; i < 3; i += 1) await usage(db, root.id, '9');
    assert.equal(await checkpoint(db, root.id).then(({ total, window }) => [total, window]), ['30', '30']);
    // A reset dated ahead within the skew starts the window at the clock, not after it.
    await resetApiKeySpendWindow(db, root.id, new Date(Date.now() + 4 * 60_000));
    const reset = await checkpoint(db, root.id);
    assert.ok(reset.startedAt.getTime() <= Date.now() + 1000, reset.startedAt.toISOString());
    assert.is(reset.window, '2', 'the row dated 4 minutes ahead is in the new window');
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
