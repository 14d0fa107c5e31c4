/*
 * A property of the spend fold: whatever the order and the dates of ledger inserts (past windows,
 * the current one, a little ahead, far ahead) and of window resets, after every step a scope's
 * window spend is the ledger's usage dated from the window's start, that start only moves
 * forward and never past the clock, the lifetime total is all of the scope's usage, and so the
 * window never holds less than the usage dated in the current window. Seeded: a failure prints
 * its seed, and PROPERTY_SEED replays it.
 */
import { randomInt } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createApiKey,
  type Database,
  Decimal,
  resetApiKeySpendWindow,
  rowsOf,
  type SpendLimitInterval,
  setApiKeySpendCap,
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

const test = suite('spend window property');

/** mulberry32: small, seedable, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTE = 60_000;
const DAY = 86_400_000;

type Dated = 'past' | 'current' | 'ahead' | 'far';

function dateFor(kind: Dated, random: () => number): Date {
  const now = Date.now();
  const todayStart = Math.floor(now / DAY) * DAY;
  switch (kind) {
    case 'past':
      return new Date(now - Math.ceil(random() * 40) * DAY + Math.floor(random() * DAY));
    case 'current':
      return new Date(todayStart + Math.floor(random() * (now - todayStart)));
    case 'ahead':
      return new Date(now + Math.floor(random() * 4 * MINUTE));
    case 'far':
      return new Date(now + 6 * MINUTE + Math.floor(random() * 3 * DAY));
  }
}

interface Invariants {
  total: string;
  ledger_total: string;
  window: string;
  ledger_window: string;
  started_at: Date;
  ahead_of_clock: boolean;
  current_window_usage: string;
}

/** The checkpoint beside plain SQL sums over the ledger; the current window's start is computed independently. */
async function invariants(db: Database, rootId: string): Promise<Invariants> {
  const [row] = rowsOf<Invariants>(
    await db.execute(sql`
      with scope as (
        select t.amount, t.created_at from credits_transactions t join api_keys k on k.id = t.api_key_id
        where (k.id = ${rootId}::uuid or k.parent_api_key_id = ${rootId}::uuid) and t.transaction_type = 'usage'
      ), current_start as (
        select greatest(api_key_cap_window_start(k.spend_limit_interval, now()),
                        (select max(r.window_started_at) from api_key_spend_window_resets r where r.api_key_id = k.id)) as at
        from api_keys k where k.id = ${rootId}::uuid
      )
      select trim_scale(c.total_spend)::text as total, trim_scale((select coalesce(sum(amount), 0) from scope))::text as ledger_total,
             trim_scale(c.window_spend)::text as window,
             trim_scale((select coalesce(sum(amount), 0) from scope where created_at >= c.window_started_at))::text as ledger_window,
             c.window_started_at as started_at, c.window_started_at > clock_timestamp() as ahead_of_clock,
             (select coalesce(sum(amount), 0) from scope, current_start where created_at >= current_start.at)::text
               as current_window_usage
      from api_key_spend_checkpoints c where c.api_key_id = ${rootId}::uuid`),
  );
  assert.ok(row, 'checkpoint');
  return { ...row, started_at: new Date(row.started_at) };
}

async function runScope(db: Database, random: () => number, interval: SpendLimitInterval | null, label: string) {
  const user = await createTestUser(db);
  await addTestCredits(db, user.id, '1000000');
  const { key: root } = await createTestApiKey(db, user.id, 'realtime');
  const child = await createApiKey(db, {
    userId: user.id,
    createdBy: user.id,
    name: 'child',
    purpose: 'batch',
    hidden: true,
    parentApiKeyId: root.id,
  });
  await setApiKeySpendCap(db, root.id, { limit: new Decimal('1000'), interval });
  // A window begun weeks ago, so rows of past windows land in it, in older ones, or roll it.
  await startSpendWindowAt(db, root.id, new Date(Date.now() - 45 * DAY));
  let previous = (await invariants(db, root.id)).started_at;
  const kinds: Dated[] = ['past', 'current', 'ahead', 'far'];
  for (let step = 0; step < 30; step += 1) {
    const where = `${label} step ${step}`;
    if (random() < 0.15) {
      const at = random() < 0.5 ? dateFor('past', random) : dateFor(random() < 0.5 ? 'current' : 'ahead', random);
      await resetApiKeySpendWindow(db, random() < 0.5 ? root.id : child.key.id, at);
    } else {
      const rows = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        keyId: random() < 0.5 ? root.id : child.key.id,
        amount: `${1 + Math.floor(random() * 900)}.${String(Math.floor(random() * 1e6)).padStart(6, '0')}`,
        kind: kinds[Math.floor(random() * (random() < 0.85 ? 3 : 4))] ?? 'current',
      }));
      const values: SQL[] = rows.map(
        (r) => sql`(${user.id}::uuid, 'usage', ${r.amount}::numeric, ${`p-${randomInt(1e12)}`}, ${r.keyId}::uuid,
                    ${dateFor(r.kind, random).toISOString()}::timestamptz)`,
      );
      const insert = () =>
        db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id, api_key_id, created_at)
                       values ${sql.join(values, sql`, `)}`);
      if (rows.some((r) => r.kind === 'far')) {
        assert.is(sqlState(await rejection(insert)), '23514', `${where}: a row far ahead is refused`);
      } else {
        await insert();
      }
    }
    const now = await invariants(db, root.id);
    assert.is(now.total, now.ledger_total, `${where}: lifetime total`);
    assert.is(now.window, now.ledger_window, `${where}: window spend is the usage dated from its start`);
    assert.ok(now.started_at >= previous, `${where}: the start moved back from ${previous.toISOString()}`);
    assert.not.ok(now.ahead_of_clock, `${where}: the start is ahead of the clock`);
    assert.ok(
      new Decimal(now.window).gte(now.current_window_usage),
      `${where}: window ${now.window} below the current window's usage ${now.current_window_usage}`,
    );
    previous = now.started_at;
  }
}

test('keep every window exact against the ledger, whatever the dates and order of inserts and resets', () =>
  withTestDatabase(async (db) => {
    const seed = Number(process.env.PROPERTY_SEED ?? randomInt(2 ** 31));
    const random = prng(seed);
    try {
      for (const [i, interval] of (['daily', 'weekly', 'monthly', null, 'daily'] as const).entries()) {
        await runScope(db, random, interval, `scope ${i} (${interval ?? 'one-off'})`);
      }
    } catch (error) {
      console.error(`spend window property failed with PROPERTY_SEED=${seed}`);
      throw error;
    }
  }));

test.run();
